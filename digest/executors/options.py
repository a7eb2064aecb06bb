"""How the due pass runs: the executor and the worker settings (DIGEST_EXECUTOR, DIGEST_WORKER_*)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from ..config import Settings
from ..db import normalize_url
from ..errors import ConfigError

EXECUTORS = ("inline", "queue")

MailerFactory = Callable[[], object]


@dataclass(frozen=True)
class WorkerOptions:
    """How many worker processes and concurrent jobs; read from settings (DIGEST_WORKER_*)."""

    executor: str = Settings.executor
    processes: int = Settings.worker_processes
    concurrency: int = Settings.worker_concurrency
    stalled_seconds: float = Settings.worker_stalled_seconds
    shutdown_seconds: float = Settings.worker_shutdown_seconds
    poll_seconds: float = Settings.worker_poll_seconds
    batch: int = Settings.worker_batch
    send_processes: int | None = Settings.send_processes

    @classmethod
    def from_settings(cls, settings: Settings) -> "WorkerOptions":
        """The worker settings, already checked by load_settings (each a number above 0, a known executor)."""
        executor = settings.executor
        if executor == "queue" and not is_postgres(settings.database_url):
            raise ConfigError("DIGEST_EXECUTOR=queue needs PostgreSQL (DIGEST_DATABASE_URL=postgresql://...); "
                              "on SQLite use DIGEST_EXECUTOR=inline")
        return cls(executor=executor,
                   processes=settings.worker_processes,
                   concurrency=settings.worker_concurrency,
                   stalled_seconds=settings.worker_stalled_seconds,
                   shutdown_seconds=settings.worker_shutdown_seconds,
                   poll_seconds=settings.worker_poll_seconds,
                   batch=settings.worker_batch,
                   send_processes=settings.send_processes)


def is_postgres(url: str) -> bool:
    return sa.engine.make_url(normalize_url(url)).get_backend_name() == "postgresql"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq understands it (procrastinate connects with psycopg directly)."""
    return sa.engine.make_url(normalize_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)
