"""Due computation: each reader's local send day and hour, across zones and daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from digest.errors import InputError
from digest.schedule import Slot, latest_slot, parse_day, zone

UTC = timezone.utc


def slot(tz, as_of, day=0, hour=8, frequency="weekly"):
    return latest_slot(tz_name=tz, send_day=day, send_hour=hour, frequency=frequency, as_of=as_of)


def slots_between(tz, start, end, **kw):
    """Every distinct slot an hourly-or-finer cron would meet between start and end."""
    seen = {}
    t = start
    while t <= end:
        s = slot(tz, t, **kw)
        if s.scheduled_for > start:
            seen[s.period] = s.scheduled_for
        t += timedelta(minutes=15)
    return seen


@pytest.mark.parametrize("tz, expected_utc", [
    ("Pacific/Kiritimati", datetime(2026, 11, 22, 18, 0, tzinfo=UTC)),   # UTC+14: Monday 08:00 is Sunday in UTC
    ("Pacific/Pago_Pago", datetime(2026, 11, 23, 19, 0, tzinfo=UTC)),    # UTC-11
    ("Asia/Kathmandu", datetime(2026, 11, 23, 2, 15, tzinfo=UTC)),       # UTC+5:45
    ("America/St_Johns", datetime(2026, 11, 23, 11, 30, tzinfo=UTC)),    # UTC-3:30 in winter
    ("Europe/Berlin", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),
])
def test_monday_eight_local_is_the_right_utc_instant_in_each_zone(tz, expected_utc):
    found = slot(tz, datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    assert found.scheduled_for == expected_utc
    assert found.period == "2026-W48"
    assert slot(tz, expected_utc - timedelta(minutes=1)).period == "2026-W47"


def test_a_send_hour_skipped_by_spring_forward_happens_exactly_once():
    # Europe/Berlin jumps from 02:00 to 03:00 on Sunday 2026-03-29.
    got = slots_between("Europe/Berlin", datetime(2026, 3, 28, 0, tzinfo=UTC), datetime(2026, 3, 29, 23, tzinfo=UTC),
                        day=6, hour=2, frequency="daily")
    assert got["2026-03-29"] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, just after the jump
    assert list(got) == ["2026-03-28", "2026-03-29"]


def test_an_hour_that_occurs_twice_in_autumn_sends_once():
    # Europe/Berlin repeats 02:00-03:00 on Sunday 2026-10-25.
    got = slots_between("Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 0, tzinfo=UTC),
                        day=6, hour=2, frequency="daily")
    assert got == {"2026-10-25": datetime(2026, 10, 25, 0, 0, tzinfo=UTC)}  # the first 02:00 (CEST)


@pytest.mark.parametrize("tz, start", [
    ("Europe/Berlin", datetime(2026, 3, 20, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 10, 18, tzinfo=UTC)),
    ("America/St_Johns", datetime(2026, 3, 1, tzinfo=UTC)),
    ("America/St_Johns", datetime(2026, 10, 25, tzinfo=UTC)),
    ("Pacific/Kiritimati", datetime(2026, 3, 20, tzinfo=UTC)),
    ("Asia/Kathmandu", datetime(2026, 10, 18, tzinfo=UTC)),
    ("Pacific/Pago_Pago", datetime(2026, 3, 1, tzinfo=UTC)),
])
def test_weekly_slots_across_dst_weekends_are_one_a_week_at_local_eight(tz, start):
    got = slots_between(tz, start, start + timedelta(days=21))
    assert len(got) == 3
    for instant in got.values():
        local = instant.astimezone(zone(tz))
        assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)


def test_daily_frequency_has_one_slot_per_local_day():
    got = slots_between("Asia/Seoul", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC),
                        frequency="daily", hour=7)
    assert len(got) == 7 and all(v.astimezone(zone("Asia/Seoul")).hour == 7 for v in got.values())


def test_day_names_parse_and_bad_ones_say_what_to_write():
    assert [parse_day(d) for d in ("mon", "Tuesday", "sun", 3, "4")] == [0, 1, 6, 3, 4]
    with pytest.raises(InputError, match="use mon, tue"):
        parse_day("someday")


def test_unknown_time_zone_is_rejected_with_an_example():
    with pytest.raises(InputError, match="IANA time zone"):
        zone("Mars/Olympus")


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "posix/Europe/Berlin", "right/UTC"])
def test_time_zone_keys_that_name_no_place_are_rejected_even_though_zoneinfo_loads_them(name):
    # ZoneInfo("localtime") loads the host's own zone: a reader's send hour would move with the server.
    with pytest.raises(InputError, match="is not an IANA time zone"):
        zone(name)


def test_subscriber_preferences_refuse_the_same_keys_the_schedule_refuses():
    from subscribers.preferences import parse_timezone

    for name in ("localtime", "posixrules", "Factory"):
        with pytest.raises(InputError, match=f"timezone: unknown IANA time zone {name!r}"):
            parse_timezone(name)
    assert parse_timezone("europe/berlin") == "Europe/Berlin"


@pytest.mark.parametrize("name", ["UTC", "Etc/GMT+5", "US/Eastern", "Pacific/Kiritimati", "Asia/Kathmandu"])
def test_iana_names_and_their_backward_links_are_accepted(name):
    assert zone(name).key == name


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Etc/GMT-14", "Etc/GMT+12"])
@pytest.mark.parametrize("frequency", ["weekly", "daily"])
def test_slots_at_the_edges_of_the_accepted_years_compute_without_overflow(tz, frequency):
    for as_of in (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)):
        s = slot(tz, as_of, day=6, hour=23, frequency=frequency)
        assert s.scheduled_for <= as_of and as_of - s.scheduled_for < timedelta(days=8)


def test_a_slot_beyond_datetimes_range_is_an_input_error_not_an_overflow():
    with pytest.raises(InputError, match="as_of: .* is outside the years 2000 to 2100"):
        slot("Pacific/Kiritimati", datetime(9999, 12, 31, 20, tzinfo=UTC))
    with pytest.raises(InputError, match="as_of:"):
        slot("Pacific/Pago_Pago", datetime(1, 1, 1, 5, tzinfo=UTC))


# -- the edges of each rule ----------------------------------------------------------------------


def test_a_slot_at_exactly_its_instant_is_that_slot():
    berlin = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
    assert slot("Europe/Berlin", berlin) == latest_slot(tz_name="Europe/Berlin", send_day=0, send_hour=8,
                                                        frequency="weekly", as_of=berlin + timedelta(days=6))
    assert slot("Europe/Berlin", berlin).scheduled_for == berlin
    assert slot("Europe/Berlin", berlin - timedelta(microseconds=1)).scheduled_for == berlin - timedelta(days=7)


@pytest.mark.parametrize("as_of, period, instant", [
    (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "2026-11-25", datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),
    (datetime(2026, 11, 25, 6, 59, tzinfo=UTC), "2026-11-24", datetime(2026, 11, 24, 7, 0, tzinfo=UTC)),
    (datetime(2027, 1, 1, 0, 30, tzinfo=UTC), "2027-01-01", datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),
])
def test_a_daily_slot_is_the_local_days_send_hour_named_by_its_local_date(as_of, period, instant):
    hour = 0 if as_of.year == 2027 else 8  # midnight in Berlin on New Year's Day is still 2026 in UTC
    assert slot("Europe/Berlin", as_of, day=3, hour=hour, frequency="daily") == Slot(period, instant)


@pytest.mark.parametrize("as_of, period", [
    (datetime(2027, 1, 1, 12, tzinfo=UTC), "2026-W53"),   # ISO week 53 of 2026 runs into January
    (datetime(2026, 2, 3, 12, tzinfo=UTC), "2026-W06"),   # the week number takes two digits
    (datetime(2025, 12, 30, 12, tzinfo=UTC), "2026-W01"),  # and ISO week 1 of 2026 starts in December
])
def test_a_weekly_period_is_the_iso_year_and_week_of_the_send_day(as_of, period):
    assert slot("UTC", as_of, day=1, hour=8).period == period


@pytest.mark.parametrize("value, day", [("mon", 0), (" Wed ", 2), ("THURSDAY", 3), ("sunday", 6), (0, 0), (6, 6),
                                        ("0", 0), ("6", 6), ("Sat", 5)])
def test_a_day_is_read_from_a_name_or_a_number(value, day):
    assert parse_day(value) == day


@pytest.mark.parametrize("value", [True, False, 7, -1, "7", "-1", "mond", "monday!", "", "tues", None, 1.0])
def test_anything_else_is_not_a_day_and_the_error_quotes_it(value):
    with pytest.raises(InputError) as info:
        parse_day(value)
    assert str(info.value) == f"send_day: {value!r} is not a day; use mon, tue, wed, thu, fri, sat or sun"


def test_an_unknown_zone_is_named_in_the_error_with_an_example():
    with pytest.raises(InputError) as info:
        zone("Mars/Olympus")
    assert str(info.value) == "timezone: 'Mars/Olympus' is not an IANA time zone (like Europe/Berlin)"


def test_the_zones_a_reader_may_have_are_the_places_of_the_tz_database():
    from digest.schedule import iana_zones

    names = iana_zones()
    assert {"Europe/Berlin", "UTC", "Etc/GMT+5", "US/Eastern"} <= names
    assert not names & {"localtime", "posixrules", "Factory"}
    assert not any(n.startswith(("posix/", "right/")) for n in names)


@pytest.mark.parametrize("value, expected", [
    (datetime(2026, 11, 23, 8, 0), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),  # naive is UTC
    (datetime(2026, 11, 23, 8, 0, tzinfo=timezone(timedelta(hours=-5))), datetime(2026, 11, 23, 13, 0, tzinfo=UTC)),
    (datetime(2000, 1, 1, 0, 0, tzinfo=UTC), datetime(2000, 1, 1, 0, 0, tzinfo=UTC)),
    (datetime(2100, 12, 31, 23, 59, tzinfo=UTC), datetime(2100, 12, 31, 23, 59, tzinfo=UTC)),
])
def test_an_as_of_time_comes_back_in_utc(value, expected):
    from digest.schedule import check_as_of

    got = check_as_of(value)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize("value", [datetime(1999, 12, 31, 23, 59), datetime(2101, 1, 1), datetime(9999, 12, 31, 20)])
def test_an_as_of_time_outside_the_years_says_which_years_and_how_to_write_one(value):
    from digest.schedule import check_as_of

    with pytest.raises(ValueError) as info:
        check_as_of(value)
    assert str(info.value) == "is outside the years 2000 to 2100; use a time like 2026-11-23T08:00:00Z"


def test_a_slot_beyond_datetimes_range_names_the_time_and_the_years():
    with pytest.raises(InputError) as info:
        slot("Pacific/Kiritimati", datetime(9999, 12, 31, 20, tzinfo=UTC))
    assert str(info.value) == ("as_of: 9999-12-31T20:00:00+00:00 is outside the years 2000 to 2100 that the "
                               "schedule handles")


@pytest.mark.parametrize("name, day", [("monday", 0), ("tuesday", 1), ("wednesday", 2), ("thursday", 3),
                                       ("friday", 4), ("saturday", 5), ("sunday", 6)])
def test_every_full_day_name_is_a_day(name, day):
    assert parse_day(name) == day and parse_day(name.title()) == day


@pytest.mark.parametrize("as_of, send_day, expected", [
    # Monday noon: the latest Sunday 23:00 is the day before, the latest Saturday 23:00 two days before.
    (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), 6, datetime(2026, 11, 22, 23, 0, tzinfo=UTC)),
    (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), 5, datetime(2026, 11, 21, 23, 0, tzinfo=UTC)),
    # Sunday 23:30: this Sunday's slot, and Monday's is six days back.
    (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), 6, datetime(2026, 11, 29, 23, 0, tzinfo=UTC)),
    (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), 0, datetime(2026, 11, 23, 23, 0, tzinfo=UTC)),
])
def test_a_weekly_slot_is_the_latest_send_day_at_or_before_the_time(as_of, send_day, expected):
    assert slot("UTC", as_of, day=send_day, hour=23).scheduled_for == expected


def test_times_are_utc_whatever_the_hosts_time_zone(monkeypatch):
    import time

    from digest.schedule import check_as_of

    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    time.tzset()
    try:
        assert check_as_of(datetime(2026, 11, 23, 8, 0)) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        found = slot("Europe/Berlin", datetime(2026, 11, 24, tzinfo=UTC))
        assert found.scheduled_for == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
        assert found.scheduled_for.utcoffset() == timedelta(0)
        assert found.scheduled_for.isoformat() == "2026-11-23T07:00:00+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()
