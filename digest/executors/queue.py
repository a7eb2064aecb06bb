"""The queue executor (PostgreSQL): the due pass defers jobs of a few digests, `digest worker`
processes run them through procrastinate.

The due pass plans the ledger rows and, in the same transaction, defers one procrastinate job per
DIGEST_WORKER_BATCH sendable digests (25 by default; 1 gives one job per digest). A job is only a
nudge: the ledger claim decides, so a duplicate job sends nothing and a lost job is re-deferred by
the next due pass (the sweep picks up every sendable row that no waiting job names).

Why batches: a procrastinate job costs about 2 ms of CPU of its own (fetch, finish, the thread
hand-off), and a job of one digest also pays its own claim, reader and history queries; one
digest per job ran at 70-100 digests/s on the 2-core benchmark machine, a job of 25 at the
speed of the inline executor (see benchmarks/bench_e2e.py and docs/operations.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa
from sqlmodel import Session, select

from .. import ledger
from ..db import ANALYZE_AFTER_ROWS, analyze, normalize_url, sending_session
from ..errors import ConfigError
from ..models import Digest
from ..pipeline import Pipeline, RunCounts, owner_id
from .options import MailerFactory, WorkerOptions, is_postgres, libpq_url

log = logging.getLogger("digest.executors.queue")

QUEUE = "digest"
TASK = "digest.send_digest"
# Every enqueuing pass (scheduler, cron) takes this transaction-level lock first, so that two of them
# never both see a row without a job and defer it twice.
_ENQUEUE_LOCK = 0x64696765_7374  # "digest"
_SCHEMA_LOCK = _ENQUEUE_LOCK + 1


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- the job body: claim the digests a job names, then build, send and record them ---------------


class DigestJob:
    """Claim some digests by id, then build, send and record them; thread-safe, one mailer per thread.

    The mailer of each thread is opened on first use and kept open (one SMTP connection reused
    job after job); close() closes them all.
    """

    def __init__(self, pipeline: Pipeline, mailer_factory: MailerFactory):
        self.pipeline = pipeline
        pipeline.warm()
        self._factory = mailer_factory
        self._local = threading.local()
        self._mailers: list = []
        self._lock = threading.Lock()

    def mailer(self):
        mailer = getattr(self._local, "mailer", None)
        if mailer is None:
            mailer = self._factory()
            mailer.open()
            self._local.mailer = mailer
            with self._lock:
                self._mailers.append(mailer)
        return mailer

    def close(self) -> None:
        with self._lock:
            mailers, self._mailers = self._mailers, []
        for mailer in mailers:
            try:
                mailer.close()
            except Exception:  # closing is best effort; the messages are already recorded
                log.debug("closing a mailer failed", exc_info=True)

    def __call__(self, digest_ids: list[int], as_of: datetime | None = None, *,
                 stop: Callable[[], bool] | None = None) -> RunCounts:
        # A due pass run "as of" a later time (tests, a clock ahead) hands that time on; otherwise
        # the worker's own clock decides what is due.
        ids = list(dict.fromkeys(digest_ids))
        now = max(_utcnow(), as_of) if as_of else _utcnow()
        owner = owner_id()
        counts = RunCounts()
        with sending_session(self.pipeline.engine) as session:
            claims = self.pipeline.claim(session, owner, now, limit=len(ids), digest_ids=ids)
            if claims:
                self.pipeline.process(session, self.mailer(), claims, owner, now, counts, stop=stop)
            claimed = {c.digest_id for c in claims}
            held = self._sendable_among(session, [i for i in ids if i not in claimed], now)
        if held:
            raise Busy(f"digest(s) {', '.join(map(str, held))} held by another transaction; try again")
        return counts

    def _sendable_among(self, session: Session, digest_ids: list[int], now: datetime) -> list[int]:
        # Another worker's claim can hold a row's lock for a moment (it is turning a dead sender's
        # row into `unknown`, say); a claim then skips it. Sendable rows are tried again, rather than
        # waiting for the next due pass to notice them.
        if not digest_ids:
            return []
        settings = self.pipeline.settings
        held = session.exec(select(Digest.id).where(
            Digest.id.in_(digest_ids), ledger.sendable_clause(now, settings.max_attempts, settings.resend_unknown))).all()
        session.commit()
        return sorted(held)


class Busy(Exception):
    """A job's digest could not be claimed just now but is still to be sent: the job is retried."""


