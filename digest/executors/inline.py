"""The in-process executor (any database, the default): plan, then threads drain what is due.

Each thread is a lane with its own session, mailer and lease owner, exactly as separate processes
would be; the loop each runs is Pipeline.drain, the same as `digest send --due`. With
DIGEST_SEND_PROCESSES above 1 (the default: the number of cores) and enough due, the lanes run in
that many forked processes (processes.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlmodel import Session

from .. import ledger
from ..pipeline import Pipeline, RunCounts
from .options import MailerFactory
from .processes import can_fork, drain_lanes, processes_for, run_processes


def run_inline(pipeline: Pipeline, mailer_factory: MailerFactory, as_of: datetime, *, concurrency: int = 1,
               stop: Callable[[], bool] | None = None, batch_size: int = 50,
               processes: int | None = 1) -> RunCounts:
    """Plan, then `concurrency` threads (in each of up to `processes` processes; None: one per
    core) claim and send what is due; a stop() releases what is left."""
    pipeline.preflight()  # broken templates: a ConfigError before anything is planned
    with Session(pipeline.engine) as session:
        started = datetime.now(timezone.utc)
        pipeline.plan_due(session, as_of)
        ledger.new_rows(session, since=started)
        settings = pipeline.settings
        pending = ledger.pending_count(session, as_of, settings.max_attempts, settings.resend_unknown)
    pipeline.warm()
    forks = processes_for(processes, pending, batch_size) if processes != 1 else 1
    if forks > 1 and can_fork(mailer_factory()):  # made, not opened: what kind of mailer it is
        return run_processes(pipeline, mailer_factory, as_of, processes=forks, lanes=concurrency,
                             batch_size=batch_size, stop=stop)
    return drain_lanes(pipeline, mailer_factory, as_of, lanes=concurrency, batch_size=batch_size, stop=stop)
