"""Polling feeds: fetch each (conditional GET), read its items, validate each as `digest ingest` does,
store the valid ones; a feed that fails keeps its articles and its last good state."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlmodel import Session, select

from ..errors import InputError
from ..ingest import STORAGE_ERRORS, NameStore, raise_if_disconnected, storage_error, store_article, validate_article
from ..models import Article, ArticleCompany, ArticleSegment, Feed, utcnow
from ..types import ArticleData
from .fetch import FetchError, fetch
from .parse import FeedFormatError, parse_feed

log = logging.getLogger("digest.feeds")


@dataclass(frozen=True)
class FeedRejected:
    feed: str
    item: int
    error: str

    def __str__(self) -> str:
        return f"{self.feed}#{self.item}: {self.error}"


@dataclass
class PollReport:
    feeds: int = 0
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: int = 0
    rejected: list[FeedRejected] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (feed, what went wrong)

    def as_json(self) -> dict:
        return {"feeds": self.feeds, "stored": self.stored, "updated": self.updated, "unchanged": self.unchanged,
                "not_modified": self.not_modified,
                "rejected": [{"feed": r.feed, "item": r.item, "error": r.error} for r in self.rejected],
                "failed": [{"feed": url, "error": error} for url, error in self.failed]}


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 20.0
    max_bytes: int = 5_000_000

    @classmethod
    def from_settings(cls, settings) -> "FetchLimits":
        return cls(timeout=settings.feed_timeout, max_bytes=settings.feed_max_bytes)


def poll_feeds(session: Session, limits: FetchLimits = FetchLimits(), urls=None) -> PollReport:
    """Poll every feed (or those of `urls`), each committed on its own; returns what happened."""
    report = PollReport()
    query = select(Feed).order_by(Feed.id)
    if urls:
        query = query.where(Feed.url.in_(list(urls)))
    for feed in session.exec(query).all():
        report.feeds += 1
        poll_one(session, feed, limits, report)
    return report


def poll_one(session: Session, feed: Feed, limits: FetchLimits, report: PollReport) -> None:
    now = utcnow()
    try:
        got = fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified, timeout=limits.timeout,
                    max_bytes=limits.max_bytes)
        items = [] if got.not_modified else parse_feed(got.body)
    except (FetchError, FeedFormatError) as exc:
        session.rollback()
        feed = session.get(Feed, feed.id)
        feed.last_polled_at, feed.last_status, feed.last_error = now, "failed", str(exc)
        session.add(feed)
        session.commit()
        report.failed.append((feed.url, str(exc)))
        log.warning("feed %s failed: %s (its articles and last good state are kept)", feed.url, exc)
        return
    if got.not_modified:
        report.not_modified += 1
    else:
        _store_items(session, feed.url, items, report)
        feed.last_items = len(items)
    feed.etag = got.etag or (feed.etag if got.not_modified else None)
    feed.last_modified = got.last_modified or (feed.last_modified if got.not_modified else None)
    feed.last_polled_at = feed.last_ok_at = now
    feed.last_status, feed.last_error = ("not_modified" if got.not_modified else "ok"), None
    session.add(feed)
    session.commit()
    log.info("feed %s: %s", feed.url, feed.last_status)


def _store_items(session: Session, url: str, items, report: PollReport) -> None:
    store = NameStore(session)
    valid: dict[str, tuple[int, ArticleData]] = {}
    for position, record in items:
        try:
            item = validate_article(record)
        except InputError as exc:
            report.rejected.append(FeedRejected(url, position, str(exc)))
            continue
        valid.pop(item.url, None)
        valid[item.url] = (position, item)
    for position, item in valid.values():
        try:
            with session.begin_nested():
                if _unchanged(session, store, item):
                    report.unchanged += 1
                elif store_article(session, store, item):
                    report.stored += 1
                else:
                    report.updated += 1
        except STORAGE_ERRORS as exc:
            raise_if_disconnected(exc)
            store = NameStore(session)
            report.rejected.append(FeedRejected(url, position, storage_error(exc)))


_FIELDS = ("title", "summary", "published_at", "category", "region", "read_minutes", "novelty", "novelty_note",
           "significance", "significance_note")


def _unchanged(session: Session, store: NameStore, item: ArticleData) -> bool:
    """Whether the stored article of this url already says exactly what the item says."""
    article = session.exec(select(Article).where(Article.url == item.url)).first()
    if article is None or any(getattr(article, n) != getattr(item, n) for n in _FIELDS):
        return False
    if list(article.tags) != list(item.tags) or list(article.related) != list(item.related):
        return False
    companies = [row.company_id for row in session.exec(
        select(ArticleCompany).where(ArticleCompany.article_id == article.id).order_by(ArticleCompany.position))]
    wanted = list(dict.fromkeys(store.company(name).id for name in item.companies))
    if companies != wanted:
        return False
    segments = [row.segment_id for row in session.exec(
        select(ArticleSegment).where(ArticleSegment.article_id == article.id).order_by(ArticleSegment.position))]
    return segments == [store.segment(name).id for name in item.segments]
