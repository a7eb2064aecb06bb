"""Names: one rule for company and segment keys (NFC, spacing, case, '·' with or without spaces) everywhere."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

import digest.selection as selection_mod
import subscribers.follows as follows_mod
from digest import names
from digest.ingest import ingest_files
from digest.models import Segment
from digest.names import (
    SEGMENT_SEPARATOR,
    alias_key,
    company_key,
    segment_ancestors,
    segment_key,
    segment_name,
    segment_parts,
    split_segment,
)
from digest.queries import load_articles
from digest.selection import select as select_for
from subscribers.follows import reader_for, resolve_segment
from subscribers.records import add_subscriber

from selection_helpers import END, art, reader
from subscribers_helpers import catalog_session, engine, session, _pg_database, _sqlite_template  # noqa: F401

CAFE_NFC = "Caf\u00e9 AI"
CAFE_NFD = "Cafe\u0301 AI"

names_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


# -- the keys ------------------------------------------------------------------------------------


def test_company_names_compare_in_nfc_casefolded_with_single_spaces():
    assert company_key(CAFE_NFD) == company_key(CAFE_NFC) == company_key("  CAFÉ   ai ") == "café ai"
    assert company_key("Straße") == company_key("STRASSE")
    assert company_key("OpenAI") != company_key("Open AI")


@given(names_text)
def test_company_key_is_the_key_company_aliases_are_stored_under(name):
    # CompanyAlias rows written before keys were unified must keep matching: same formula, any text.
    assert alias_key(name) == company_key(name) == " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def test_a_segment_written_without_spaces_around_the_dot_is_the_same_segment():
    spaced = segment_key("Foundation Models · Case Studies")
    assert segment_key("Foundation Models·Case Studies") == spaced
    assert segment_key(" foundation  models ·case studies ") == spaced
    assert spaced == "foundation models · case studies"
    assert segment_key("Foundation Models") != spaced


def test_segment_keys_are_nfc_like_company_keys():
    assert segment_key(f"{CAFE_NFD}·Chips") == segment_key(f"{CAFE_NFC} · chips")


def test_segment_ancestors_are_the_keys_of_every_level_top_first():
    assert segment_ancestors("A·B · C") == ["a", "a · b", "a · b · c"]
    assert segment_ancestors("Data & IP") == ["data & ip"]


@given(names_text)
def test_the_stored_spelling_of_a_segment_has_the_key_of_any_spelling(raw):
    stored = segment_name(segment_parts(raw))
    assert segment_key(stored) == segment_key(raw)
    assert segment_ancestors(raw)[-1] == segment_key(raw)


def test_segment_parts_and_name_give_the_spelling_ingest_stores():
    assert segment_parts("Foundation Models·Case Studies ") == ["Foundation Models", "Case Studies"]
    assert segment_name(["Foundation Models", "Case Studies"]) == "Foundation Models · Case Studies"
    assert segment_parts("A ·· B") == ["A", "", "B"]  # kept, so that ingest can refuse the empty part


def test_a_stored_segment_splits_into_its_parent_and_its_own_label():
    assert split_segment("A · B · C") == ("A · B", "C")
    assert split_segment("Data & IP") == (None, "Data & IP")


def test_selection_and_follows_use_the_one_definition_of_keys_and_separator():
    assert selection_mod.SEGMENT_SEPARATOR is names.SEGMENT_SEPARATOR == SEGMENT_SEPARATOR == " · "
    assert selection_mod.company_key is names.company_key and selection_mod.segment_key is names.segment_key
    assert follows_mod.company_key is names.company_key and follows_mod.segment_key is names.segment_key


# -- every stage agrees --------------------------------------------------------------------------


def test_selection_matches_a_segment_followed_without_spaces_around_the_dot():
    articles = [art(1, companies=(), segments=("Foundation Models · Case Studies",))]
    chosen = select_for(articles, reader(segments={"foundation models·case studies"}), end=END, watermark=None)
    assert [c.article.id for c in chosen.choices] == [1]


def test_selection_matches_a_company_followed_in_decomposed_unicode():
    articles = [art(1, companies=(CAFE_NFC,)), art(2, companies=("xAI",))]
    chosen = select_for(articles, reader(companies={CAFE_NFD}), end=END, watermark=None)
    assert [c.article.id for c in chosen.choices] == [1]


def test_a_child_followed_without_spaces_is_found_by_follows(catalog_session):
    assert resolve_segment(catalog_session, "Foundation Models·Open Debates").name == "Foundation Models · Open Debates"


def test_ingest_follows_and_selection_agree_on_unspaced_segments_and_decomposed_names(engine, tmp_path):
    published = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    record = {
        "url": "https://amw.example/news/cafe-ai", "title": "Café AI ships a chip", "summary": "",
        "published_at": published.isoformat(), "category": "Technology", "region": "FR", "read_minutes": 2,
        "companies": [CAFE_NFC], "segments": ["Semiconductors·Edge Chips"], "tags": [],
        "scores": {"novelty": {"score": 2, "note": ""}, "significance": {"score": 2, "note": ""}},
    }
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    with Session(engine) as session:
        assert ingest_files(session, [path]).stored == 1
        stored = {s.name: s for s in session.exec(select(Segment))}
        assert set(stored) == {"Semiconductors", "Semiconductors · Edge Chips"}
        assert stored["Semiconductors · Edge Chips"].parent_id == stored["Semiconductors"].id
        by_company = add_subscriber(session, email="ana@example.com", companies=[CAFE_NFD.upper()])
        by_child = add_subscriber(session, email="bo@example.com", segments=["semiconductors ·edge chips"])
        by_parent = add_subscriber(session, email="cy@example.com", segments=["SEMICONDUCTORS"])
        session.commit()
        end = published + timedelta(days=2)
        articles = load_articles(session, end - timedelta(days=7), end)
        for subscriber in (by_company, by_child, by_parent):
            chosen = select_for(articles, reader_for(session, subscriber), end=end, watermark=None)
            assert [c.article.url for c in chosen.choices] == [record["url"]], subscriber.email
