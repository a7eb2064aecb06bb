"""A mailer that keeps every message in a class-level list, for tests and dry runs."""

from __future__ import annotations

import threading
from typing import ClassVar

from ..types import Outcome, Outgoing, SendResult
from .base import BaseMailer


class MemoryMailer(BaseMailer):
    """Appends each message to MemoryMailer.outbox.

    Tests can script outcomes: MemoryMailer.scripted[recipient] is a list of SendResults handed
    out one per send to that recipient (a 451 then success, say); a message whose result is not
    accepted is not added to the outbox.
    """

    # The outbox lives in this process: a send with it never forks (executors/processes.py).
    single_process: ClassVar[bool] = True
    outbox: ClassVar[list[Outgoing]] = []
    scripted: ClassVar[dict[str, list[SendResult]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.outbox.clear()
            cls.scripted.clear()

    def send_one(self, message: Outgoing) -> SendResult:
        with self._lock:
            pending = self.scripted.get(message.recipient)
            result = pending.pop(0) if pending else SendResult(Outcome.SENT, "kept in memory")
            if result.accepted:
                self.outbox.append(message)
        return result
