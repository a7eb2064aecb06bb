"""The staff preview as staff open it right after loading the seed data (issue 15, point 9): when
nothing would be sent at the chosen time, the page says when the newest articles are and offers
that reader's issue holding them in one click; the subscriber list says a daily reader's schedule
as a daily one."""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from html import unescape
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, func, select

from digest.config import Settings
from digest.db import make_engine, upgrade
from digest.models import Article
from digest.pipeline import Pipeline
from digest.schedule import latest_slot
from digest.web import create_app
from subscribers.records import add_subscriber
from tests.web_helpers import build_seeded, copy_seeded, local_client, settings_for

ANA = "ana@example.com"  # weekly, Monday 08:00 Asia/Seoul
JIHOON = "jihoon.park@example.net"  # daily, 07:00 Asia/Seoul


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def staff(seeded, tmp_path):
    url = copy_seeded(seeded, tmp_path)
    settings = settings_for(url, tmp_path)
    engine = make_engine(url)
    with Session(engine) as session:
        newest = session.exec(select(func.max(Article.published_at))).one().replace(tzinfo=timezone.utc)
    yield SimpleNamespace(client=local_client(create_app(settings, engine)), pipeline=Pipeline(engine, settings),
                          newest=newest)
    engine.dispose()


def newest_link(page: str) -> str:
    match = re.search(r'<a class="button" id="newest-issue" href="([^"]+)">', page)
    assert match, page
    return unescape(match.group(1))


@pytest.mark.parametrize("address, tz, day, hour, frequency, label", [
    (ANA, "Asia/Seoul", 0, 8, "weekly", "Week 48, 2026"),
    (JIHOON, "Asia/Seoul", 0, 7, "daily", "Monday, Nov 23, 2026"),
])
def test_a_preview_on_nothing_says_when_the_newest_articles_are_and_opens_their_issue_in_one_click(
        staff, address, tz, day, hour, frequency, label):
    page = staff.client.get("/preview", params={"email": address}).text  # the default: now
    assert 'id="nothing"' in page and "Nothing would be sent" in page
    assert f"The newest articles were published on {staff.newest:%Y-%m-%d %H:%M} UTC." in page
    link = newest_link(page)
    # The first send after the newest article, for this reader's schedule.
    step = timedelta(days=1 if frequency == "daily" else 7)
    slot = latest_slot(tz_name=tz, send_day=day, send_hour=hour, frequency=frequency, as_of=staff.newest + step)
    assert slot.scheduled_for > staff.newest
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/preview" and query["email"] == [address]
    assert query["as_of"] == [f"{slot.scheduled_for.astimezone(timezone.utc):%Y-%m-%dT%H:%M}"]
    assert f"Preview {label}</a>" in page

    built = staff.pipeline.preview(address, slot.scheduled_for)
    count = len(built.selection.choices)
    assert count and f"{count} {'story' if count == 1 else 'stories'}, sent" in page
    opened = staff.client.get(link).text  # the one click
    assert 'id="nothing"' not in opened and 'id="articles"' in opened
    assert opened.count('<td class="rank">') == count
    assert "The newest articles" not in opened


def test_a_preview_on_an_empty_database_says_to_load_articles(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        add_subscriber(session, email=ANA, timezone="Asia/Seoul")
        session.commit()
    client = local_client(create_app(Settings(database_url=url, secret_key="k", mailer="memory",
                                              outbox=str(tmp_path / "outbox")), engine))
    page = client.get("/preview", params={"email": ANA}).text
    assert "Nothing would be sent" in page and "There are no articles yet" in page and "newest-issue" not in page
    engine.dispose()


def test_the_subscriber_list_says_a_daily_schedule_without_a_weekday(staff):
    page = staff.client.get("/").text
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<span class="muted">([^<]+)</span></td>\s*<td>.*?</td>\s*<td>([^<]+)<br>', page, re.S)}
    assert rows[JIHOON] == "daily, 07:00"
    assert rows[ANA] == "weekly, mon 08:00"
