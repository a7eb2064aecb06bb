"""The former home of the executors, kept so existing imports work: see digest.executors."""

from .executors import (EXECUTORS, Busy, DigestJob, MailerFactory, WorkerOptions, due_pass, enqueue_due,
                        ensure_queue_schema, is_postgres, libpq_url, queue_stats, run_inline, run_worker)

__all__ = [
    "EXECUTORS", "Busy", "DigestJob", "MailerFactory", "WorkerOptions", "due_pass", "enqueue_due",
    "ensure_queue_schema", "is_postgres", "libpq_url", "queue_stats", "run_inline", "run_worker",
]