# -- the due pass: plan and defer jobs ----------------------------------------------------------


def ensure_queue_schema(url: str) -> bool:
    """Create procrastinate's tables in the digest database unless present; True if it created them."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            if conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
                return False
            from procrastinate.schema import SchemaManager  # procrastinate: only the queue executor loads it

            conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
            return True
    finally:
        engine.dispose()


def enqueue_due(pipeline: Pipeline, as_of: datetime, *, batch: int | None = None) -> dict:
    """Plan the due ledger rows and defer jobs for the sendable digests, in one transaction.

    Each job names up to `batch` digests (DIGEST_WORKER_BATCH). Sendable rows that a waiting job
    already names are left alone; everything else (new rows, deferred rows due again, rows of a
    crashed sender) goes into new jobs. Returns {"planned", "missed", "enqueued" (digests), "jobs"}.
    """
    engine = pipeline.engine
    settings = pipeline.settings
    batch = batch or WorkerOptions.from_settings(settings).batch
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ENQUEUE_LOCK)))
        # The pipeline commits its own units of work; bound to this connection they become
        # savepoints, and the one real commit below makes ledger rows and jobs visible together.
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            started = _utcnow()
            pipeline.plan_due(session, as_of)
            planned, missed = ledger.new_rows(session, since=started)
            ids = list(session.exec(select(Digest.id).where(
                ledger.sendable_clause(as_of, settings.max_attempts, settings.resend_unknown)).order_by(
                Digest.scheduled_for, Digest.id)).all())
        enqueued, jobs = _defer(conn, ids, as_of, batch)
        if jobs >= ANALYZE_AFTER_ROWS:
            analyze(conn, "procrastinate_jobs")
    return {"planned": planned, "missed": missed, "enqueued": enqueued, "jobs": jobs}


# The digests a waiting job names: `digest_ids` (a batch), or `digest_id` (one digest per job, as
# jobs deferred before batches were introduced still say).
_DEFER = sa.text("""
    WITH waiting AS (
        SELECT CAST(jsonb_array_elements_text(
                   coalesce(j.args -> 'digest_ids', jsonb_build_array(j.args -> 'digest_id'))) AS bigint) AS id
          FROM procrastinate_jobs j
         WHERE j.queue_name = :queue AND j.task_name = :task AND j.status = 'todo'
    ), todo AS (
        SELECT d.id, row_number() OVER (ORDER BY d.n) AS n
          FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS d(id, n)
         WHERE NOT EXISTS (SELECT 1 FROM waiting w WHERE w.id = d.id)
    ), jobs AS (
        SELECT (n - 1) / :batch AS job, jsonb_agg(id ORDER BY n) AS ids, count(*) AS size
          FROM todo GROUP BY 1
    ), deferred AS (
        SELECT procrastinate_defer_jobs_v1(ARRAY(
                   SELECT ROW(:queue, :task, 0, NULL, NULL,
                              jsonb_build_object('digest_ids', ids, 'as_of', CAST(:as_of AS text)),
                              NULL)::procrastinate_job_to_defer_v1
                     FROM jobs ORDER BY job)) AS job_ids
    )
    SELECT (SELECT coalesce(sum(size), 0) FROM jobs), coalesce(array_length(job_ids, 1), 0) FROM deferred
