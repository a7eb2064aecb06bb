"""Validating one article record: each field checked and cleaned, or an InputError naming the field."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from ..errors import InputError
from ..names import alias_key, segment_name, segment_parts, slugify
from ..text import INPUT_CONTROLS, clean_input
from ..i18n import SOURCE_LANGUAGE, UnknownLanguage, canonical_language
from ..types import ArticleData, translations_tuple

def _kind(value) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _show(value) -> str:
    """A value for a message: short, and never a repr of a deep structure or a huge number."""
    if isinstance(value, str):
        return repr(value[:80] + "..." if len(value) > 80 else value)
    if isinstance(value, bool) or value is None:
        return _kind(value)
    if isinstance(value, int):
        return str(value) if -10**20 < value < 10**20 else "a number of more than 20 digits"
    if isinstance(value, float):
        return repr(value)
    return _kind(value)


def _real_text(key: str, value: str) -> str:
    # A \ud800 escape parses into a lone surrogate, which no database can store as text.
    found = _SURROGATE.search(value)
    if found:
        raise InputError(key, f"holds U+{ord(found.group()):04X}, which is not a character "
                              "(a \\u escape of half a UTF-16 pair)")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(obj: dict, key: str, *, required: bool = False, one_line: bool = True, limit: int = 10_000) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(key, "is required")
        return ""
    if not isinstance(value, str):
        raise InputError(key, f"must be a string, not {_kind(value)}")
    value = clean_input(_real_text(key, value), one_line=one_line)
    if required and not value:
        raise InputError(key, "must not be empty")
    if len(value) > limit:
        raise InputError(key, f"is longer than {limit} characters")
    return value


def _texts(obj: dict, key: str, translations: dict, *, required: bool = False, one_line: bool = True,
           limit: int = 10_000) -> str:
    """A text field that is a string (the default language) or an object of language to text
    ({"en": "...", "ko": "..."}): each entry checked as the string would be, each language a BCP 47
    tag CLDR knows. Returns the text the column keeps (the source language's entry, else the first);
    every entry of an object goes into translations[lang][field]."""
    value = obj.get(key)
    if not isinstance(value, dict):
        return _text(obj, key, required=required, one_line=one_line, limit=limit)
    if not value:
        raise InputError(key, "must hold at least one language, like {\"en\": \"...\", \"ko\": \"...\"}")
    entries = {}
    for raw_tag, text in value.items():
        try:
            tag = canonical_language(raw_tag)
        except UnknownLanguage as exc:
            raise InputError(f"{key}.{raw_tag}", str(exc)) from None
        try:
            entries[tag] = _text(value, raw_tag, required=required, one_line=one_line, limit=limit)
        except InputError as exc:
            raise InputError(f"{key}.{raw_tag}", exc.message) from None
        if not entries[tag]:
            raise InputError(f"{key}.{raw_tag}", "must not be empty (leave the language out instead)")
    field = key.replace("scores.", "").replace(".note", "_note")
    for tag, text in entries.items():
        translations.setdefault(tag, {})[field] = text
    return entries.get(SOURCE_LANGUAGE) or next(iter(entries.values()))


def _url(value, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(key, f"must be a non-empty URL string, not {_show(value)}")
    value = _real_text(key, value.strip())
    if len(value) > 2000:
        raise InputError(key, "is longer than 2000 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise InputError(key, f"{_show(value)} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or INPUT_CONTROLS.search(value) or " " in value:
        raise InputError(key, f"must be an http(s) URL, not {_show(value)}")
    return value


def _names(obj: dict, key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(key, f"must be a list of strings, not {_kind(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not clean_input(item):
            raise InputError(f"{key}[{i}]", f"must be a non-empty string, not {_show(item)}")
        item = clean_input(_real_text(f"{key}[{i}]", item))
        if len(item) > 200:
            raise InputError(f"{key}[{i}]", "is longer than 200 characters")
        if item not in out:
            out.append(item)
    return tuple(out)


def _company_name(name: str, key: str) -> str:
    # Casefolding and NFKC can lengthen a name ("ß" -> "ss", one ligature -> 18 letters): the
    # columns that hold the key and the slug are 200 characters on PostgreSQL.
    if len(alias_key(name)) > 200 or len(slugify(name)) > 200:
        raise InputError(key, "is longer than 200 characters once case-folded")
    return name


def _segment_name(raw: str, key: str) -> str:
    parts = segment_parts(raw)
    if any(not p for p in parts):
        raise InputError(key, f"segment {raw!r} has an empty part; write 'Parent · Child'")
    full = segment_name(parts)
    if len(full) > 300:
        raise InputError(key, "is longer than 300 characters with ' · ' between its parts")
    return full


def _score(obj: dict, name: str, translations: dict) -> tuple[int, str]:
    scores = obj.get("scores")
    if not isinstance(scores, dict):
        raise InputError("scores", "is required: {\"novelty\": {\"score\": 1-3, \"note\": ...}, \"significance\": ...}")
    entry = scores.get(name)
    if not isinstance(entry, dict):
        raise InputError(f"scores.{name}", "is required: {\"score\": 1-3, \"note\": \"...\"}")
    score = entry.get("score")
    if isinstance(score, bool) or not isinstance(score, int):
        raise InputError(f"scores.{name}.score", f"must be an integer 1 to 3, not {_show(score)}")
    if not 1 <= score <= 3:
        raise InputError(f"scores.{name}.score", f"must be 1, 2 or 3, not {_show(score)}")
    if isinstance(entry.get("note"), dict):  # {"en": ..., "ko": ...}: errors name scores.<name>.note.<lang>
        return score, _texts({f"scores.{name}.note": entry["note"]}, f"scores.{name}.note", translations, limit=500)
    try:
        return score, _text(entry, "note", limit=500)
    except InputError as exc:
        raise InputError(f"scores.{name}.{exc.field}", exc.message) from None


def _published(raw_time) -> datetime:
    if not isinstance(raw_time, str):
        raise InputError("published_at", "is required: an ISO 8601 time with a zone, like 2026-11-20T09:00:00Z")
    try:
        published = datetime.fromisoformat(raw_time.strip())
    except ValueError:
        raise InputError("published_at", f"{_show(raw_time)} is not an ISO 8601 time") from None
    if published.tzinfo is None or published.utcoffset() is None:
        raise InputError("published_at", f"{_show(raw_time)} has no time zone; add Z or an offset like +09:00")
    try:
        published.astimezone(timezone.utc)  # the column stores UTC
    except OverflowError:
        raise InputError("published_at", f"{_show(raw_time)} is outside the years 1 to 9999 in UTC") from None
    return published


def validate_article(obj: object) -> ArticleData:
    """Check one record against the article format; raise InputError naming the field."""
    if not isinstance(obj, dict):
        raise InputError("record", f"must be a JSON object, not {_kind(obj)}")
    url = _url(obj.get("url"), "url")
    translations: dict[str, dict[str, str]] = {}
    title = _texts(obj, "title", translations, required=True, limit=500)
    published = _published(obj.get("published_at"))
    minutes = obj.get("read_minutes", 1)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 600:
        raise InputError("read_minutes", f"must be a whole number of minutes from 1 to 600, not {_show(minutes)}")
    companies = tuple(_company_name(c, f"companies[{i}]") for i, c in enumerate(_names(obj, "companies")))
    segments = tuple(_segment_name(s, f"segments[{i}]") for i, s in enumerate(_names(obj, "segments")))
    related_raw = obj.get("related", [])
    if related_raw is None:
        related_raw = []
    if not isinstance(related_raw, list):
        raise InputError("related", f"must be a list of URLs, not {_kind(related_raw)}")
    related = tuple(dict.fromkeys(_url(u, f"related[{i}]") for i, u in enumerate(related_raw)))
    novelty, novelty_note = _score(obj, "novelty", translations)
    significance, significance_note = _score(obj, "significance", translations)
    summary = _texts(obj, "summary", translations, one_line=False, limit=20_000)
    return ArticleData(
        url=url, title=title, summary=summary,
        published_at=published, category=_text(obj, "category", limit=200), region=_text(obj, "region", limit=100),
        read_minutes=minutes, companies=companies, segments=tuple(dict.fromkeys(segments)),
        tags=_names(obj, "tags"), novelty=novelty, novelty_note=novelty_note,
        significance=significance, significance_note=significance_note,
        related=tuple(u for u in related if u != url),
        translations=translations_tuple(translations),
    )
