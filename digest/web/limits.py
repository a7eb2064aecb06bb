"""Rate limits for the public forms, kept in the database so that every web process shares them.

A request that counts is a row in signup_attempt (kind, keyed hash of the client or the address,
time); a limit is N rows in the last hour. On SQLite the write transaction (BEGIN IMMEDIATE)
serializes the count and the insert across processes; on PostgreSQL an advisory lock on the key
does (digest.db.lock_name).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, func, select

from ..db import lock_name
from ..models import SignupAttempt

WINDOW = timedelta(hours=1)


class Limited(Exception):
    """Refused by a limit: answered 429 with Retry-After (seconds)."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many requests; try again in {retry_after} s")
        self.retry_after = retry_after


def limit_key(secret: str, kind: str, value: str) -> str:
    """A keyed hash of a client address or an email key: the table never holds either."""
    return hmac.new(secret.encode(), f"{kind}\0{value}".encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def count_hit(session: Session, kind: str, key: str, limit: int, now: datetime) -> None:
    """Record one request of `kind` by `key`, or raise Limited when `limit` were made in the last
    hour (a refused request is not recorded). Rows past the window for this key are deleted."""
    lock_name(session, f"signup-limit:{kind}:{key}")  # PostgreSQL: count and insert as one step
    since = now - WINDOW
    session.exec(sa.delete(SignupAttempt).where(SignupAttempt.kind == kind, SignupAttempt.key == key,
                                                SignupAttempt.created_at < since))
    where = (SignupAttempt.kind == kind, SignupAttempt.key == key, SignupAttempt.created_at >= since)
    used, oldest = session.exec(select(func.count(), func.min(SignupAttempt.created_at)).where(*where)).one()
    if used >= limit:
        oldest = oldest.replace(tzinfo=now.tzinfo) if oldest.tzinfo is None else oldest
        raise Limited(max(1, math.ceil((oldest + WINDOW - now).total_seconds())))
    session.add(SignupAttempt(kind=kind, key=key, created_at=now))
    session.flush()
