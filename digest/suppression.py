"""The suppression list: addresses that never receive a digest again, whatever imports say."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, select

from .addresses import email_key_of
from .errors import InputError
from .models import Subscriber, Suppression, utcnow

REASONS = ("unsubscribed", "bounced", "complained")
# A later, stronger reason replaces a weaker one: a complaint outranks a bounce outranks an unsubscribe.
_RANK = {reason: rank for rank, reason in enumerate(REASONS)}
# Subscriber states in which mail is still being sent; suppressing moves them to the reason.
RECEIVING = ("pending", "active")


def _check_reason(reason: str) -> str:
    if reason not in _RANK:
        raise InputError("reason", f"expected one of {', '.join(REASONS)}, got {reason!r}")
    return reason


def suppress(session: Session, email: str, reason: str, detail: str | None = None, *, source: str | None = None,
             status_code: str | None = None) -> Suppression:
    """Put the address on the suppression list and stop its subscriber (if any); the caller commits.

    Repeating it is harmless; a stronger reason (complained > bounced > unsubscribed) replaces a
    weaker one, a weaker one never downgrades a stronger one. `source` (smtp, dsn, arf, webhook,
    mailto, web, staff) and `status_code` are the evidence kept with the `detail` line.
    """
    _check_reason(reason)
    key = email_key_of(email)
    row = session.get(Suppression, key)
    if row is None:
        row = Suppression(email_key=key, reason=reason, detail=detail, source=source,
                          status_code=None if status_code is None else str(status_code)[:40])
        session.add(row)
    elif _RANK[reason] > _RANK.get(row.reason, -1):
        row.reason, row.detail, row.source = reason, detail, source
        row.status_code = None if status_code is None else str(status_code)[:40]
        session.add(row)
    subscriber = session.exec(select(Subscriber).where(Subscriber.email_key == key)).first()
    if subscriber is not None and (subscriber.status in RECEIVING or _RANK[row.reason] > _RANK.get(subscriber.status, -1)):
        subscriber.status = row.reason
        subscriber.updated_at = utcnow()
        session.add(subscriber)
    session.flush()
    return row


def is_suppressed(session: Session, email: str) -> bool:
    return session.get(Suppression, email_key_of(email)) is not None


def suppression_of(session: Session, email: str) -> Suppression | None:
    return session.get(Suppression, email_key_of(email))


def suppressed_keys(session: Session, keys: Iterable[str]) -> dict[str, Suppression]:
    """The suppression rows for those email keys, in chunks small enough for any database."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, Suppression] = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        for row in session.exec(select(Suppression).where(Suppression.email_key.in_(chunk))):
            found[row.email_key] = row
    return found


def lift_suppression(session: Session, email: str) -> bool:
    """Take the address off the list (only for an explicit resubscribe); True if it was on it."""
    row = session.get(Suppression, email_key_of(email))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
