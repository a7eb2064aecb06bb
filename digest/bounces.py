"""The bounce policy: what a report that comes back after a send does to the address.

Every report (a webhook's bounce, complaint or subscription change; a DSN, an ARF report or a
mailto unsubscribe once a mailbox is read) becomes a `Report` and goes through `apply_report`:

- a hard bounce suppresses the address at once (`bounced`), a complaint too (`complained`);
- a soft bounce is counted, and suppresses once DIGEST_SOFT_BOUNCE_LIMIT of them (3) arrived
  within DIGEST_SOFT_BOUNCE_DAYS (30), counted since the last time staff lifted a suppression;
- an unsubscribe takes effect like the one-click one (`unsubscribed`);
- anything else (an auto-reply, a type that says nothing about the address) is only recorded.

Each report is kept in `delivery_event`; one with an `event_key` already there (a replay) changes
nothing. The suppression keeps its source and evidence (status code, diagnostic line).
`unsuppress` is the staff's undo, for bounces only unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from .addresses import email_key_of
from .errors import InputError, NotFound
from .models import DeliveryEvent, Subscriber, Suppression, utcnow
from .suppression import suppress

HARD, SOFT, COMPLAINT, UNSUBSCRIBE, IGNORED = "hard_bounce", "soft_bounce", "complaint", "unsubscribe", "ignored"
KINDS = (HARD, SOFT, COMPLAINT, UNSUBSCRIBE, IGNORED)
UNSUPPRESSED = "unsuppressed"  # a staff undo, kept as an event: soft bounces count from it
SOURCES = ("smtp", "dsn", "arf", "webhook", "mailto", "web", "staff")
_REASON = {HARD: "bounced", COMPLAINT: "complained", UNSUBSCRIBE: "unsubscribed"}

# What apply_report did.
DUPLICATE, SUPPRESSED, COUNTED, RECORDED = "duplicate", "suppressed", "counted", "recorded"


@dataclass(frozen=True)
class Report:
    """One report about an address, from any source."""

    kind: str
    email: str
    source: str
    event_key: str | None = None  # the provider's event id (or a hash of the report): replays are no-ops
    status_code: str | None = None  # 5.1.1, a provider's bounce type
    detail: str | None = None  # the diagnostic line
    digest_id: int | None = None  # the ledger row, when the report names it (VERP, ENVID)


@dataclass(frozen=True)
class Policy:
    soft_limit: int = 3
    soft_days: int = 30

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(soft_limit=settings.soft_bounce_limit, soft_days=settings.soft_bounce_days)


def seen(session: Session, event_key: str) -> bool:
    return session.exec(select(DeliveryEvent.id).where(DeliveryEvent.event_key == event_key)).first() is not None


def apply_report(session: Session, report: Report, policy: Policy, *, now: datetime | None = None) -> str:
    """Record the report and apply the policy; the caller commits. Returns DUPLICATE (seen before:
    nothing changed), SUPPRESSED, COUNTED (a soft bounce under the limit) or RECORDED."""
    if report.kind not in KINDS:
        raise InputError("kind", f"expected one of {', '.join(KINDS)}, got {report.kind!r}")
    if report.source not in SOURCES:
        raise InputError("source", f"expected one of {', '.join(SOURCES)}, got {report.source!r}")
    key = email_key_of(report.email)  # InputError for something that is not an address
    if report.event_key is not None and seen(session, report.event_key):
        return DUPLICATE
    now = now or utcnow()
    detail = (report.detail or "").strip()[:2000] or None
    session.add(DeliveryEvent(event_key=report.event_key, source=report.source, kind=report.kind, email_key=key,
                              digest_id=report.digest_id, status_code=_code(report.status_code), detail=detail,
                              received_at=now))
    session.flush()  # a concurrent replay fails here, on the unique event_key
    if report.kind in _REASON:
        suppress(session, report.email, _REASON[report.kind], detail, source=report.source,
                 status_code=_code(report.status_code))
        return SUPPRESSED
    if report.kind != SOFT:
        return RECORDED
    count = soft_bounces(session, key, policy, now=now)
    if count < policy.soft_limit:
        return COUNTED
    suppress(session, report.email, "bounced",
             f"{count} soft bounces within {policy.soft_days} days; the last: {detail or report.status_code or '?'}",
             source=report.source, status_code=_code(report.status_code))
    return SUPPRESSED


def apply_once(session: Session, report: Report, policy: Policy, *, now: datetime | None = None) -> str:
    """apply_report, committed. When a concurrent delivery of the same event committed first (its
    insert won the unique event_key), this one rolls back and is a DUPLICATE: applied exactly once."""
    try:
        result = apply_report(session, report, policy, now=now)
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        if report.event_key is None or not seen(session, report.event_key):
            raise
        return DUPLICATE
    return result


def soft_bounces(session: Session, email_key: str, policy: Policy, *, now: datetime | None = None) -> int:
    """Soft bounces of this address within the policy's days, since the last staff unsuppress."""
    since = (now or utcnow()) - timedelta(days=policy.soft_days)
    lifted = session.exec(select(sa.func.max(DeliveryEvent.received_at)).where(
        DeliveryEvent.email_key == email_key, DeliveryEvent.kind == UNSUPPRESSED)).one()
    if lifted is not None and lifted > since:
        since = lifted
    return session.exec(select(sa.func.count()).select_from(DeliveryEvent).where(
        DeliveryEvent.email_key == email_key, DeliveryEvent.kind == SOFT, DeliveryEvent.received_at >= since)).one()


def unsuppress(session: Session, email: str, reason: str, *, force: bool = False,
               now: datetime | None = None) -> Suppression:
    """Staff's undo of a bounce suppression: the address may receive again and its subscriber is
    active again; the caller commits. A complaint needs force; an unsubscribe is the reader's own
    choice and is never undone here. Returns the suppression that was removed."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("--reason", "say why the suppression is lifted (it is kept with the address's events)")
    key = email_key_of(email)
    row = session.get(Suppression, key)
    if row is None:
        raise NotFound(f"{email} is not suppressed")
    if row.reason == "unsubscribed":
        raise InputError("email", "the reader unsubscribed; only they can subscribe again (the preferences page, "
                                  "or a confirmed signup)")
    if row.reason == "complained" and not force:
        raise InputError("--force", "the reader marked a digest as spam; sending again risks the sender's "
                                    "reputation: add --force if they asked for it")
    subscriber = session.exec(select(Subscriber).where(Subscriber.email_key == key)).first()
    if subscriber is not None and subscriber.status == row.reason:
        subscriber.status = "active"
        subscriber.updated_at = now or utcnow()
        session.add(subscriber)
    session.add(DeliveryEvent(source="staff", kind=UNSUPPRESSED, email_key=key, status_code=row.reason,
                              detail=reason[:2000], received_at=now or utcnow()))
    session.delete(row)
    session.flush()
    return row


def events_of(session: Session, email: str, limit: int = 20) -> list[DeliveryEvent]:
    """The address's latest delivery events, newest first."""
    return list(session.exec(select(DeliveryEvent).where(DeliveryEvent.email_key == email_key_of(email))
                             .order_by(DeliveryEvent.received_at.desc(), DeliveryEvent.id.desc()).limit(limit)))


def _code(value) -> str | None:
    return None if value is None or value == "" else str(value)[:40]
