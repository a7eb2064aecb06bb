"""A mailer that writes one .eml file per message into the outbox folder, atomically."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from ..types import Outcome, Outgoing, SendResult
from .base import BaseMailer


def eml_name(key: str) -> str:
    """The file name for a ledger key: the same key always maps to the same name."""
    # Characters outside the safe set are hex-escaped (not dropped) so distinct keys never collide.
    return re.sub(r"[^A-Za-z0-9_.-]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), key).lstrip(".") + ".eml"


class FileMailer(BaseMailer):
    """Writes OUTBOX/<key>.eml; sending the same key again replaces the file instead of adding one."""

    def __init__(self, outbox: str | os.PathLike = "outbox", **options) -> None:
        super().__init__(**options)
        self.outbox = Path(outbox)

    @classmethod
    def from_settings(cls, settings: Settings) -> "FileMailer":
        return cls(outbox=settings.outbox)

    def open(self) -> bool:
        """Make the outbox and prove a message can be written there: an outbox that refuses
        files is a configuration error now, not a deferral of every message until attempts run out."""
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"DIGEST_OUTBOX: cannot create {self.outbox}: {exc.strerror or exc}") from None
        try:
            fd, probe = tempfile.mkstemp(dir=self.outbox, prefix=".tmp-", suffix=".eml")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ConfigError(f"DIGEST_OUTBOX: cannot write into {self.outbox}: {exc.strerror or exc}; "
                              "make it writable for this user or point DIGEST_OUTBOX elsewhere") from None
        return super().open()

    def send_one(self, message: Outgoing) -> SendResult:
        target = self.outbox / eml_name(message.key)
        # Write then rename: a reader (or a crash) never sees half a message under the final name.
        fd, tmp = tempfile.mkstemp(dir=self.outbox, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.data)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return SendResult(Outcome.SENT, f"written to {target}")