""")


def _defer(conn, ids: list[int], as_of: datetime, batch: int) -> tuple[int, int]:
    """Jobs of up to `batch` digests for the ids no waiting job names, through procrastinate's own
    defer function (so its triggers notify the workers); returns (digests, jobs).

    No procrastinate `lock` or queueing lock: the ledger claim already keeps two jobs naming one
    digest from both sending it, and the enqueue lock keeps two due passes from both deferring it.
    """
    if not ids:
        return 0, 0
    digests, jobs = conn.execute(_DEFER, {"queue": QUEUE, "task": TASK, "ids": ids, "batch": max(int(batch), 1),
                                          "as_of": as_of.isoformat()}).one()
    return int(digests or 0), int(jobs or 0)



# -- the worker: run the jobs ---------------------------------------------------------------------


def make_app(url: str):
    """A procrastinate App on the digest database (its own psycopg pool)."""
    import procrastinate  # ~150 ms to import and PostgreSQL only: loaded by the queue executor alone

    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq_url(url)))


def register_tasks(app, job: DigestJob, *, max_attempts: int = 5) -> None:
    """Register the send task: DigestJob on the digest id the due pass deferred."""
    import procrastinate  # see make_app

    @app.task(name=TASK, queue=QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=max_attempts * 4, wait=2))
    def send_digest(digest_ids: list[int] | None = None, as_of: str | None = None,
                    digest_id: int | None = None) -> dict:
        # `digest_id` is the one-digest form of jobs deferred by earlier versions. Raising (the
        # database went away, say) lets procrastinate retry the job; the lease and the ledger
        # state keep a retry from sending twice.
        ids = list(digest_ids or []) + ([digest_id] if digest_id is not None else [])
        counts = job(ids, datetime.fromisoformat(as_of) if as_of else None)
        return counts.as_json()


async def _recover_stalled(app, stalled_seconds: float, interval: float) -> None:
    """Hand jobs of workers that stopped sending heartbeats (killed, machine gone) back to the queue.

    Procrastinate notices a stalled worker but leaves retrying its jobs to the application.
    """
    while True:
        await asyncio.sleep(interval)
        try:
            stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_seconds)
        except Exception:
            log.warning("looking for stalled jobs failed", exc_info=True)
            continue
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                log.warning("job %s (%s) of a stalled worker is queued again", job.id, job.call_string)
            except Exception:  # another worker got to it first
                log.debug("retrying stalled job %s failed", job.id, exc_info=True)


def run_worker(pipeline: Pipeline, mailer_factory: MailerFactory, options: WorkerOptions, *,
               wait: bool = True, name: str | None = None) -> None:
    """Run one procrastinate worker in the foreground until SIGTERM/SIGINT (or, with wait=False,
    until the queue is empty). A stop lets running jobs finish within DIGEST_WORKER_SHUTDOWN_SECONDS."""
    if not is_postgres(pipeline.settings.database_url):
        raise ConfigError("digest worker needs PostgreSQL (DIGEST_DATABASE_URL=postgresql://...); "
                          "on SQLite, `digest scheduler` sends in-process with DIGEST_WORKER_CONCURRENCY threads")
    ensure_queue_schema(pipeline.settings.database_url)
    app = make_app(pipeline.settings.database_url)
    job = DigestJob(pipeline, mailer_factory)
    register_tasks(app, job)

    async def main() -> None:
        async with app.open_async():
            recovery = asyncio.create_task(_recover_stalled(app, options.stalled_seconds,
                                                            max(options.stalled_seconds / 3, 0.5)))
            try:
                await app.run_worker_async(
                    queues=[QUEUE], name=name, concurrency=options.concurrency, wait=wait,
                    fetch_job_polling_interval=options.poll_seconds,
                    shutdown_graceful_timeout=options.shutdown_seconds,
                    update_heartbeat_interval=max(options.stalled_seconds / 3, 0.5),
                    stalled_worker_timeout=options.stalled_seconds,
                    delete_jobs="successful", install_signal_handlers=True)
            finally:
                recovery.cancel()

    try:
        asyncio.run(main())
    finally:
        job.close()


def queue_stats(url: str) -> dict[str, int]:
    """Jobs per procrastinate status in the digest queue (for --json output and tests)."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status::text, count(*) FROM procrastinate_jobs "
                                        "WHERE queue_name = :q GROUP BY status"), {"q": QUEUE}).all()
        return {status: int(n) for status, n in rows}
    finally:
        engine.dispose()
