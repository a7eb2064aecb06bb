"""Validation of delivery preferences: time zone, send day and hour, frequency, limits, pause."""

from __future__ import annotations

import difflib
import functools
from datetime import date

from digest.errors import InputError
from digest.i18n import UnknownLanguage, canonical_language
from digest.schedule import iana_zones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FREQUENCIES = ("weekly", "daily")
DEFAULT_MAX_ARTICLES = 8
MAX_ARTICLES = 20
MAX_READING_BUDGET = 600  # minutes; anything above is certainly a typo

# Column defaults a preference falls back to when given empty.
DEFAULTS = {
    "timezone": "UTC",
    "send_day": 0,
    "send_hour": 8,
    "frequency": "weekly",
    "max_articles": DEFAULT_MAX_ARTICLES,
    "min_significance": 1,
    "reading_budget": None,
    "paused_until": None,
    "language": "",
}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _int(field: str, value, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InputError(field, f"expected a whole number from {low} to {high}, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        try:
            number = int(text, 10)
        except ValueError:
            raise InputError(field, f"expected a whole number from {low} to {high}, got {text!r}") from None
    if not low <= number <= high:
        raise InputError(field, f"must be from {low} to {high}, got {number}")
    return number


@functools.cache
def _zones() -> dict[str, str]:
    # The schedule's own list (no host-dependent keys like `localtime`), read once; casefolded index.
    return {name.casefold(): name for name in iana_zones()}


def parse_timezone(value) -> str:
    """The canonical IANA name for value (case-insensitive); empty means UTC."""
    if _blank(value):
        return DEFAULTS["timezone"]
    text = str(value).strip()
    canonical = _zones().get(text.casefold())
    if canonical is None:
        close = difflib.get_close_matches(text.casefold(), list(_zones()), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(_zones()[c]) for c in close)}?" if close else ""
        raise InputError("timezone", f"unknown IANA time zone {text!r}{hint}")
    return canonical


def parse_send_day(value) -> int:
    """Monday is 0: accepts mon..sun, monday..sunday (any case) or 0..6; empty means Monday."""
    if _blank(value):
        return DEFAULTS["send_day"]
    if isinstance(value, int) and not isinstance(value, bool):
        return _int("send_day", value, 0, 6)
    text = str(value).strip().casefold()
    if text.isdigit():
        return _int("send_day", text, 0, 6)
    for number, (short, full) in enumerate(zip(DAYS, _FULL_DAYS)):
        if text in (short, full):
            return number
    raise InputError("send_day", f"expected one of {', '.join(DAYS)}, got {str(value).strip()!r}")


def day_name(number: int) -> str:
    return DAYS[number]


def parse_send_hour(value) -> int:
    """The local hour 0..23 at which the digest goes out; empty means 8."""
    if _blank(value):
        return DEFAULTS["send_hour"]
    return _int("send_hour", value, 0, 23)


def parse_frequency(value) -> str:
    if _blank(value):
        return DEFAULTS["frequency"]
    text = str(value).strip().casefold()
    if text not in FREQUENCIES:
        raise InputError("frequency", f"expected weekly or daily, got {str(value).strip()!r}")
    return text


def parse_max_articles(value) -> int:
    if _blank(value):
        return DEFAULT_MAX_ARTICLES
    return _int("max_articles", value, 1, MAX_ARTICLES)


def parse_min_significance(value) -> int:
    """Articles below this AMW significance score (1..3) are left out; empty means 1 (all)."""
    if _blank(value):
        return DEFAULTS["min_significance"]
    return _int("min_significance", value, 1, 3)


def parse_reading_budget(value) -> int | None:
    """Minutes the reader wants to spend per digest; empty means no budget."""
    if _blank(value):
        return None
    return _int("reading_budget", value, 1, MAX_READING_BUDGET)


def parse_paused_until(value) -> date | None:
    """No digest is sent before this date (in the reader's time zone); empty means not paused."""
    if _blank(value):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError("paused_until", f"expected a date as YYYY-MM-DD, got {text!r}") from None


def parse_language(value) -> str:
    """A BCP 47 language tag ("ko", "pt-BR", "zh-Hant") that CLDR knows, in its canonical form;
    empty means the default language (DIGEST_DEFAULT_LANGUAGE). A known language without a
    catalog is kept: the digest falls back to the default for it (and preview says so)."""
    if _blank(value):
        return DEFAULTS["language"]
    try:
        return canonical_language(str(value))
    except UnknownLanguage as exc:
        raise InputError("language", str(exc)) from None


PARSERS = {
    "timezone": parse_timezone,
    "send_day": parse_send_day,
    "send_hour": parse_send_hour,
    "frequency": parse_frequency,
    "max_articles": parse_max_articles,
    "min_significance": parse_min_significance,
    "reading_budget": parse_reading_budget,
    "paused_until": parse_paused_until,
    "language": parse_language,
}


def parse_preferences(**raw) -> dict:
    """Validate the given preferences (only those given) and return column values.

    Raises InputError naming the first invalid field. An empty value means the default.
    """
    unknown = set(raw) - set(PARSERS)
    if unknown:
        raise InputError(sorted(unknown)[0], "not a preference")
    return {name: PARSERS[name](value) for name, value in raw.items()}
