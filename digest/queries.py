"""The narrow data interface of the pipeline: bulk loads from the store into plain data."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlmodel import Session, select

from .addresses import email_key_of
from .db import SqliteStatement, autocommit_connection, sqlite_connection
from .names import company_key
from .models import (Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, Digest, DigestItem, Follow,
                     Segment, Subscriber, Suppression)
from .types import ArticleData, Reader, translations_tuple


def load_articles(session: Session, start: datetime, end: datetime) -> list[ArticleData]:
    """Every article published in [start, end), with canonical company and segment names."""
    articles = session.exec(select(Article).where(Article.published_at >= start, Article.published_at < end)
                            .order_by(Article.published_at, Article.id)).all()
    return articles_data(session, articles)


def articles_data(session: Session, articles: list[Article]) -> list[ArticleData]:
    ids = [a.id for a in articles]
    companies: dict[int, list[tuple[int, str]]] = defaultdict(list)
    segments: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for chunk in _chunks(ids):
        for article_id, position, name in session.exec(
                select(ArticleCompany.article_id, ArticleCompany.position, Company.name)
                .join(Company, Company.id == ArticleCompany.company_id)
                .where(ArticleCompany.article_id.in_(chunk))):
            companies[article_id].append((position, name))
        for article_id, position, name in session.exec(
                select(ArticleSegment.article_id, ArticleSegment.position, Segment.name)
                .join(Segment, Segment.id == ArticleSegment.segment_id)
                .where(ArticleSegment.article_id.in_(chunk))):
            segments[article_id].append((position, name))
    known = _known_aliases(session, companies)
    aliases = _story_aliases(articles, companies, known)
    return [
        ArticleData(
            id=a.id, url=a.url, title=a.title, summary=a.summary, published_at=a.published_at,
            category=a.category, region=a.region, read_minutes=a.read_minutes,
            companies=tuple(n for _, n in sorted(companies[a.id])),
            segments=tuple(n for _, n in sorted(segments[a.id])),
            tags=tuple(a.tags or ()), novelty=a.novelty, novelty_note=a.novelty_note,
            significance=a.significance, significance_note=a.significance_note, related=tuple(a.related or ()),
            aliases=aliases.get(a.id, ()), translations=translations_tuple(a.translations),
            # the other-script names of its companies (바이트댄스 for ByteDance): a reader may get one
            local_names=tuple((name, alias) for _, name in sorted(companies[a.id]) for alias in known.get(name, ())
                              if not alias.isascii()),
        )
        for a in articles
    ]


def _known_aliases(session: Session, companies: dict) -> dict[str, list[str]]:
    """The other names of the given articles' companies, by company name."""
    names = {name for links in companies.values() for _, name in links}
    known: dict[str, list[str]] = defaultdict(list)
    if not names:
        return known
    for chunk in _chunks(sorted(names)):
        for company, alias in session.exec(select(Company.name, CompanyAlias.alias)
                                           .join(CompanyAlias, CompanyAlias.company_id == Company.id)
                                           .where(Company.name.in_(chunk))):
            if company_key(alias) != company_key(company):
                known[company].append(alias)
    return known


def _story_aliases(articles: list[Article], companies: dict, known: dict) -> dict[int, tuple[str, ...]]:
    """Per article, the alias its title or tags name each company by, where they use one of the
    company's other names and never its own ("SK Telecom and AWS ..." for Amazon gives "AWS")."""
    if not known:
        return {}
    out: dict[int, tuple[str, ...]] = {}
    for a in articles:
        links = sorted(companies.get(a.id, ()))
        if not any(name in known for _, name in links):
            continue
        text = company_key(" ".join([a.title, *(a.tags or ())]))
        found = tuple(next((al for al in sorted(known.get(name, ()), key=len, reverse=True)
                            if _mentions(text, company_key(al))), "") if not _mentions(text, company_key(name)) else ""
                      for _, name in links)
        if any(found):
            out[a.id] = found
    return out


def _mentions(text: str, key: str) -> bool:
    """Whether casefolded text names key as a whole word (scripts without spaces: anywhere)."""
    if not key.isascii():
        return key in text
    return re.search(r"(?<!\w)" + re.escape(key) + r"(?!\w)", text) is not None


def _chunks(ids: list[int], size: int = 900):
    # SQLite limits bound parameters per statement; stay well below it.
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def reader_of(subscriber: Subscriber, companies=frozenset(), segments=frozenset()) -> Reader:
    return Reader(
        id=subscriber.id, email=subscriber.email, name=subscriber.name, timezone=subscriber.timezone,
        send_day=subscriber.send_day, send_hour=subscriber.send_hour, frequency=subscriber.frequency,
        max_articles=subscriber.max_articles, min_significance=subscriber.min_significance,
        reading_budget=subscriber.reading_budget, companies=frozenset(companies), segments=frozenset(segments),
        smtputf8=subscriber.smtputf8, muted=muted_of(subscriber), language=subscriber.language or "",
    )


MUTE_KINDS = ("company", "segment", "tag")


def muted_of(subscriber: Subscriber) -> frozenset[tuple[str, str]]:
    """The subscriber's mute list as (kind, name) pairs; malformed entries are ignored."""
    out = set()
    for entry in getattr(subscriber, "muted", None) or ():
        if isinstance(entry, dict) and entry.get("kind") in MUTE_KINDS and isinstance(entry.get("name"), str):
            out.add((entry["kind"], entry["name"]))
    return frozenset(out)


