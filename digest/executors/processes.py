"""Several sending processes for one due pass (DIGEST_SEND_PROCESSES; `digest send`, the scheduler).

After the parent planned the pass, it forks the processes; each runs Pipeline.drain (in
`lanes` threads, as the inline executor does) with its own database connections, its own mailer
connections and its own lease owner, so the ledger's claims keep any two from sending the same
digest, exactly as for two `digest send` run side by side. The parent adds up their counts for
the progress bar and the summary, passes a stop request on (the message in flight is finished,
the rest released), and stops them at once on a second signal.

A child whose parent died (SIGKILL) stops as it would on a signal: with PR_SET_PDEATHSIG on Linux
the kernel kills it at once, elsewhere it notices before its next message. Either way a rerun
finds its rows as a dead sender's: at most the messages each process had on the wire are sent
twice (docs/delivery.md).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from datetime import datetime
from multiprocessing.connection import wait
from typing import Callable

from ..errors import ConfigError
from ..pipeline import Pipeline, RunCounts
from .options import MailerFactory

log = logging.getLogger("digest.executors.processes")

# A process sends at least this many batches: below that, forking and connecting cost more than
# the second core gives (a pass of 150 digests runs in one process).
MIN_BATCHES_PER_PROCESS = 4
_FIELDS = ("due", "sent", "skipped", "failed", "deferred", "halted")
_PROGRESS_EVERY = 0.2  # seconds between a child's progress reports
_PR_SET_PDEATHSIG = 1


def processes_for(configured: int | None, pending: int, batch_size: int) -> int:
    """How many processes a pass of `pending` digests uses: DIGEST_SEND_PROCESSES (default: the
    number of cores), fewer when there are not MIN_BATCHES_PER_PROCESS batches for each."""
    wanted = configured or os.cpu_count() or 1
    return max(1, min(wanted, pending // (MIN_BATCHES_PER_PROCESS * max(batch_size, 1))))


def can_fork(mailer) -> bool:
    """False for a mailer whose results live in this process (the memory mailer's outbox)."""
    return hasattr(os, "fork") and not getattr(mailer, "single_process", False)


def _counts_of(values) -> RunCounts:
    return RunCounts(**dict(zip(_FIELDS, values)))


class _Abort(BaseException):
    """A second signal in a child: stop at once (what was claimed and not handed over is released)."""


def _total(parts: list[RunCounts]) -> RunCounts:
    total = RunCounts()
    for part in list(parts):
        total.add(part)
    return total


def drain_lanes(pipeline: Pipeline, mailer_factory: MailerFactory, as_of: datetime, *, lanes: int,
                batch_size: int, stop: Callable[[], bool] | None, parts: list[RunCounts] | None = None,
                on_progress: Callable[[], None] | None = None) -> RunCounts:
    """`lanes` threads, each with its own mailer, draining the due rows (Pipeline.drain); returns
    their counts added up. `parts` (when given) receives each lane's live counts."""
    parts = [] if parts is None else parts
    lock = threading.Lock()
    errors: list[BaseException] = []

    def lane() -> None:
        mine = RunCounts()
        parts.append(mine)

        def report() -> None:
            with lock:
                on_progress()
        try:
            with mailer_factory() as mailer:
                pipeline.drain(mailer, as_of, batch_size=batch_size, stop=stop, counts=mine,
                               on_progress=report if on_progress else None)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    if lanes <= 1:
        lane()
    else:
        threads = [threading.Thread(target=lane, name=f"digest-lane-{i}") for i in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return _total(parts)


def _child(pipeline: Pipeline, mailer_factory: MailerFactory, as_of: datetime, lanes: int, batch_size: int,
           out, stopping, parent: int) -> None:
    """One sending process: its own connections, its own signal handling, counts sent to the parent."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the parent (Linux)
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    pipeline.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    signals = []

    def on_signal(signum, _frame) -> None:
        signals.append(signum)
        if len(signals) > 1:
            raise _Abort()
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    parts: list[RunCounts] = []
    last = [0.0]

    def progress() -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY:
            last[0] = now
            out.send(("progress", _values(_total(parts)), None))

    def stop() -> bool:
        return stopping.is_set() or os.getppid() != parent

    error = None
    try:
        drain_lanes(pipeline, mailer_factory, as_of, lanes=lanes, batch_size=batch_size, stop=stop, parts=parts,
                    on_progress=progress)
    except ConfigError as exc:
        error = ("config", str(exc))
    except _Abort:
        error = ("abort", "stopped at once by a second signal")
    except BaseException as exc:  # reported to the parent, which raises it
        log.exception("a sending process failed")
        error = ("error", f"{type(exc).__name__}: {exc}")
    out.send(("done", _values(_total(parts)), error))
    out.close()


def _sharing_rate(mailer_factory: MailerFactory, processes: int) -> MailerFactory:
    """Each process's mailers get 1/processes of the configured rate limit (DIGEST_SMTP_RATE_LIMIT,
    DIGEST_POSTMARK_RATE_LIMIT), so that the processes together keep to it."""
    def make():
        mailer = mailer_factory()
        if getattr(mailer, "rate_limit", 0):
            mailer.rate_limit = float(mailer.rate_limit) / processes
        return mailer
    return make


def _values(counts: RunCounts) -> list:
    return [getattr(counts, f) for f in _FIELDS]


def run_processes(pipeline: Pipeline, mailer_factory: MailerFactory, as_of: datetime, *, processes: int,
                  lanes: int = 1, batch_size: int = 50, stop: Callable[[], bool] | None = None,
                  counts: RunCounts | None = None, on_progress: Callable[[], None] | None = None) -> RunCounts:
    """Drain what is due with `processes` forked processes; `counts` (filled in place, also when
    this raises) adds up theirs. A ConfigError in any of them is raised here as a ConfigError."""
    counts = RunCounts() if counts is None else counts
    base = _values(counts)
    context = multiprocessing.get_context("fork")
    stopping = context.Event()
    children, readers, latest, errors = [], {}, {}, []
    pipeline.warm()  # compiled once, before the fork: every child inherits the templates
    mailer_factory = _sharing_rate(mailer_factory, processes)
    for index in range(processes):
        reader, writer = context.Pipe(duplex=False)
        child = context.Process(target=_child, name=f"digest-send-{index}", daemon=False,
                                args=(pipeline, mailer_factory, as_of, lanes, batch_size, writer, stopping, os.getpid()))
        child.start()
        writer.close()
        children.append(child)
        readers[reader] = index

    def refresh() -> None:
        total = _counts_of(base)
        for values in latest.values():
            total.add(_counts_of(values))
        for name in _FIELDS:
            setattr(counts, name, getattr(total, name))

    try:
        while readers:
            for reader in wait(list(readers), timeout=0.25):
                index = readers[reader]
                try:
                    kind, values, error = reader.recv()
                except EOFError:  # the child ended without a word (killed): its rows wait for a rerun
                    del readers[reader]
                    continue
                latest[index] = values
                if error is not None:
                    errors.append(error)
                if kind == "done":
                    del readers[reader]
            if stop and stop() and not stopping.is_set():
                stopping.set()
            refresh()
            if on_progress:
                on_progress()
    except BaseException:
        # A second signal (or any other end) here: stop the children at once, then give up.
        stopping.set()
        for child in children:
            for _ in range(2):
                if child.is_alive():
                    os.kill(child.pid, signal.SIGTERM)
        raise
    finally:
        for child in children:
            child.join(timeout=30)
        refresh()
    for kind, message in errors:
        if kind == "config":
            raise ConfigError(message)
    for kind, message in errors:
        if kind == "error":
            raise RuntimeError(f"a sending process failed: {message}")
    lost = [c.name for c in children if c.exitcode]
    if lost:
        log.warning("sending process(es) %s ended with %s; their claimed digests wait for the next run",
                    ", ".join(lost), [c.exitcode for c in children])
    return counts
