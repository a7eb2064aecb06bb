"""Feed bodies into article records: JSON Feed 1.1 items with an `_amw` extension object, and Atom or
RSS entries (read by feedparser) with the same fields from the AMW namespace. Each item becomes the
record `digest ingest` reads (validated by digest/ingest/validate.py); docs/feeds.md shows both."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import datetime, timezone

import feedparser

# The AMW namespace of Atom/RSS feeds, and the category schemes that carry companies and segments.
AMW_NS = "https://amw.example/ns/digest/1.0"
COMPANY_SCHEME = AMW_NS + "#company"
SEGMENT_SCHEME = AMW_NS + "#segment"
# The contract's fields an `_amw` object may carry (the rest of an item comes from JSON Feed's own).
AMW_FIELDS = ("scores", "companies", "segments", "tags", "region", "category", "read_minutes", "related")


class FeedFormatError(Exception):
    """The body is no feed this reader knows (not JSON Feed, Atom or RSS)."""


def parse_feed(body: bytes) -> list[tuple[int, object]]:
    """The feed's items as (position from 1, article record); FeedFormatError if the body is no feed."""
    if body.lstrip()[:1] in (b"{", b"["):
        return _json_feed(body)
    return _xml_feed(body)


def _json_feed(body: bytes) -> list[tuple[int, object]]:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FeedFormatError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/1"):
        raise FeedFormatError('not a JSON Feed: the object needs "version": "https://jsonfeed.org/version/1.1"')
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedFormatError('a JSON Feed needs an "items" array')
    return [(i, _json_item(item)) for i, item in enumerate(items, start=1)]


def _json_item(item) -> object:
    """One JSON Feed item as an article record; what is not an object is left for validation to name."""
    if not isinstance(item, dict):
        return item
    record = {"url": item.get("url"), "title": item.get("title"),
              "summary": item.get("summary") if item.get("summary") is not None else item.get("content_text"),
              "published_at": item.get("date_published")}
    if item.get("tags") is not None:
        record["tags"] = item["tags"]
    amw = item.get("_amw")
    if not isinstance(amw, dict):
        # validate_article names the scores as missing: the same line a file without them gets.
        return {**record, "scores": None}
    record.update({key: amw[key] for key in AMW_FIELDS if key in amw})
    return record


def _xml_feed(body: bytes) -> list[tuple[int, object]]:
    parsed = feedparser.parse(body)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise FeedFormatError(f"not JSON Feed, Atom or RSS{f': {reason}' if reason else ''}")
    prefix = next((p for p, uri in parsed.get("namespaces", {}).items() if uri.rstrip("/") == AMW_NS), "amw")
    return [(i, _xml_item(entry, prefix)) for i, entry in enumerate(parsed.entries, start=1)]


def _xml_item(entry, prefix: str) -> dict:
    def amw(name: str):
        value = entry.get(f"{prefix}_{name}")
        return value.strip() if isinstance(value, str) else value

    tags = entry.get("tags") or []
    record = {
        "url": entry.get("link"), "title": _plain(entry.get("title")), "summary": _plain(entry.get("summary")),
        "published_at": _time(entry),
        "companies": [t.get("term") for t in tags if t.get("scheme") == COMPANY_SCHEME],
        "segments": [t.get("term") for t in tags if t.get("scheme") == SEGMENT_SCHEME],
        "tags": [t.get("term") for t in tags if t.get("scheme") not in (COMPANY_SCHEME, SEGMENT_SCHEME)],
        "related": [link.get("href") for link in entry.get("links") or [] if link.get("rel") == "related"],
        "scores": {name: {"score": _number(amw(name)), "note": amw(f"{name}_note")}
                   for name in ("novelty", "significance") if amw(name) is not None} or None,
    }
    for name in ("region", "category"):
        if amw(name) is not None:
            record[name] = amw(name)
    if amw("read_minutes") is not None:
        record["read_minutes"] = _number(amw("read_minutes"))
    return record


_TAG = re.compile(r"<[^>]*>")


def _plain(value) -> str | None:
    """Feed text as plain text: feedparser hands over (sanitized) HTML."""
    return None if value is None else html.unescape(_TAG.sub("", value))


def _number(value):
    """'3' as 3; anything else as it came, for validation to name."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _time(entry) -> str | None:
    for name in ("published", "updated"):
        parsed = entry.get(f"{name}_parsed")
        if isinstance(parsed, time.struct_time):
            return datetime(*parsed[:6], tzinfo=timezone.utc).isoformat()
        if entry.get(name):
            return entry[name]  # feedparser could not read it: validation names it
    return None
