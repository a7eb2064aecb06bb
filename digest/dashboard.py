"""What the staff pages show about a period: the send dashboard (due, sent, deferred, failed,
unknown, skipped by reason, sent per hour) and the period's articles with how many readers each
reached. Plain dicts, read in a few grouped queries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import Session, select

from .models import Article, Digest, DigestItem

WAITING = ("planned", "sending", "deferred", "unknown")


def _hour(dialect: str, column):
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.date_trunc("hour", column), "YYYY-MM-DD\"T\"HH24:00")
    return sa.func.strftime("%Y-%m-%dT%H:00", column)


def send_dashboard(session: Session, start: datetime, end: datetime) -> dict:
    """The ledger for sends scheduled or made in [start, end)."""
    in_period = sa.and_(Digest.scheduled_for >= start, Digest.scheduled_for < end)
    states = dict(session.exec(select(Digest.state, sa.func.count()).where(in_period)
                               .group_by(Digest.state)).all())
    due = session.exec(select(sa.func.count()).select_from(Digest).where(
        Digest.state.in_(WAITING), Digest.scheduled_for < end)).one()
    skipped = sorted(session.exec(select(Digest.skip_reason, sa.func.count()).where(
        in_period, Digest.state == "skipped").group_by(Digest.skip_reason)).all(), key=lambda r: -r[1])
    hour = _hour(session.get_bind().dialect.name, Digest.sent_at)
    per_hour = session.exec(select(hour, sa.func.count()).where(
        Digest.state == "sent", Digest.sent_at >= start, Digest.sent_at < end).group_by(hour).order_by(hour)).all()
    return {"from": start, "to": end, "due": due, "sent": states.get("sent", 0),
            "deferred": states.get("deferred", 0), "failed": states.get("failed", 0),
            "unknown": states.get("unknown", 0), "planned": states.get("planned", 0) + states.get("sending", 0),
            "skipped": [{"reason": reason or "(no reason)", "count": count} for reason, count in skipped],
            "per_hour": [{"hour": h, "sent": n} for h, n in per_hour]}


def period_articles(session: Session, start: datetime, end: datetime, limit: int = 500) -> list[dict]:
    """Articles published in [start, end), best rated first, with the readers each reached (digests
    that carried it in the email)."""
    reached = (select(DigestItem.article_id, sa.func.count().label("n")).where(DigestItem.kind == "shown")
               .group_by(DigestItem.article_id).subquery())
    rows = session.exec(select(Article, sa.func.coalesce(reached.c.n, 0))
                        .outerjoin(reached, reached.c.article_id == Article.id)
                        .where(Article.published_at >= start, Article.published_at < end)
                        .order_by(Article.significance.desc(), Article.novelty.desc(), Article.published_at.desc())
                        .limit(limit)).all()
    return [{"id": a.id, "url": a.url, "title": a.title, "published_at": a.published_at, "novelty": a.novelty,
             "significance": a.significance, "read_minutes": a.read_minutes, "readers": n} for a, n in rows]


def last_days(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    end = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(days=days), end
