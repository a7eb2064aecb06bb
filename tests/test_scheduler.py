"""The built-in scheduler and due computation through the pipeline: right UTC hour in every zone, once."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from digest.config import Settings
from digest.db import make_engine
from digest.mailers.file import FileMailer
from digest.mailers.memory import MemoryMailer
from digest.models import Digest
from digest.pipeline import Pipeline
from digest.errors import DeliveryError
from digest.scheduler import JOB_ID, DueScheduler, Job
from digest.schedule import zone
from digest.executors import enqueue_due, run_inline
from tests.conftest import ROOT
from tests.pipeline_helpers import add_people, load_articles

UTC = timezone.utc
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns", "Europe/Berlin"]


def article(i: int, published: datetime) -> dict:
    return {"url": f"https://amw.example/news/sched-{i}", "title": f"xAI story {i}", "summary": "s",
            "published_at": published.isoformat().replace("+00:00", "Z"), "category": "Technology",
            "region": "US", "read_minutes": 2, "companies": ["xAI"], "segments": ["Data & IP"], "tags": [],
            "scores": {"novelty": {"score": 2, "note": "n"}, "significance": {"score": 2, "note": "s"}}}


def articles_between(start: datetime, end: datetime, every=timedelta(hours=6)) -> list[dict]:
    out, t, i = [], start, 0
    while t < end:
        out.append(article(i, t))
        t, i = t + every, i + 1
    return out


# -- due computation through the pipeline -------------------------------------------------------

# The weekends on which clocks change: Europe (last Sunday of March and October) and North America
# (second Sunday of March, first Sunday of November; St John's changes at 02:00 local).
DST_WEEKENDS = [datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC),
                datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)]
# (send_day, send_hour, frequency): Monday 08:00 weekly, and 02:00 daily, which on a transition day
# in Berlin and St John's is skipped (spring) or occurs twice (autumn).
SCHEDULES = [(0, 8, "weekly"), (6, 2, "daily")]


def expected_instants(tz: str, day: int, hour: int, frequency: str, start: datetime, end: datetime) -> set[datetime]:
    """Independently of digest.schedule: the quarter hours in (start, end] at which the local wall
    clock reaches `hour` on a matching day: the first one at or past the hour whose previous quarter
    was before it (a skipped hour lands on the jump; an hour that occurs twice counts once)."""
    tzinfo = zone(tz)
    found = set()
    instant = start + timedelta(minutes=15)
    while instant <= end:
        local, before = instant.astimezone(tzinfo), (instant - timedelta(minutes=15)).astimezone(tzinfo)
        reached = local.hour >= hour and (before.date() != local.date() or before.hour < hour)
        if reached and (frequency == "daily" or local.weekday() == day):
            found.add(instant)
        instant += timedelta(minutes=15)
    return found


@pytest.mark.parametrize("weekend", DST_WEEKENDS, ids=lambda d: d.date().isoformat())
def test_readers_in_every_zone_receive_their_digest_in_the_right_utc_quarter_hour_and_only_then(
        sqlite_url, tmp_path, weekend):
    engine = make_engine(sqlite_url)
    start, end = weekend + timedelta(hours=12), weekend + timedelta(days=3)  # Saturday noon to Tuesday, UTC
    load_articles(engine, tmp_path, articles_between(start - timedelta(days=8), end))
    people, schedule_of = [], {}
    for tz in ZONES:
        for day, hour, frequency in SCHEDULES:
            address = f"{tz.split('/')[1].lower()}.{frequency}@example.com"
            people.append({"email": address, "name": address, "timezone": tz, "send_day": day,
                           "send_hour": hour, "frequency": frequency, "companies": ["xAI"]})
            schedule_of[address] = (tz, day, hour, frequency)
    add_people(engine, people)
    # Slots before the first step are history: mark them sent so that only this weekend's count.
    pipeline = Pipeline(engine, Settings(database_url=sqlite_url, secret_key="k", grace_hours=1))
    MemoryMailer.reset()
    pipeline.send_due(MemoryMailer(), start)
    MemoryMailer.reset()
    received: dict[str, list[datetime]] = defaultdict(list)
    step = start + timedelta(minutes=15)
    while step <= end:
        pipeline.send_due(MemoryMailer(), step)
        for message in MemoryMailer.outbox:
            received[message.recipient].append(step)
        MemoryMailer.outbox.clear()
        step += timedelta(minutes=15)
    for address, (tz, day, hour, frequency) in schedule_of.items():
        want = expected_instants(tz, day, hour, frequency, start, end)
        got = received.get(address, [])
        assert len(got) == len(set(got)) == len(want), (address, got, want)
        assert sorted(got) == sorted(want), (address, got, want)
    engine.dispose()


def test_a_send_hour_skipped_in_spring_goes_out_once_just_after_the_jump(sqlite_url, tmp_path):
    # Europe/Berlin jumps from 02:00 to 03:00 on Sunday 2026-03-29: 02:00 is sent at 03:00 CEST.
    engine = make_engine(sqlite_url)
    load_articles(engine, tmp_path, articles_between(datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)))
    add_people(engine, [{"email": "b@example.com", "name": "B", "timezone": "Europe/Berlin", "send_day": 6,
                         "send_hour": 2, "frequency": "daily", "companies": ["xAI"]}])
    pipeline = Pipeline(engine, Settings(database_url=sqlite_url, secret_key="k"))
    MemoryMailer.reset()
    pipeline.send_due(MemoryMailer(), datetime(2026, 3, 28, 23, 0, tzinfo=UTC))  # Saturday's is history
    times = []
    for minutes in range(5, 6 * 60, 5):
        as_of = datetime(2026, 3, 28, 23, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        if pipeline.send_due(MemoryMailer(), as_of).sent:
            times.append(as_of)
    assert times == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]
    engine.dispose()


def test_a_slot_missed_beyond_the_grace_period_is_recorded_as_skipped_and_logged(sqlite_url, tmp_path, caplog):
    engine = make_engine(sqlite_url)
    load_articles(engine, tmp_path, articles_between(datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)))
    add_people(engine, [{"email": "late@example.com", "name": "Late", "timezone": "Europe/Berlin", "companies": ["xAI"]},
                        {"email": "ontime@example.com", "name": "On time", "timezone": "Pacific/Pago_Pago",
                         "companies": ["xAI"]}])
    pipeline = Pipeline(engine, Settings(database_url=sqlite_url, secret_key="k", grace_hours=6))
    MemoryMailer.reset()
    # Monday 08:00 Berlin was 07:00 UTC, 13 h before this run; Pago Pago's was 19:00 UTC, 1 h before.
    with caplog.at_level(logging.WARNING, logger="digest.ledger"):
        counts = run_inline(pipeline, MemoryMailer, datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    assert counts.sent == 1 and [m.recipient for m in MemoryMailer.outbox] == ["ontime@example.com"]
    with Session(engine) as session:
        late = session.exec(select(Digest).where(Digest.subscriber_id == 1)).one()
    assert late.state == "skipped" and late.skip_reason.startswith("missed: scheduled for 2026-11-23 07:00 UTC")
    assert any("missed: scheduled for 2026-11-23 07:00 UTC" in r.getMessage() for r in caplog.records)
    # The next run neither sends it late nor logs it again.
    caplog.clear()
    assert run_inline(pipeline, MemoryMailer, datetime(2026, 11, 23, 21, 0, tzinfo=UTC)).sent == 0
    assert not caplog.records
    engine.dispose()


# -- the APScheduler job --------------------------------------------------------------------------


def test_the_due_pass_job_is_an_interval_job_in_utc_that_never_overlaps_or_bursts():
    scheduler = DueScheduler(lambda stop, as_of: {}, interval=300, misfire_grace=120)
    job = scheduler.scheduler.get_job(JOB_ID)
    assert job.id == "digest-due-pass"
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 120)
    assert job.trigger.interval == timedelta(seconds=300) and str(job.trigger.timezone) == "UTC"
    assert str(scheduler.scheduler.timezone) == "UTC"


def test_the_scheduler_runs_a_pass_at_once_and_stops_cleanly_after_it():
    passes = []

    def due_pass(stop, as_of):
        passes.append(as_of)
        threading.Timer(0.05, scheduler.stop).start()
        return {"sent": 0}

    scheduler = DueScheduler(due_pass, interval=3600)
    runner = threading.Thread(target=scheduler.run, kwargs={"install_signal_handlers": False})
    runner.start()
    runner.join(10)
    assert not runner.is_alive() and len(passes) == 1 and scheduler.passes == 1


class SlowFileMailer(FileMailer):
    """Writes .eml files like the file mailer, a quarter second per message, so a signal lands mid-run."""

    def send_one(self, message):
        time.sleep(0.25)
        return super().send_one(message)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_pass_finishes_the_message_in_flight_and_releases_the_rest(sqlite_url, tmp_path, signum):
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    load_articles(engine, tmp_path, articles_between(now - timedelta(days=6), now - timedelta(hours=2)))
    # Due now, whatever the time of day: a daily send an hour ago, in UTC.
    hour = (now - timedelta(hours=1)).hour
    add_people(engine, [{"email": f"r{i}@example.com", "name": f"R{i}", "timezone": "UTC", "frequency": "daily",
                         "send_hour": hour, "companies": ["xAI"]} for i in range(12)])
    outbox = tmp_path / "outbox"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=sqlite_url, DIGEST_SECRET_KEY="k", DIGEST_OUTBOX=str(outbox),
               DIGEST_MAILER="tests.test_scheduler:SlowFileMailer", DIGEST_WORKER_CONCURRENCY="1",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "digest", "scheduler", "--json"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(outbox.glob("*.eml"))) < 2:
            time.sleep(0.05)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    with Session(engine) as session:
        states = [row.state for row in session.exec(select(Digest)).all()]
    sent_files = len(list(outbox.glob("*.eml")))
    assert 2 <= result["sent"] == sent_files == states.count("sent") < 12
    assert "sending" not in states and states.count("planned") == 12 - sent_files
    # What was released goes out on the next run, and nothing twice.
    MemoryMailer.reset()
    pipeline = Pipeline(engine, Settings(database_url=sqlite_url, secret_key="k"))
    assert run_inline(pipeline, MemoryMailer, datetime.now(UTC)).sent == 12 - sent_files
    engine.dispose()


def test_a_side_job_that_fails_for_a_known_reason_logs_one_line_and_the_scheduler_goes_on(caplog):
    def refused():
        raise DeliveryError("the IMAP server 127.0.0.1:1 refused: bad password")

    scheduler = DueScheduler(lambda stop, as_of: {}, interval=3600)
    with caplog.at_level(logging.INFO, logger="digest"):
        scheduler._run_job(Job("mailbox poll", 300, refused))
        scheduler._run_job(Job("feed poll", 300, lambda: {"feeds": 1}))
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert "mailbox poll failed: the IMAP server 127.0.0.1:1 refused" in failed[0].getMessage()
    assert "trying again in 300 s" in failed[0].getMessage()
    assert any("feed poll: {'feeds': 1}" in r.getMessage() for r in caplog.records)
