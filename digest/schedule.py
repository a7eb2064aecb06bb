"""When a digest is due: each reader's send day and hour in their own time zone, as UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import InputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FREQUENCIES = ("weekly", "daily")


@dataclass(frozen=True, slots=True)
class Slot:
    """One scheduled send: the ledger period it belongs to and its instant in UTC."""

    period: str
    scheduled_for: datetime


# Keys the tz database ships that name no place: `localtime` is whatever zone the host is set to
# (so a reader's send hour would move with the server), `posixrules` a build default, `Factory`
# the "zone not set" placeholder. ZoneInfo loads them all; a reader's zone must be none of them.
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})

# The years an as-of time may fall in: wide enough for any real schedule, narrow enough that the
# slot arithmetic (a week back, a zone's offset either way) never leaves datetime's range.
AS_OF_YEARS = (2000, 2100)


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """The IANA zone names a reader may have (tz database names, backward links included)."""
    return frozenset(name for name in available_timezones()
                     if name not in NOT_PLACES and not name.startswith(("posix/", "right/")))


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The zone for an IANA name; InputError for anything else (host-dependent keys included)."""
    if name not in iana_zones():
        raise InputError("timezone", f"{name!r} is not an IANA time zone (like Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("timezone", f"{name!r} is not an IANA time zone (like Europe/Berlin)") from None


def check_as_of(value: datetime) -> datetime:
    """value in UTC (a naive value is UTC); ValueError unless it falls in the years AS_OF_YEARS."""
    low, high = AS_OF_YEARS
    if not low <= value.year <= high:
        raise ValueError(f"is outside the years {low} to {high}; use a time like 2026-11-23T08:00:00Z")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_day(value) -> int:
    """mon..sun (or a full English day name, or 0-6 with Monday 0) -> 0..6."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    if text[:3] in DAYS and (len(text) == 3 or DAYS[DAYS.index(text[:3])] + text[3:] in
                             {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}):
        return DAYS.index(text[:3])
    raise InputError("send_day", f"{value!r} is not a day; use mon, tue, wed, thu, fri, sat or sun")


def local_instant(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of `hour`:00 local time on `day`.

    A wall time skipped by a daylight-saving jump is taken with the offset before the jump, so it
    lands just after the jump (02:30 becomes 03:30); a wall time that occurs twice is taken at its
    first occurrence (fold=0). Either way one slot maps to exactly one instant.
    """
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(timezone.utc)


def period_of(day: date, frequency: str) -> str:
    if frequency == "daily":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def latest_slot(*, tz_name: str, send_day: int, send_hour: int, frequency: str, as_of: datetime) -> Slot:
    """The most recent scheduled send at or before `as_of` for this schedule."""
    tz = zone(tz_name)
    try:
        return _latest_slot(tz, send_day, send_hour, frequency, as_of)
    except OverflowError:
        # Only an as-of at the very ends of datetime's range gets here; parse_time keeps the CLI's
        # inside AS_OF_YEARS, and a caller with such a value gets an error rather than a traceback.
        raise InputError("as_of", f"{as_of.isoformat()} is outside the years {AS_OF_YEARS[0]} to "
                         f"{AS_OF_YEARS[1]} that the schedule handles") from None


def _latest_slot(tz: ZoneInfo, send_day: int, send_hour: int, frequency: str, as_of: datetime) -> Slot:
    local_day = as_of.astimezone(tz).date()
    step = 1 if frequency == "daily" else 7
    if frequency == "daily":
        day = local_day
    else:
        day = local_day - timedelta(days=(local_day.weekday() - send_day) % 7)
    instant = local_instant(day, send_hour, tz)
    while instant > as_of:
        day -= timedelta(days=step)
        instant = local_instant(day, send_hour, tz)
    return Slot(period_of(day, frequency), instant)

