"""When a digest is due: each reader's send day and hour in their own time zone, as UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FREQUENCIES = ("weekly", "daily")


@dataclass(frozen=True, slots=True)
class Slot:
    """One scheduled send: the ledger period it belongs to and its instant in UTC."""

    period: str
    scheduled_for: datetime


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("timezone", f"{name!r} is not an IANA time zone (like Europe/Berlin)") from None


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

