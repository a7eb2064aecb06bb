"""Issue 16, a language per reader: the setting, the CSV column, the commands and the preferences page;
an unknown language refused with a clear error, a known one without a catalog kept."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from alembic import command
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.cli.subscribers import subscribers_group
from digest.config import load_settings
from digest.db import alembic_config, make_engine, upgrade
from digest.errors import ConfigError, InputError
from digest.ingest import ingest_files
from digest.ingest.validate import validate_article
from digest.models import Subscriber
from digest.queries import load_articles
from subscribers.csvio import import_csv
from subscribers.preferences import parse_language

from subscribers_helpers import cli_obj, engine, _pg_database, _sqlite_template  # noqa: F401


@pytest.mark.parametrize(("given", "stored"), [
    ("ko", "ko"), ("KO", "ko"), ("ko_kr", "ko-KR"), (" ja-JP ", "ja-JP"), ("zh-hant", "zh-Hant"), ("fr-CA", "fr-CA"),
    ("", ""), (None, ""),
])
def test_a_language_is_stored_as_its_canonical_bcp47_tag_and_empty_means_the_default(given, stored):
    assert parse_language(given) == stored


@pytest.mark.parametrize("given", ["klingon", "xx", "ko-", "en@@", "12"])
def test_an_unknown_language_is_refused_naming_the_field_and_what_a_valid_one_looks_like(given):
    with pytest.raises(InputError) as caught:
        parse_language(given)
    assert caught.value.field == "language"
    assert "unknown language" in str(caught.value) and "BCP 47" in str(caught.value)


def test_the_default_language_setting_is_checked_like_any_other():
    assert load_settings({"DIGEST_DEFAULT_LANGUAGE": "KO"}).default_language == "ko"
    assert load_settings({}).default_language == "en"
    with pytest.raises(ConfigError, match="DIGEST_DEFAULT_LANGUAGE must be a BCP 47 language tag"):
        load_settings({"DIGEST_DEFAULT_LANGUAGE": "klingon"})


def _languages(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.language for s in session.exec(select(Subscriber))}


def test_the_csv_language_column_is_optional_and_a_bad_tag_rejects_only_its_line(engine, tmp_path):
    old = tmp_path / "old.csv"
    old.write_text("email,name,timezone\nold@example.com,Old,UTC\n", encoding="utf-8")
    new = tmp_path / "new.csv"
    new.write_text("email,name,language\nko@example.com,이서연,ko-kr\nja@example.com,佐藤,ja\n"
                   "bad@example.com,Bad,klingon\nnone@example.com,None,\n", encoding="utf-8")
    with Session(engine) as session:
        assert import_csv(session, old).ok
        report = import_csv(session, new)
        session.commit()
    assert [m.split(": ")[1:3] for m in report.messages()] == [["language", "unknown language 'klingon'; expected a "
                                                                 "BCP 47 tag such as en, ko, ja or pt-BR"]]
    assert report.messages()[0].startswith(f"{new}:4:")
    assert _languages(engine) == {"old@example.com": "", "ko@example.com": "ko-KR", "ja@example.com": "ja",
                                  "none@example.com": ""}


def test_add_set_and_show_carry_the_language_and_refuse_an_unknown_one(cli_obj, engine):
    def run(*args):
        return CliRunner().invoke(subscribers_group, list(args), obj=cli_obj, catch_exceptions=False)

    added = run("add", "seo@example.com", "--name", "이서연", "--language", "ko", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["subscriber"]["language"] == "ko"
    assert run("set", "seo@example.com", "--language", "ja-jp").exit_code == 0
    assert _languages(engine)["seo@example.com"] == "ja-JP"
    refused = run("set", "seo@example.com", "--language", "klingon")
    # exits as any invalid preference does (an unknown time zone)
    assert refused.exit_code == run("set", "seo@example.com", "--timezone", "Mars/Base").exit_code != 0
    assert "language: unknown language 'klingon'" in refused.output
    assert _languages(engine)["seo@example.com"] == "ja-JP"
    assert "  language: ja-JP" in run("show", "seo@example.com").stdout
    assert run("set", "seo@example.com", "--language", "").exit_code == 0  # back to the default
    assert _languages(engine)["seo@example.com"] == ""


# -- article text in several languages (ingest) ------------------------------------------------

def _record(**fields) -> dict:
    record = {"url": "https://amw.example/news/x", "title": "ByteDance raises capex", "summary": "It did.",
              "published_at": "2026-11-20T09:00:00Z", "companies": ["ByteDance"],
              "scores": {"novelty": {"score": 2, "note": "new"}, "significance": {"score": 3, "note": "big"}}}
    record.update(fields)
    return record


def test_a_text_field_may_be_an_object_of_language_to_text_and_old_strings_keep_working():
    plain = validate_article(_record())
    assert plain.title == "ByteDance raises capex" and plain.translations == ()
    both = validate_article(_record(title={"en": "ByteDance raises capex", "KO": "바이트댄스, 설비투자 확대"},
                                    summary={"ko": "그랬다.", "en": "It did."},
                                    scores={"novelty": {"score": 2, "note": {"en": "new", "ko": "새로움"}},
                                            "significance": {"score": 3, "note": "big"}}))
    assert both.title == "ByteDance raises capex" and both.summary == "It did."  # the columns keep English
    assert both.text("title", ("ko", "en")) == "바이트댄스, 설비투자 확대"
    assert both.text("novelty_note", ("ko",)) == "새로움" and both.text("significance_note", ("ko",)) == "big"
    assert both.text("title", ("ja", "en")) == "ByteDance raises capex"
    only = validate_article(_record(title={"ko": "바이트댄스, 설비투자 확대"}))
    assert only.title == "바이트댄스, 설비투자 확대"  # no English: the first entry is the default text


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"title": {}}, "title", "must hold at least one language"),
    ({"title": {"klingon": "x"}}, "title.klingon", "unknown language 'klingon'"),
    ({"title": {"ko": 5}}, "title.ko", "must be a string"),
    ({"title": {"ko": "  "}}, "title.ko", "must not be empty"),
    ({"summary": {"ja": "x" * 20_001}}, "summary.ja", "longer than"),
    ({"scores": {"novelty": {"score": 2, "note": {"xx": "n"}}, "significance": {"score": 1, "note": "s"}}},
     "scores.novelty.note.xx", "unknown language"),
])
def test_a_bad_language_object_is_refused_naming_the_field_and_language(fields, field, message):
    with pytest.raises(InputError) as caught:
        validate_article(_record(**fields))
    assert caught.value.field == field and message in str(caught.value)


def test_translations_are_stored_and_loaded_back_and_old_rows_have_none(engine, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(_record(title={"en": "E", "ko": "한"})) + "\n"
                    + json.dumps(_record(url="https://amw.example/news/y")) + "\n", encoding="utf-8")
    with Session(engine) as session:
        assert not ingest_files(session, [path]).rejected
        session.commit()
        loaded = {a.url: a for a in load_articles(session, datetime(2026, 1, 1, tzinfo=timezone.utc),
                                                   datetime(2027, 1, 1, tzinfo=timezone.utc))}
    assert loaded["https://amw.example/news/x"].translations == (("en", "title", "E"), ("ko", "title", "한"))
    assert loaded["https://amw.example/news/y"].translations == ()


def test_migration_0008_gives_old_readers_the_default_language_old_articles_no_translations_and_goes_down(db_url):
    cfg = alembic_config(db_url)
    command.downgrade(cfg, "0007")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO subscriber (email, email_key, name, status, timezone, send_day, send_hour, frequency, "
                "max_articles, min_significance, smtputf8, created_at, updated_at) VALUES ('old@example.com', "
                "'old@example.com', 'Old', 'active', 'UTC', 0, 8, 'weekly', 8, 1, false, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00')")
            conn.exec_driver_sql(
                "INSERT INTO article (url, title, summary, published_at, category, region, read_minutes, novelty, "
                "novelty_note, significance, significance_note, tags, related, created_at, updated_at) VALUES "
                "('https://amw.example/old', 'Old', '', '2026-01-01 00:00:00', '', '', 1, 1, '', 1, '', '[]', '[]', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')")
        upgrade(db_url)
        with Session(engine) as session:
            assert session.exec(select(Subscriber.language)).all() == [""]
            loaded = load_articles(session, datetime(2025, 1, 1, tzinfo=timezone.utc),
                                   datetime(2027, 1, 1, tzinfo=timezone.utc))
            assert [(a.title, a.translations) for a in loaded] == [("Old", ())]
        command.downgrade(cfg, "0007")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT email FROM subscriber").all() == [("old@example.com",)]
        upgrade(db_url)
    finally:
        engine.dispose()
