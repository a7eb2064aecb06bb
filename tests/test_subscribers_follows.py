"""Follows: companies by name or alias, segments by full name with parents covering children."""

from __future__ import annotations

import pytest
from sqlmodel import select

from digest.errors import InputError, NotFound
from digest.models import Follow, Segment
from subscribers.follows import add_alias, follow, reader_for, readers_for, resolve_company, resolve_segment, unfollow
from subscribers.records import add_subscriber

from subscribers_helpers import catalog_session, engine, session, _pg_database, _sqlite_template  # noqa: F401


def test_company_is_found_by_name_or_alias_in_any_case(catalog_session):
    assert resolve_company(catalog_session, "openai").name == "OpenAI"
    assert resolve_company(catalog_session, "  XAI ").name == "xAI"
    assert resolve_company(catalog_session, "바이트댄스").name == "ByteDance"


def test_added_alias_makes_two_names_one_company(catalog_session):
    add_alias(catalog_session, "anthropic", "앤트로픽")
    assert resolve_company(catalog_session, "앤트로픽").id == resolve_company(catalog_session, "Anthropic").id


def test_alias_already_naming_another_company_is_refused(catalog_session):
    with pytest.raises(InputError):
        add_alias(catalog_session, "OpenAI", "ByteDance")


def test_unknown_company_is_rejected_with_the_closest_known_names(catalog_session):
    with pytest.raises(NotFound) as info:
        resolve_company(catalog_session, "OpenAl")
    assert info.value.suggestions == ("OpenAI",)
    assert "did you mean 'OpenAI'" in str(info.value)


def test_segment_is_found_by_full_name_in_any_case_and_spacing(catalog_session):
    assert resolve_segment(catalog_session, "foundation models·case studies").name == "Foundation Models · Case Studies"


def test_unknown_segment_is_rejected_with_the_closest_known_names(catalog_session):
    with pytest.raises(NotFound) as info:
        resolve_segment(catalog_session, "Foundation Model · Case Study")
    assert "Foundation Models · Case Studies" in info.value.suggestions


def test_a_child_label_alone_is_not_a_segment(catalog_session):
    with pytest.raises(NotFound):
        resolve_segment(catalog_session, "Case Studies")


def _matches(reader, segment: str) -> bool:
    """Whether selection picks an article in `segment` for this reader."""
    from datetime import datetime, timedelta, timezone

    from digest.selection import select
    from digest.types import ArticleData

    end = datetime(2026, 11, 23, tzinfo=timezone.utc)
    article = ArticleData(id=1, url="https://amw.example/news/x", title="t", summary="", published_at=end - timedelta(days=1),
                          category="", region="", read_minutes=1, companies=(), segments=(segment,), tags=(),
                          novelty=2, novelty_note="", significance=2, significance_note="")
    return bool(select([article], reader, end=end, watermark=None).choices)


def test_following_a_top_level_segment_follows_all_of_its_children(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com", segments=["Foundation Models"])
    reader = reader_for(catalog_session, s)
    assert reader.segments == {"Foundation Models"}
    assert _matches(reader, "Foundation Models · Case Studies") and _matches(reader, "Foundation Models · Open Debates")
    assert not _matches(reader, "Data & IP")


def test_a_child_segment_added_later_is_covered_by_the_parent_follow(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com", segments=["Foundation Models"])
    parent = resolve_segment(catalog_session, "Foundation Models")
    catalog_session.add(Segment(name="Foundation Models · Benchmarks", label="Benchmarks", parent_id=parent.id))
    catalog_session.flush()
    assert _matches(reader_for(catalog_session, s), "Foundation Models · Benchmarks")


def test_reader_carries_canonical_company_names_and_preferences(catalog_session):
    s = add_subscriber(catalog_session, email="그림@예시.kr", name="그림", companies=["바이트댄스", "xai"],
                       timezone="Asia/Seoul", send_day="thu", send_hour=7, max_articles=5, min_significance=2,
                       reading_budget=10)
    r = reader_for(catalog_session, s)
    assert r.companies == {"ByteDance", "xAI"} and r.smtputf8 is True
    assert (r.timezone, r.send_day, r.send_hour, r.max_articles, r.min_significance, r.reading_budget) == (
        "Asia/Seoul", 3, 7, 5, 2, 10)


def test_follow_and_unfollow_report_what_changed_and_repeat_harmlessly(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com", companies=["xAI"])
    assert follow(catalog_session, s, companies=["OPENAI", "xai"], segments=["Data & IP"]) == ["OpenAI", "Data & IP"]
    assert follow(catalog_session, s, companies=["OpenAI"]) == []
    assert unfollow(catalog_session, s, companies=["xAI"]) == ["xAI"]
    assert reader_for(catalog_session, s).companies == {"OpenAI"}


def test_follow_with_one_unknown_name_changes_nothing(catalog_session):
    s = add_subscriber(catalog_session, email="ana@example.com")
    with pytest.raises(NotFound):
        follow(catalog_session, s, companies=["OpenAI", "Nonexistent Corp"])
    assert catalog_session.exec(select(Follow)).all() == []


def test_bulk_readers_match_single_readers(catalog_session):
    subs = [add_subscriber(catalog_session, email=f"r{i}@example.com", companies=["xAI"] if i % 2 else ["OpenAI"],
                           segments=["Data & IP"] if i % 3 == 0 else None) for i in range(12)]
    assert readers_for(catalog_session, subs) == [reader_for(catalog_session, s) for s in subs]
