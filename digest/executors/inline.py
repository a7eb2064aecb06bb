"""The in-process executor (any database, the default): plan, then threads drain what is due.

Each thread is a lane with its own session, mailer and lease owner, exactly as separate processes
would be; the loop each runs is Pipeline.drain, the same as `digest send --due`.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable

from sqlmodel import Session

from .. import ledger
from ..pipeline import Pipeline, RunCounts
from .options import MailerFactory


def run_inline(pipeline: Pipeline, mailer_factory: MailerFactory, as_of: datetime, *, concurrency: int = 1,
               stop: Callable[[], bool] | None = None, batch_size: int = 50) -> RunCounts:
    """Plan, then `concurrency` threads claim and send what is due; a stop() releases what is left."""
    pipeline.preflight()  # broken templates: a ConfigError before anything is planned
    with Session(pipeline.engine) as session:
        started = datetime.now(timezone.utc)
        pipeline.plan_due(session, as_of)
        ledger.new_rows(session, since=started)
    pipeline.warm()
    total = RunCounts()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def lane() -> None:
        counts = RunCounts()
        try:
            with mailer_factory() as mailer:
                pipeline.drain(mailer, as_of, batch_size=batch_size, stop=stop, counts=counts)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
        finally:
            with lock:
                total.add(counts)

    if concurrency <= 1:
        lane()
    else:
        threads = [threading.Thread(target=lane, name=f"digest-lane-{i}") for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return total
