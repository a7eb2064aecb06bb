"""Issue 16, the catalogs: every message of the code and templates translated in every catalog, none
fuzzy, placeholders and plural forms right; languages discovered from the catalogs alone."""

from __future__ import annotations

import ast
import os
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from digest import i18n
from digest.render import Renderer

from render_helpers import TEMPLATES, issue, links
from tests.conftest import ROOT

LOCALE = ROOT / "digest" / "locale"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "N_": None}  # N_: marked where stored, translated where shown (digest.i18n.N_)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(lang: str):
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def _extracted() -> set[tuple[str | None, str]]:
    """(context, msgid) of every message the code and templates use, extracted as pybabel would."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _, _, message, _, context in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


@pytest.fixture(scope="module")
def extracted():
    return _extracted()


def test_the_languages_are_the_catalogs_found_on_disk():
    assert set(i18n.catalog_languages()) >= {"en", "ko", "ja"}
    assert set(i18n.catalog_languages()) == {p.parent.parent.name for p in LOCALE.glob("*/LC_MESSAGES/messages.po")}


@pytest.mark.parametrize("lang", sorted(i18n.catalog_languages()))
def test_every_extracted_message_is_translated_and_none_is_fuzzy(extracted, lang):
    catalog = _catalog(lang)
    ids = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}
    missing = sorted(extracted - ids, key=str)
    assert not missing, f"{lang}: messages missing from the catalog (run pybabel extract + update): {missing[:10]}"
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{lang}: fuzzy {message.id!r}"
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert strings and all(s.strip() for s in strings), f"{lang}: untranslated {message.id!r}"


def test_the_template_lists_exactly_the_extracted_messages(extracted):
    with (LOCALE / "messages.pot").open("rb") as f:
        pot = read_po(f)
    ids = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in pot if m.id}
    assert ids == extracted, (sorted(extracted - ids, key=str)[:5], sorted(ids - extracted, key=str)[:5])


@pytest.mark.parametrize("lang", sorted(i18n.catalog_languages()))
def test_plural_forms_and_placeholders_are_those_of_the_language(lang):
    catalog = _catalog(lang)
    plural = get_plural(lang)
    assert catalog.plural_forms == plural.plural_forms, lang
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not isinstance(message.id, str):
            assert len(strings) == plural.num_plurals, (lang, message.id)
        wanted = set(_PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            assert set(_PLACEHOLDER.findall(s)) == wanted, (lang, message.id, s)


@pytest.mark.parametrize(("lang", "one", "two"), [
    ("en", "1 story this week", "2 stories this week"),
    ("ko", "이번 주 기사 1건", "이번 주 기사 2건"),
    ("ja", "今週の記事1件", "今週の記事2件"),
])
def test_one_and_two_stories_take_the_plural_form_of_the_language(lang, one, two):
    renderer = Renderer(TEMPLATES)
    first = renderer.render(issue(1, language=lang, companies=frozenset(), segments=frozenset()), links())
    second = renderer.render(issue(2, language=lang, companies=frozenset(), segments=frozenset()), links())
    assert one in first.text and one in first.html
    assert two in second.text and two in second.html
    assert two not in first.text and one not in second.text
    # The subject's "+ N more" for the second story, in the same language.
    tail = {"en": " + 1 more", "ko": " 외 1건", "ja": " ほか1件"}[lang]
    assert second.subject.endswith(tail) and not first.subject.endswith(tail)


def test_the_code_names_no_language_beyond_the_catalogs():
    """Japanese came with its catalog alone: no string in the code or templates is a language code
    (the one named is the source language of the message ids, SOURCE_LANGUAGE)."""
    code = [*ROOT.glob("digest/**/*.py"), *ROOT.glob("subscribers/*.py"), ROOT / "setup.py"]
    tag = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
    found = [(str(p.relative_to(ROOT)), node.value) for p in code for node in ast.walk(ast.parse(p.read_text("utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and tag.fullmatch(node.value)
             and _is_language(node.value) and node.value != i18n.SOURCE_LANGUAGE]
    assert not found, found
    templates = [*ROOT.glob("templates/**/*.j2"), *ROOT.glob("digest/web/templates/*.html")]
    quoted = re.compile(r"""["']((?:ko|ja)(?:[-_][A-Za-z]{2,4})?)["']""")
    assert not [(p.name, m.group()) for p in templates for m in quoted.finditer(p.read_text("utf-8"))]


def _is_language(value: str) -> bool:
    """A string that is a language tag of one of the catalogs (what a hard-coded list would hold)."""
    return value.replace("_", "-").split("-")[0] in i18n.catalog_languages()


@pytest.fixture
def locale_copy(tmp_path, monkeypatch):
    """The catalogs copied to a folder the test may change, read instead of the package's."""
    folder = tmp_path / "locale"
    shutil.copytree(LOCALE, folder, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "LOCALE_DIR", folder)
    for cached in (i18n.catalog_languages, i18n.translations, i18n.language, i18n.catalog_for):
        cached.cache_clear()
    yield folder
    for cached in (i18n.catalog_languages, i18n.translations, i18n.language, i18n.catalog_for):
        cached.cache_clear()


def test_a_japanese_reader_gets_japanese_from_the_catalog_alone(locale_copy):
    ja = locale_copy / "ja"
    held = locale_copy.parent / "ja-held"
    ja.rename(held)
    without = Renderer(TEMPLATES).render(issue(2, name="Sato Yui", language="ja"), links())
    assert "no catalog for language 'ja'" in " ".join(without.warnings)
    assert "Hi Sato," in without.text and "こんにちは" not in without.text

    held.rename(ja)  # the catalog is the only change
    i18n.catalog_languages.cache_clear()
    i18n.catalog_for.cache_clear()
    rendered = Renderer(TEMPLATES).render(issue(2, name="Sato Yui", language="ja"), links())
    assert rendered.warnings == ()
    assert "Satoさん、こんにちは。" in rendered.text and "配信停止" in rendered.html
    assert re.search(r'<html\s+lang="ja"', rendered.html) and "Hiragino Sans" in rendered.html
    assert "2026年 第47週" in rendered.subject + rendered.text


def test_a_fresh_clone_without_mo_files_compiles_the_po_in_memory_and_a_stale_mo_is_ignored(locale_copy):
    assert not list(locale_copy.glob("*/LC_MESSAGES/*.mo"))
    assert i18n.translations("ko").gettext("Unsubscribe") == "수신 거부"
    # A .mo older than its .po (the .po was edited since the build) is not used.
    i18n.compile_catalogs(locale_copy)
    po = locale_copy / "ko" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text("utf-8").replace('msgstr "수신 거부"', 'msgstr "구독 해지"'), "utf-8")
    mo = po.with_suffix(".mo")
    old = po.stat().st_mtime - 60
    os.utime(mo, (old, old))
    i18n.translations.cache_clear()
    assert i18n.translations("ko").gettext("Unsubscribe") == "구독 해지"


def test_a_fuzzy_entry_is_never_used(locale_copy):
    po = locale_copy / "ko" / "LC_MESSAGES" / "messages.po"
    text = po.read_text("utf-8").replace('msgid "Unsubscribe"', '#, fuzzy\nmsgid "Unsubscribe"', 1)
    po.write_text(text, "utf-8")
    assert i18n.translations("ko").gettext("Unsubscribe") == "Unsubscribe"


def test_mo_files_are_never_committed():
    assert "*.mo" in (ROOT / ".gitignore").read_text("utf-8").split()
    assert Path(ROOT / "babel.cfg").is_file()


def test_the_default_language_is_what_readers_without_one_get():
    korean_default = Renderer(TEMPLATES, lang="ko")
    assert "이번 주 기사 2건" in korean_default.render(issue(2, companies=frozenset(), segments=frozenset()), links()).text
    english = korean_default.render(issue(2, language="en", companies=frozenset(), segments=frozenset()), links())
    assert "2 stories this week" in english.text and english.warnings == ()
    # A language without a catalog gets the default (here Korean), with the warning preview shows.
    other = korean_default.render(issue(2, language="pt-BR"), links())
    assert "안녕하세요" in other.text and "no catalog for language 'pt-BR'" in other.warnings[0]
