"""Log output: text (the default) or JSON lines (DIGEST_LOG_FORMAT=json), with no address in clear.

The code logs subscriber ids, not addresses; both formatters scrub anything that looks like an address
anyway (a mail server's reply quoting the recipient, an exception's text), replacing it with
"<addr:" + the first 12 hex digits of HMAC-SHA256(key, lowercased address) + ">". JSON lines use the
signing key, so the same address gives the same mark in every line and process that shares it and
lines can be correlated; text lines use a key of their own process (the same address gives the same
mark within one run), so a text log never needs the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from datetime import datetime, timezone

from .config import Settings, secret_keys

# Loose on purpose: anything with a local part, an "@" and a dotted (or bracketed) domain.
ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:@]+@(?:[^\s<>()\[\]\"',;:@.]+\.)+[^\s<>()\[\]\"',;:@.]+|"
                     r"[^\s<>()\[\]\"',;:@]+@\[[0-9A-Fa-f:.]+\]")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


def address_mark(key: bytes, address: str) -> str:
    return "<addr:" + hmac.new(key, address.lower().encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12] + ">"


def scrub(text: str, key: bytes) -> str:
    """`text` with every address replaced by its keyed mark."""
    return ADDRESS.sub(lambda m: address_mark(key, m.group(0)), text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the exception when
    there is one; every string scrubbed of addresses."""

    def __init__(self, key: bytes):
        super().__init__()
        self.key = key

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage(), self.key),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info), self.key)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The text lines ("LEVEL logger: message"), scrubbed of addresses with a key of this process."""

    def __init__(self, key: bytes | None = None):
        super().__init__(TEXT_FORMAT)
        self.key = key or secrets.token_bytes(16)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.key)


def json_key(settings: Settings | None) -> bytes | None:
    """The key of the address marks when `settings` ask for JSON lines, else None (text lines)."""
    if settings is None or settings.log_format != "json":
        return None
    return secret_keys(settings)[0].encode("utf-8")


def configure(level: int, key: bytes | None = None) -> None:
    """Set up the root logger on stderr: text lines, or JSON lines when given the key (json_key)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(key) if key is not None else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
