"""`digest status`: what happened to the sends of a period, and the complaint rate against the 0.3%
line Gmail and Yahoo hold bulk senders to.

Sent counts ledger rows whose `sent_at` falls in the period; deferred and failed, rows in that
state last changed in it; hard bounces, the hard-bounce reports received in it (DSN, webhook) and
the addresses suppressed at send time by an SMTP 5.1.x reply; soft bounces and complaints, the
reports received in it; unsubscribed, the addresses unsubscribed in it by any route (one-click,
preferences, mailto, webhook, staff). The complaint rate is complaints / sent (None when nothing
was sent). Signups: subscribers pending confirmation now, those whose confirmation expired, and
those confirmed in the period.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from .bounces import COMPLAINT, HARD, SOFT
from .errors import InputError
from .models import DeliveryEvent, Digest, Subscriber, Suppression, utcnow
from .tokens import TIMED

COMPLAINT_LINE = 0.003  # Gmail's and Yahoo's bulk-sender requirement: stay under 0.3%
_PERIOD = re.compile(r"\s*(\d{1,4})\s*([hdw])\s*", re.IGNORECASE)
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_period(value: str) -> timedelta:
    match = _PERIOD.fullmatch(value or "")
    if match is None or int(match.group(1)) == 0:
        raise InputError("--period", f"expected a length like 24h, 7d or 4w, got {value!r}")
    return int(match.group(1)) * _UNIT[match.group(2).lower()]


def status(engine, period: timedelta, *, now: datetime | None = None) -> dict:
    end = now or utcnow()
    start = end - period
    with Session(engine) as session:
        sent = session.exec(select(sa.func.count()).select_from(Digest).where(
            Digest.state == "sent", Digest.sent_at >= start, Digest.sent_at < end)).one()
        states = dict(session.exec(select(Digest.state, sa.func.count()).where(
            Digest.state.in_(("deferred", "failed")), Digest.updated_at >= start, Digest.updated_at < end)
            .group_by(Digest.state)).all())
        events = dict(session.exec(select(DeliveryEvent.kind, sa.func.count()).where(
            DeliveryEvent.received_at >= start, DeliveryEvent.received_at < end)
            .group_by(DeliveryEvent.kind)).all())
        suppressed = dict(session.exec(select(Suppression.reason, sa.func.count()).where(
            Suppression.created_at >= start, Suppression.created_at < end,
            sa.or_(Suppression.reason == "unsubscribed", Suppression.source == "smtp"))
            .group_by(Suppression.reason)).all())
        signups = signup_counts(session, start, end)
    complaints = events.get(COMPLAINT, 0)
    rate = complaints / sent if sent else None
    return {"from": start.isoformat(), "to": end.isoformat(), "sent": sent, "deferred": states.get("deferred", 0),
            "failed": states.get("failed", 0), "hard_bounces": events.get(HARD, 0) + suppressed.get("bounced", 0),
            "soft_bounces": events.get(SOFT, 0), "complained": complaints,
            "unsubscribed": suppressed.get("unsubscribed", 0), "complaint_rate": rate,
            "complaint_rate_over_limit": rate is not None and rate >= COMPLAINT_LINE, "signups": signups}


def signup_counts(session: Session, start: datetime, end: datetime) -> dict:
    """Double opt-in at `end`: pending (their confirmation link still works), expired (pending
    longer than a confirmation link lives, 7 days) and confirmed (confirmed_at in the period)."""
    cutoff = end - timedelta(seconds=TIMED["confirm"])
    pending = select(sa.func.count()).select_from(Subscriber).where(Subscriber.status == "pending")
    return {"pending": session.exec(pending.where(Subscriber.created_at >= cutoff)).one(),
            "expired": session.exec(pending.where(Subscriber.created_at < cutoff)).one(),
            "confirmed": session.exec(select(sa.func.count()).select_from(Subscriber).where(
                Subscriber.confirmed_at >= start, Subscriber.confirmed_at < end)).one()}
