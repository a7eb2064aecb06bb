"""The executors that run the due pass, and due_pass, which picks the configured one.

Both run one job body on the ledger, so exactly-once rests on the ledger in both, never on a queue:

- `inline` (inline.py; any database, the default): the due pass plans the ledger rows, then
  DIGEST_WORKER_CONCURRENCY threads drain them (Pipeline.drain, as `send --due`), in each of
  DIGEST_SEND_PROCESSES forked processes (processes.py) when enough is due.
- `queue` (queue.py; PostgreSQL only): the due pass plans the rows and defers jobs naming them;
  `digest worker` processes run the jobs (DigestJob: claim those digests by id, build, send, record).

options.py reads DIGEST_EXECUTOR and DIGEST_WORKER_* into WorkerOptions.
"""

from __future__ import annotations

from datetime import datetime

from ..pipeline import Pipeline
from .inline import run_inline
from .options import EXECUTORS, MailerFactory, WorkerOptions, is_postgres, libpq_url
from .queue import Busy, DigestJob, enqueue_due, ensure_queue_schema, queue_stats, run_worker

__all__ = [
    "EXECUTORS", "Busy", "DigestJob", "MailerFactory", "WorkerOptions", "due_pass", "enqueue_due",
    "ensure_queue_schema", "is_postgres", "libpq_url", "queue_stats", "run_inline", "run_worker",
]


def due_pass(pipeline: Pipeline, mailer_factory: MailerFactory, options: WorkerOptions):
    """The scheduler's pass for the configured executor: (stop, as_of) -> JSON-able summary."""
    if options.executor == "queue":
        ensure_queue_schema(pipeline.settings.database_url)

        def enqueue(stop, as_of: datetime) -> dict:
            return enqueue_due(pipeline, as_of, batch=options.batch)

        return enqueue

    def inline(stop, as_of: datetime) -> dict:
        return run_inline(pipeline, mailer_factory, as_of, concurrency=options.concurrency, stop=stop,
                          processes=options.send_processes).as_json()

    return inline
