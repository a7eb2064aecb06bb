"""A mailer that prints each message to stdout (or a given stream), for development."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..types import Outcome, Outgoing, SendResult
from .base import BaseMailer


class ConsoleMailer(BaseMailer):
    """Writes every message, as its RFC 5322 text, to the stream between separator lines."""

    def __init__(self, stream: TextIO | None = None, **options) -> None:
        super().__init__(**options)
        self.stream = stream
        self._lock = threading.Lock()

    def send_one(self, message: Outgoing) -> SendResult:
        # Looked up per send so that a replaced sys.stdout (pytest's capture, a redirect) is honoured.
        stream = self.stream or sys.stdout
        text = message.data.decode("utf-8", "replace").replace("\r\n", "\n")
        with self._lock:
            stream.write(f"{'-' * 79}\n{text}")
            if not text.endswith("\n"):
                stream.write("\n")
            stream.write(f"{'-' * 79}\n")
            stream.flush()
        return SendResult(Outcome.SENT, "printed")