def load_readers(session: Session, subscribers: list[Subscriber]) -> dict[int, Reader]:
    """Readers with their follows, in two queries per chunk of subscribers."""
    follows: dict[int, tuple[set, set]] = {s.id: (set(), set()) for s in subscribers}
    for chunk in _chunks(list(follows)):
        rows = session.exec(
            select(Follow.subscriber_id, Follow.kind, Company.name, Segment.name)
            .outerjoin(Company, sa.and_(Follow.kind == "company", Company.id == Follow.target_id))
            .outerjoin(Segment, sa.and_(Follow.kind == "segment", Segment.id == Follow.target_id))
            .where(Follow.subscriber_id.in_(chunk))).all()
        for subscriber_id, kind, company, segment in rows:
            if kind == "company" and company:
                follows[subscriber_id][0].add(company)
            elif kind == "segment" and segment:
                follows[subscriber_id][1].add(segment)
    return {s.id: reader_of(s, *follows[s.id]) for s in subscribers}


def sendable_query(today: date | None = None):
    """Active subscribers who are not paused and whose address is not suppressed."""
    query = (select(Subscriber).where(Subscriber.status == "active")
             .where(~sa.exists().where(Suppression.email_key == Subscriber.email_key))
             .order_by(Subscriber.id))
    if today is not None:
        query = query.where(sa.or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= today))
    return query


def sendable_subscribers(session: Session, today: date | None = None) -> list[Subscriber]:
    return list(session.exec(sendable_query(today)).all())


def sendable_schedules(session: Session, today: date, *, page: int = 5000):
    """(id, timezone, send_day, send_hour, frequency) of every sendable subscriber, as plain tuples,
    a page of ids at a time: the due pass needs only these, and its memory must not grow with the
    number of subscribers."""
    last = 0
    while True:
        rows = session.execute(
            sendable_query(today).where(Subscriber.id > last).limit(page)
            .with_only_columns(Subscriber.id, Subscriber.timezone, Subscriber.send_day, Subscriber.send_hour,
                               Subscriber.frequency)).all()
        if not rows:
            return
        yield from (tuple(row) for row in rows)
        last = rows[-1][0]


def load_history(session: Session, subscriber_ids: list[int], *, before: datetime | None = None,
                 ) -> dict[int, tuple[frozenset[int], frozenset[str], datetime | None]]:
    """Per subscriber: article ids and urls already received (shown in an email; an issue's overflow
    on its web page does not count), and the last delivered digest's slot.

    With `before`, only digests scheduled before it count: the history as it stood at that slot,
    so that previewing a period already sent shows what was sent.
    """
    received: dict[int, tuple[set, set]] = {sid: (set(), set()) for sid in subscriber_ids}
    marks: dict[int, datetime] = {}
    for chunk in _chunks(subscriber_ids):
        for sid, article_id, url in session.exec(
                select(DigestItem.subscriber_id, DigestItem.article_id, Article.url)
                .join(Article, Article.id == DigestItem.article_id)
                .join(Digest, Digest.id == DigestItem.digest_id)
                .where(DigestItem.subscriber_id.in_(chunk), DigestItem.kind == "shown",
                       *([Digest.scheduled_for < before] if before is not None else []))):
            received[sid][0].add(article_id)
            received[sid][1].add(url)
        for sid, last in session.exec(
                select(Digest.subscriber_id, sa.func.max(Digest.scheduled_for))
                .where(Digest.subscriber_id.in_(chunk), Digest.state == "sent",
                       *([Digest.scheduled_for < before] if before is not None else []))
                .group_by(Digest.subscriber_id)):
            marks[sid] = _aware(last)
    return {sid: (frozenset(ids), frozenset(urls), marks.get(sid)) for sid, (ids, urls) in received.items()}


def _aware(value):
    # func.max() bypasses the column type on SQLite and returns a naive datetime or a string.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def subscriber_by_email(session: Session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email_key == email_key_of(email))).first()


_STILL_SENDABLE = (
    sa.select(Subscriber.__table__.c.id)
    .where(Subscriber.__table__.c.id == sa.bindparam("sid"), Subscriber.__table__.c.status == "active")
    .where(~sa.exists().where(Suppression.__table__.c.email_key == Subscriber.__table__.c.email_key))
)


_STILL_SENDABLE_SQLITE = SqliteStatement(_STILL_SENDABLE)


def still_sendable(session: Session, subscriber_id: int) -> bool:
    """Re-checked just before each send: active and not suppressed at this moment.

    A Core statement built once: this runs for every message on the hot path.
    """
    auto = autocommit_connection(session)
    if auto is not None:  # PostgreSQL: one round trip, no transaction to open and close
        return auto.execute(_STILL_SENDABLE, {"sid": subscriber_id}).first() is not None
    own = sqlite_connection(session)
    if own is not None:  # SQLite: one autocommit read on the sending loop's own connection
        return _STILL_SENDABLE_SQLITE.execute(own, {"sid": subscriber_id}).fetchone() is not None
    found = session.connection().execute(_STILL_SENDABLE, {"sid": subscriber_id}).first()
    session.commit()  # end the read so the next check sees fresh data
    return found is not None


def sent_digest(session: Session, subscriber_id: int, period: str) -> Digest | None:
    """The ledger row of the issue this subscriber was sent for `period` (None: not sent)."""
    return session.exec(select(Digest).where(Digest.subscriber_id == subscriber_id, Digest.period == period,
                                             Digest.state == "sent")).first()


def overflow_ids(session: Session, digest_id: int) -> frozenset[int]:
    """The articles the ledger recorded as this digest's overflow (listed on its web page only)."""
    return frozenset(session.exec(select(DigestItem.article_id).where(
        DigestItem.digest_id == digest_id, DigestItem.kind == "overflow")).all())
