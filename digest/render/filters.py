"""The text and URL filters of the email templates: shortening, ages, safe hrefs, escaping, wrapping."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import quote

from babel.dates import format_timedelta
from markupsafe import Markup

from ..i18n import SOURCE_LANGUAGE, Language, language

from ..text import clean, cut

__all__ = ["clean", "shorten", "fit_width", "display_width", "age_label", "safe_url", "escape_html", "wrap", "wrap_items", "TEXT_WIDTH", "FILTERS"]

TEXT_WIDTH = 78


def shorten(text: str, limit: int, max_bytes: int | None = None) -> str:
    """Cut at a word boundary to at most limit characters (and max_bytes of UTF-8), adding an ellipsis."""
    max_bytes = max_bytes or limit * 4
    if len(text) <= limit and len(text.encode("utf-8")) <= max_bytes:
        return text
    cut = text[: limit - 1]
    while len(cut.encode("utf-8")) > max_bytes - 3:
        # Multi-byte scripts: shrink in proportion, then settle on the boundary.
        cut = cut[: max(1, int(len(cut) * (max_bytes - 3) / len(cut.encode("utf-8"))) - 1)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-·") + "…"


def display_width(text: str) -> int:
    """Columns the text takes in a monospace or inbox line: East Asian wide characters count two."""
    return _display_width(text)


@lru_cache(maxsize=8192)
def fit_width(text: str, width: int) -> str:
    """Cut to at most `width` display columns at a word boundary, with an ellipsis; whole when it fits.

    Text with no space to cut at (Chinese, Japanese) is cut between characters.
    """
    text = " ".join(text.split())
    if _display_width(text) <= width:
        return text
    room, used, end = width - 1, 0, 0  # one column for the ellipsis
    for i, ch in enumerate(text):
        w = 2 if not ch.isascii() and unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > room:
            break
        used += w
        end = i + 1
    cut = text[:end]
    if end < len(text) and text[end] != " ":
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    return cut.rstrip(" ,;:.-·–—") + "…"


def age_label(published: datetime, reference: datetime, lang: Language | None = None) -> str:
    """A short age like the AMW site shows, in the reader's language: "13h ago", "2d ago", "1w ago",
    "3mo ago" ("13시간 전", "2日前"); CLDR's narrow relative times, counted as before."""
    lang = lang or language(SOURCE_LANGUAGE)
    seconds = (reference - published).total_seconds()
    if seconds < 60:
        return lang.gettext("just now")
    if seconds < 3600:
        count, unit = int(seconds // 60), "minute"
    elif seconds < 86400:
        count, unit = int(seconds // 3600), "hour"
    else:
        days = int(seconds // 86400)
        count, unit = ((days, "day") if days < 7 else (days // 7, "week") if days < 30
                       else (days // 30, "month") if days < 365 else (days // 365, "year"))
    return _relative(count, unit, lang.locale)


_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400,
                 "year": 365 * 86400}


@lru_cache(maxsize=4096)
def _relative(count: int, unit: str, locale) -> str:
    return format_timedelta(timedelta(seconds=-count * _UNIT_SECONDS[unit]), threshold=1, granularity=unit,
                            add_direction=True, format="narrow", locale=locale)


_URL_SAFE = "/:?#[]@!$&()*+,;=%~-._"
_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


# Already fit: an allowed scheme and only characters quote() leaves alone (no space or control).
# ASCII matching: case-insensitive Unicode matching would let "ſ" (long s) and "K" (Kelvin) in as s and k.
_FIT_URL = re.compile(r"(?:https?://|mailto:)[A-Za-z0-9/:?#\[\]@!$&()*+,;=%~._-]*", re.I | re.A)


def safe_url(value: object) -> str:
    """A URL fit for an href: http(s)/mailto only, percent-encoded so no serializer re-encodes it."""
    if isinstance(value, str) and _FIT_URL.fullmatch(value):
        return value  # what _quoted_url returns for it, at a tenth of the cost (per-reader links)
    return _quoted_url(value)


def _quoted_url(value: object) -> str:
    url = clean(value)
    if not url.lower().startswith(_ALLOWED_SCHEMES):
        return "#"
    # Quote non-ASCII, spaces and quotes ourselves: libxml2 would otherwise rewrite them later.
    return quote(url, safe=_URL_SAFE)


def _escape_text(text: str) -> str:
    # Quotes stay literal in text (as lxml writes them), so compiled and naive output are identical;
    # attribute values never take raw data (see |url and |attr).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_html(value: object) -> Markup:
    """Escape data for HTML text once, as lxml writes it (quotes stay literal in text)."""
    if isinstance(value, Markup):
        return value
    return Markup(_escape_text("" if value is None else str(value)))


@lru_cache(maxsize=8192)
def _url_filter(value) -> Markup:
    return Markup(safe_url(value).replace("&", "&amp;"))


def _attr_filter(value) -> Markup:
    text = str(value) if isinstance(value, Markup) else _escape_text(clean(value))
    return Markup(text.replace('"', "&quot;"))


def _display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return _wide_width(text)


@lru_cache(maxsize=8192)
def _wide_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _split_long(word: str, width: int) -> list[str]:
    """Break a word longer than the line (CJK runs, long tokens) by display width; URLs stay whole."""
    if word.startswith(("http://", "https://")) or _display_width(word) <= width:
        return [word]
    return cut(word, width, lambda ch: 2 if not ch.isascii() and unicodedata.east_asian_width(ch) in "WF" else 1)


@lru_cache(maxsize=4096)
def wrap(text: str, width: int = TEXT_WIDTH, indent: int = 0, first: str | None = None, hang: int = 0) -> str:
    """Greedy word wrap to width display columns; cached because the same articles recur per reader."""
    first_prefix = " " * indent if first is None else first
    rest_prefix = " " * (indent + hang)
    lines: list[str] = []
    prefix = first_prefix
    line = ""
    for raw in text.split():
        for word in _split_long(raw, max(10, width - len(rest_prefix))):
            if not line:
                line = word
                continue
            if _display_width(prefix) + _display_width(line) + 1 + _display_width(word) <= width:
                line += " " + word
            else:
                lines.append(prefix + line)
                prefix, line = rest_prefix, word
    if line or not lines:
        lines.append(prefix + line)
    return "\n".join(lines)


def _wrap_filter(value, indent: int = 0, first: str | None = None, hang: int = 0) -> str:
    return wrap(str(value), TEXT_WIDTH, indent, first, hang)


@lru_cache(maxsize=4096)
def wrap_items(items: tuple[str, ...], label: str = "", sep: str = ", ", width: int = TEXT_WIDTH,
               indent: int = 0) -> str:
    """`label` and the items joined by `sep`, wrapped only between items, so that no name breaks
    across lines (an item longer than a whole line alone is wrapped by its words)."""
    prefix = " " * indent
    room = width - indent
    lines: list[str] = []
    line = label
    for i, item in enumerate(items):
        piece = item + (sep.rstrip() if i < len(items) - 1 else "")
        joiner = "" if not line or line == label else " "
        if not line or _display_width(line + joiner + piece) <= room:
            line += joiner + piece
            continue
        lines.append(line)
        if _display_width(piece) > room:
            *whole, line = wrap(piece, room).split("\n")
            lines.extend(whole)
        else:
            line = piece
    if line:
        lines.append(line)
    return "\n".join(prefix + ln for ln in lines)


def _wrap_items_filter(value, label: str = "", sep: str = ", ", indent: int = 0) -> str:
    return wrap_items(tuple(str(v) for v in value), label, sep, TEXT_WIDTH, indent)


# The filters every template environment of the email gets (compiler.environment registers them).
FILTERS = {"url": _url_filter, "attr": _attr_filter, "wrap": _wrap_filter, "wrap_items": _wrap_items_filter}
