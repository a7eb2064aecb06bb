"""Web writes: a write transaction that waits for the database like the CLI, and the spool applier."""

from __future__ import annotations

import logging
import math
import threading
import time
from contextlib import contextmanager

import sqlalchemy as sa
from sqlmodel import Session
from starlette.requests import Request

from digest.spool import WRITE_BEGUN, Spool

log = logging.getLogger("digest.web")


def request_write(request: Request):
    """write_session for a request: DIGEST_WEB_WRITE_WAIT counted from the request's arrival, so time
    queued for a worker thread or a database connection counts and no request waits twice the setting."""
    state = request.app.state
    return write_session(state.engine, state.settings.web_write_wait, since=getattr(request.state, "arrived", None))


class WriteBusy(Exception):
    """The database stayed locked longer than DIGEST_WEB_WRITE_WAIT: answered 503 with Retry-After
    (an unsubscribe is spooled instead)."""

    def __init__(self, wait: float):
        super().__init__(f"the database stayed busy for {wait:g} s")
        self.retry_after = max(1, math.ceil(wait))


@contextmanager
def write_session(engine: sa.Engine, wait: float, *, since: float | None = None):
    """A session whose transaction is a write transaction from its first statement, as the CLI's.

    SQLite: BEGIN IMMEDIATE with the busy timeout set to `wait` seconds, so the request queues on
    the write lock instead of reading first and failing to upgrade (a deferred transaction cannot
    wait). PostgreSQL: SET LOCAL lock_timeout to `wait`. A lock held longer raises WriteBusy,
    whether it shows at the start, in a statement or at the commit. The caller commits. With
    `since` (a time.monotonic() value), the wait counts from then, the connection checkout included.
    """
    limit = wait
    with engine.connect() as conn:
        if since is not None:
            wait = max(0.0, limit - (time.monotonic() - since))
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        previous = None
        if raw is not None:
            previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
            raw.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            conn.execution_options(digest_immediate=True)
        try:
            with Session(bind=conn) as session:
                session.info[WRITE_BEGUN] = True
                try:
                    session.connection()  # SQLite: BEGIN IMMEDIATE, waiting up to `wait`
                    if raw is None:
                        # PostgreSQL's 0 means "no limit"; ours means "do not wait".
                        session.execute(sa.text(f"SET LOCAL lock_timeout = '{max(1, int(wait * 1000))}ms'"))
                    yield session
                except sa.exc.DBAPIError as exc:
                    if not is_lock_error(exc):
                        raise
                    session.rollback()
                    raise WriteBusy(limit) from None
        finally:
            if raw is not None and previous is not None:
                raw.execute(f"PRAGMA busy_timeout={int(previous)}")


def is_lock_error(exc: sa.exc.DBAPIError) -> bool:
    """A lock that was not granted in time (SQLite: busy; PostgreSQL: lock_not_available, deadlock)."""
    if getattr(exc.orig, "sqlstate", None) in ("55P03", "40P01"):
        return True
    text = str(exc.orig)
    return "database is locked" in text or "database table is locked" in text


class SpoolApplier:
    """Applies the unsubscribe spool in a background thread, started when something is spooled
    (or found at start-up) and ended once the spool is empty."""

    RETRY_AFTER_ERROR = 10.0

    def __init__(self, spool: Spool, engine: sa.Engine, wait: float, *, interval: float = 0.2,
                 enabled: bool = True):
        self.spool, self.engine, self.wait, self.interval = spool, engine, wait, interval
        self.enabled = enabled
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def kick(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="digest-spool", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(self.wait + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.interval
            try:
                with write_session(self.engine, max(self.wait, 1.0)) as session:
                    self.spool.apply(session)
            except WriteBusy:
                pass  # still busy: try again shortly
            except Exception:  # the database is gone, the folder unreadable: the operator's to fix
                log.exception("applying the unsubscribe spool failed; trying again in %g s", self.RETRY_AFTER_ERROR)
                delay = self.RETRY_AFTER_ERROR
            with self._lock:
                if not self.spool.waiting():
                    self._thread = None  # under the lock: a kick() after this starts a new thread
                    return
            self._stop.wait(delay)
        with self._lock:
            self._thread = None
