"""The public archive's stories: by ISO week, by company, by segment, ordered by the AMW Read
(selection's rating, the digest's own order), each with what it connects to.

Only articles and their catalog names are read here: nothing about readers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import Session, select

from .models import Article, ArticleCompany, ArticleSegment, Company, Segment
from .names import SEGMENT_SEPARATOR, slugify
from .queries import articles_data
from .selection.options import SelectionOptions, rating, sort_key
from .types import ArticleData

RECENT = 30  # stories on a company or segment page: the most recent ones, then ordered by rating
WEEK = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True)
class Related:
    title: str
    url: str
    published_at: datetime


@dataclass(frozen=True)
class Story:
    article: ArticleData
    rating: float
    updated_at: datetime
    connected: tuple[Related, ...] = ()


@dataclass(frozen=True)
class Listing:
    """One public page's stories, and what its ETag and Last-Modified are made of."""

    title: str
    stories: tuple[Story, ...]
    updated: datetime  # the newest change among the stories (the epoch when there are none)

    def etag(self, *parts: str) -> str:
        data = "|".join([*parts, self.title, *(f"{s.article.id}:{s.updated_at.isoformat()}:{s.rating}"
                                                 for s in self.stories)])
        return 'W/"' + hashlib.sha256(data.encode()).hexdigest()[:32] + '"'


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(label: str) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC of an ISO week written YYYY-Www; None when it is no such week."""
    match = WEEK.fullmatch(label)
    if not match:
        return None
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=timezone.utc)
    return start, start + timedelta(days=7)


def weeks(session: Session) -> list[tuple[str, int]]:
    """Every ISO week that has stories, newest first, with its story count."""
    counts: dict[str, int] = {}
    for published in session.exec(select(Article.published_at)):
        label = iso_week(published)
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items(), reverse=True)


def archive_updated(session: Session) -> datetime:
    return session.exec(select(sa.func.max(Article.updated_at))).one() or EPOCH


def _listing(session: Session, title: str, articles: list[Article], options: SelectionOptions) -> Listing:
    data = articles_data(session, articles)
    updated = {a.id: a.updated_at for a in articles}
    wanted = {url for a in data for url in a.related}
    related = {a.url: Related(a.title, a.url, a.published_at)
               for a in session.exec(select(Article).where(Article.url.in_(list(wanted))))} if wanted else {}
    stories = tuple(Story(a, rating(a, options), updated[a.id],
                          tuple(related[u] for u in a.related if u in related and u != a.url))
                    for a in sorted(data, key=lambda a: sort_key(a, options)))
    return Listing(title, stories, max((s.updated_at for s in stories), default=EPOCH))


def week_listing(session: Session, label: str, options: SelectionOptions) -> Listing | None:
    bounds = week_bounds(label)
    if bounds is None:
        return None
    articles = list(session.exec(select(Article).where(Article.published_at >= bounds[0],
                                                       Article.published_at < bounds[1])))
    return _listing(session, label, articles, options)


def company_listing(session: Session, slug: str, options: SelectionOptions) -> tuple[Company, Listing] | None:
    company = session.exec(select(Company).where(Company.slug == slug[:200]).order_by(Company.id)).first()
    if company is None:
        return None
    articles = list(session.exec(
        select(Article).join(ArticleCompany, ArticleCompany.article_id == Article.id)
        .where(ArticleCompany.company_id == company.id)
        .order_by(Article.published_at.desc(), Article.id.desc()).limit(RECENT)))
    return company, _listing(session, company.name, articles, options)


def find_segment(session: Session, slug: str) -> Segment | None:
    return next((s for s in session.exec(select(Segment).order_by(Segment.id)) if slugify(s.name) == slug), None)


def segment_listing(session: Session, slug: str, options: SelectionOptions) -> tuple[Segment, Listing] | None:
    """A segment's stories, those of the segments inside it included (as a follow covers them)."""
    segment = find_segment(session, slug)
    if segment is None:
        return None
    inside = [s.id for s in session.exec(select(Segment))
              if s.id == segment.id or s.name.startswith(segment.name + SEGMENT_SEPARATOR)]
    articles = list(session.exec(
        select(Article).where(Article.id.in_(
            select(ArticleSegment.article_id).where(ArticleSegment.segment_id.in_(inside))))
        .order_by(Article.published_at.desc(), Article.id.desc()).limit(RECENT)))
    return segment, _listing(session, segment.name, articles, options)


def recent_listing(session: Session, options: SelectionOptions) -> Listing:
    """The newest stories of the whole archive (its feed), ordered by rating."""
    articles = list(session.exec(select(Article).order_by(Article.published_at.desc(), Article.id.desc())
                                 .limit(RECENT)))
    return _listing(session, "AMW Digest", articles, options)
