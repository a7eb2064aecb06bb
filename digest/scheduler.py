"""The built-in scheduler: APScheduler 3 in the foreground, running the due pass on an interval in UTC.

The job has a fixed id, coalesces missed runs into one, never overlaps itself and has an explicit
misfire grace time. SIGTERM and SIGINT set a stop flag that the due pass checks before each
message: the message in flight is finished and recorded, what was claimed but not sent is
released for the next run, then the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timezone
from typing import Callable, NamedTuple, Sequence

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from . import metrics
from .config import Settings
from .errors import ConfigError, DigestError

log = logging.getLogger("digest.scheduler")

JOB_ID = "digest-due-pass"

# A due pass: given a stop() callable and the time to act as of, it returns a JSON-able summary.
DuePass = Callable[[Callable[[], bool], datetime], dict]


class Job(NamedTuple):
    """Another interval job beside the due pass (the feed poll, say): run at once, then every
    `interval` seconds, never two at a time; its result dict is logged, a failure logged and retried
    at the next interval."""

    name: str
    interval: int
    run: Callable[[], dict | None]


def interval_from_settings(settings: Settings) -> tuple[int, int]:
    """(interval, misfire grace) in seconds from DIGEST_SCHEDULER_INTERVAL / DIGEST_SCHEDULER_MISFIRE_GRACE."""
    try:
        interval = int(settings.scheduler_interval)
        grace = int(settings.scheduler_misfire_grace or interval)
    except (TypeError, ValueError):
        raise ConfigError("DIGEST_SCHEDULER_INTERVAL and DIGEST_SCHEDULER_MISFIRE_GRACE are whole seconds") from None
    if interval < 1 or grace < 1:
        raise ConfigError("DIGEST_SCHEDULER_INTERVAL and DIGEST_SCHEDULER_MISFIRE_GRACE must be at least 1 second")
    return interval, grace


class DueScheduler:
    """Runs `due_pass` every `interval` seconds (first run at once) until stopped by a signal or stop()."""

    def __init__(self, due_pass: DuePass, *, interval: int = Settings.scheduler_interval,
                 misfire_grace: int | None = None, on_result: Callable[[dict], None] | None = None,
                 clock: Callable[[], datetime] | None = None, jobs: Sequence[Job] = ()):
        self.due_pass = due_pass
        self.on_result = on_result
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._stop = threading.Event()
        self._running = threading.Lock()
        self.passes = 0
        self.error: ConfigError | None = None
        self.scheduler = BlockingScheduler(timezone=timezone.utc)
        # A pass that overruns its interval, or a machine that slept, must lead to one pass, not a
        # burst of them: coalesce and max_instances=1. A run later than misfire_grace is dropped;
        # the next one catches up (the due pass always looks at everything still unsent).
        self.job = self.scheduler.add_job(
            self._run, trigger=IntervalTrigger(seconds=interval, timezone=timezone.utc), id=JOB_ID,
            name="digest due pass", coalesce=True, max_instances=1,
            misfire_grace_time=misfire_grace or interval, next_run_time=datetime.now(timezone.utc),
            replace_existing=True)
        for job in jobs:
            self.scheduler.add_job(
                self._run_job, args=(job,), trigger=IntervalTrigger(seconds=job.interval, timezone=timezone.utc),
                id=f"digest-{job.name}", name=job.name, coalesce=True, max_instances=1,
                misfire_grace_time=job.interval, next_run_time=datetime.now(timezone.utc), replace_existing=True)

    def _run_job(self, job: Job) -> None:
        if self._stop.is_set():
            return
        try:
            result = job.run()
        except DigestError as exc:  # a server down, a setting to fix: one line, retried at the next interval
            log.error("%s failed: %s; trying again in %d s", job.name, exc, job.interval)
            return
        except Exception:  # one failed run must not end the scheduler; the next interval retries
            log.exception("%s failed", job.name)
            return
        log.info("%s: %s", job.name, result)

    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        with self._running:
            # Checked under the lock: once run() holds it after a stop, no new pass can begin.
            if self._stop.is_set():
                return
            as_of, started = self.clock(), time.time()
            try:
                result = self.due_pass(self.stopping, as_of)
            except ConfigError as exc:
                self.error = exc  # the operator's to fix: run() raises it, the CLI exits 2
                self.stop()
                return
            except Exception:  # one failed pass must not end the scheduler; the next one retries
                log.exception("due pass as of %s failed", as_of.isoformat())
                return
            self.passes += 1
            metrics.due_pass_done(started, time.time() - started)
            log.info("due pass as of %s: %s", as_of.isoformat(), result)
            if self.on_result:
                self.on_result({"as_of": as_of.isoformat(), **result})

    def stop(self, *_signal_args) -> None:
        """Ask the running pass to stop after the message in flight, and the scheduler to exit."""
        if not self._stop.is_set():
            log.info("stopping: finishing the message in flight, releasing the rest")
        self._stop.set()
        if self.scheduler.running:
            # wait=False: this may run inside a signal handler; run() waits for the pass below.
            self.scheduler.shutdown(wait=False)

    def run(self, *, install_signal_handlers: bool = True) -> None:
        """Block until SIGTERM/SIGINT (or stop()); return once the pass in flight has ended."""
        previous = {}
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self.stop)
        try:
            if not self._stop.is_set():
                self.scheduler.start()
        finally:
            self._stop.set()
            with self._running:  # the pass in flight (in APScheduler's thread pool) has returned
                pass
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self.error is not None:
            raise self.error
