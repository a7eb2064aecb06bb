"""Scale-out: procrastinate workers on the real PostgreSQL sending to a real SMTP server, each digest once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email.parser import BytesHeaderParser

import pytest
from sqlmodel import Session, select

from digest.config import Settings
from digest.db import make_engine, upgrade
from digest.errors import ConfigError
from digest.mailers.memory import MemoryMailer
from digest.models import Digest
from digest.pipeline import Pipeline
from digest.executors import WorkerOptions, enqueue_due, ensure_queue_schema, queue_stats, run_inline
from tests.conftest import ROOT, create_postgres_database, drop_postgres_database, require_postgres
from tests.smtp_helpers import SMTPServer
from tests.worker_helpers import AS_OF, build_world


@pytest.fixture
def pg_url():
    require_postgres()
    url = create_postgres_database()
    try:
        upgrade(url)
        ensure_queue_schema(url)
        yield url
    finally:
        drop_postgres_database(url)


def settings_for(url: str, **kw) -> Settings:
    return Settings(database_url=url, secret_key="test-secret-key", grace_hours=48, mailer="memory", **kw)


def worker_env(url: str, smtp_port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET_KEY="test-secret-key", DIGEST_GRACE_HOURS="48",
               DIGEST_MAILER="smtp", DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(smtp_port),
               DIGEST_EXECUTOR="queue", DIGEST_WORKER_CONCURRENCY="2", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def start_worker(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "digest", "worker", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def message_ids(server: SMTPServer) -> list[str]:
    parser = BytesHeaderParser()
    return [parser.parsebytes(m.data)["Message-ID"] for m in server.messages]


def ledger(url: str) -> list[Digest]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(Digest).order_by(Digest.id)).all())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_four_worker_processes_send_two_thousand_digests_each_exactly_once(pg_url):
    engine = make_engine(pg_url)
    emails = build_world(engine, subscribers=2000)
    pipeline = Pipeline(engine, settings_for(pg_url))
    enqueued = enqueue_due(pipeline, AS_OF)
    assert enqueued == {"planned": 2000, "missed": 0, "enqueued": 2000, "jobs": 80}  # DIGEST_WORKER_BATCH=25
    assert enqueue_due(pipeline, AS_OF)["enqueued"] == 0  # a second pass finds every digest already queued
    with SMTPServer() as server:
        env = worker_env(pg_url, server.port, DIGEST_WORKER_CONCURRENCY="4")
        workers = [start_worker(env, "--burst") for _ in range(4)]
        outputs = [w.communicate(timeout=240) for w in workers]
        assert [w.returncode for w in workers] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
        ids = message_ids(server)
        recipients = Counter(r for m in server.messages for r in m.rcpt_tos)
    rows = ledger(pg_url)
    assert len(ids) == 2000 and len(set(ids)) == 2000
    assert recipients == Counter(emails)
    assert Counter(r.state for r in rows) == {"sent": 2000}
    assert {r.message_id for r in rows} == set(ids)
    assert queue_stats(pg_url).get("todo", 0) == 0 and queue_stats(pg_url).get("doing", 0) == 0
    engine.dispose()


class HoldFirstDelivery:
    """aiosmtpd handler: the first DATA for `victim` is held (never answered, never recorded); later ones
    are accepted. Everything accepted is recorded by Message-ID."""

    def __init__(self, victim: str):
        self.victim = victim
        self.held = threading.Event()
        self.accepted: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.victim in envelope.rcpt_tos and not self.held.is_set():
            self.held.set()
            await asyncio.sleep(60)  # the sender is killed meanwhile; nobody reads this reply
            return "451 4.3.0 held"
        message_id = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)["Message-ID"]
        with self.lock:
            self.accepted.extend((rcpt, message_id) for rcpt in envelope.rcpt_tos)
        return "250 2.0.0 Ok"


@pytest.mark.postgres
def test_a_worker_killed_mid_job_has_its_digest_completed_by_another_once(pg_url):
    from aiosmtpd.controller import Controller

    from tests.smtp_helpers import free_port

    engine = make_engine(pg_url)
    emails = build_world(engine, subscribers=12)
    victim = emails[5]
    handler = HoldFirstDelivery(victim)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    # One job at a time per worker: the killed one has only the victim's message in flight (with
    # more, a message accepted just before the kill could not be recorded and would be resent).
    env = worker_env(pg_url, port, DIGEST_WORKER_STALLED_SECONDS="2", DIGEST_WORKER_POLL_SECONDS="0.5",
                     DIGEST_SMTP_TIMEOUT="120", DIGEST_WORKER_CONCURRENCY="1")
    workers = [start_worker(env) for _ in range(2)]
    try:
        enqueue_due(Pipeline(engine, settings_for(pg_url)), AS_OF)
        assert handler.held.wait(60), "the victim's message never reached the server"
        with Session(engine) as session:
            row = session.exec(select(Digest).where(Digest.subscriber_id == 6)).one()
        assert row.state == "sending"
        pid = int(row.lease_owner.split(":")[1])
        killed = next(w for w in workers if w.pid == pid)
        os.kill(pid, signal.SIGKILL)
        killed.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = Counter(r.state for r in ledger(pg_url))
            if states == {"sent": 12}:
                break
            time.sleep(0.3)
        survivor = next(w for w in workers if w is not killed)
        survivor.send_signal(signal.SIGTERM)
        _, err = survivor.communicate(timeout=30)
        assert survivor.returncode == 0, err[-3000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        controller.stop()
    rows = ledger(pg_url)
    assert Counter(r.state for r in rows) == {"sent": 12}, (err[-3000:], [(r.state, r.attempts, r.last_error) for r in rows])
    delivered = Counter(rcpt for rcpt, _ in handler.accepted)
    assert delivered == Counter(emails)  # the victim too, and exactly once
    victim_row = next(r for r in rows if r.subscriber_id == 6)
    assert (victim, victim_row.message_id) in handler.accepted
    engine.dispose()


def test_inline_executor_with_four_threads_sends_each_digest_once_on_sqlite(sqlite_url):
    engine = make_engine(sqlite_url)
    emails = build_world(engine, subscribers=120)
    MemoryMailer.reset()
    pipeline = Pipeline(engine, settings_for(sqlite_url))
    counts = run_inline(pipeline, MemoryMailer, AS_OF, concurrency=4)
    again = run_inline(pipeline, MemoryMailer, AS_OF, concurrency=4)
    assert (counts.due, counts.sent, again.due) == (120, 120, 0)
    assert Counter(m.recipient for m in MemoryMailer.outbox) == Counter(emails)
    engine.dispose()


def test_queue_executor_on_sqlite_is_refused_with_what_to_use_instead(sqlite_url):
    with pytest.raises(ConfigError, match="DIGEST_EXECUTOR=inline"):
        WorkerOptions.from_settings(_WithExecutor(settings_for(sqlite_url), "queue"))


class _WithExecutor:
    def __init__(self, settings, executor):
        self._settings, self.executor = settings, executor

    def __getattr__(self, name):
        return getattr(self._settings, name)


@pytest.mark.postgres
def test_one_job_per_digest_and_jobs_of_the_older_one_digest_form_are_still_run(pg_url):
    import sqlalchemy as sa

    engine = make_engine(pg_url)
    emails = build_world(engine, subscribers=30)
    pipeline = Pipeline(engine, settings_for(pg_url, worker_batch=1))
    assert enqueue_due(pipeline, AS_OF) == {"planned": 30, "missed": 0, "enqueued": 30, "jobs": 30}
    with engine.begin() as conn:
        sizes = conn.execute(sa.text("SELECT jsonb_array_length(args->'digest_ids') FROM procrastinate_jobs")).scalars().all()
        assert sizes == [1] * 30
        # Five jobs as an earlier version deferred them: {"digest_id": N}.
        conn.execute(sa.text("""UPDATE procrastinate_jobs
                                   SET args = jsonb_build_object('digest_id', args->'digest_ids'->0, 'as_of', args->'as_of')
                                 WHERE id IN (SELECT id FROM procrastinate_jobs ORDER BY id LIMIT 5)"""))
    # A due pass sees the older jobs as covering their digests and defers nothing new.
    assert enqueue_due(pipeline, AS_OF)["enqueued"] == 0
    with SMTPServer() as server:
        worker = start_worker(worker_env(pg_url, server.port), "--burst")
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        recipients = Counter(r for m in server.messages for r in m.rcpt_tos)
    assert recipients == Counter(emails)
    assert Counter(r.state for r in ledger(pg_url)) == {"sent": 30}
    assert queue_stats(pg_url).get("todo", 0) == 0
    engine.dispose()


@pytest.mark.postgres
def test_a_batch_job_sends_what_it_can_claim_and_asks_to_be_retried_for_a_row_held_elsewhere(pg_url):
    import sqlalchemy as sa

    from digest.executors import Busy, DigestJob

    engine = make_engine(pg_url)
    build_world(engine, subscribers=6)
    pipeline = Pipeline(engine, settings_for(pg_url))
    enqueue_due(pipeline, AS_OF)
    ids = [r.id for r in ledger(pg_url)]
    MemoryMailer.reset()
    job = DigestJob(pipeline, MemoryMailer)
    # Another transaction holds one row's lock (a claim in progress elsewhere): a claim skips it.
    with engine.connect() as other, other.begin():
        other.execute(sa.text("SELECT id FROM digest WHERE id = :id FOR UPDATE"), {"id": ids[2]})
        with pytest.raises(Busy, match=str(ids[2])):
            job(ids, AS_OF)
    assert len(MemoryMailer.outbox) == 5
    assert Counter(r.state for r in ledger(pg_url)) == {"sent": 5, "planned": 1}
    counts = job(ids, AS_OF)  # procrastinate's retry of the same job: only the held row is left
    assert (counts.due, counts.sent) == (1, 1) and len(MemoryMailer.outbox) == 6
    assert Counter(r.state for r in ledger(pg_url)) == {"sent": 6}
    job.close()
    engine.dispose()
