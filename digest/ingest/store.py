"""Storing validated articles: companies and segments found or created by name, one savepoint a chunk."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, select

from ..errors import InputError
from ..models import Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, Segment, utcnow
from ..names import SEGMENT_SEPARATOR, alias_key, slugify
from ..text import clean_input
from ..types import ArticleData
from .reading import Rejected, read_records, read_url_records
from .validate import validate_article


@dataclass
class IngestReport:
    stored: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"stored": self.stored, "updated": self.updated,
                "rejected": [{"file": r.file, "line": r.line, "error": r.error} for r in self.rejected]}


class NameStore:
    """Finds or creates companies and segments by name within one session, with a cache."""

    def __init__(self, session: Session):
        self.session = session
        self._companies: dict[str, Company] = {}
        self._segments: dict[str, Segment] = {}

    def company(self, name: str) -> Company:
        key = alias_key(name)
        if key in self._companies:
            return self._companies[key]
        alias = self.session.get(CompanyAlias, key)
        if alias is not None:
            company = self.session.get(Company, alias.company_id)
        else:
            company = Company(name=name, slug=slugify(name))
            self.session.add(company)
            self.session.flush()
            self.session.add(CompanyAlias(key=key, alias=name, company_id=company.id))
        self._companies[key] = company
        return company

    def alias(self, canonical: str, alias: str) -> bool:
        """Make `alias` another name of `canonical` (created if new); False if it already was.

        An alias that is already a company of its own is left alone (merging two companies'
        articles and follows is an operator's decision); InputError says so.
        """
        company = self.company(canonical)
        key = alias_key(alias)
        row = self.session.get(CompanyAlias, key)
        if row is not None:
            if row.company_id != company.id:
                other = self.session.get(Company, row.company_id)
                raise InputError("alias", f"{alias!r} already names the company {other.name!r}")
            return False
        self.session.add(CompanyAlias(key=key, alias=clean_input(alias), company_id=company.id))
        self.session.flush()
        self._companies[key] = company
        return True

    def segment(self, full_name: str) -> Segment:
        if full_name in self._segments:
            return self._segments[full_name]
        found = self.session.exec(select(Segment).where(Segment.name == full_name)).first()
        if found is None:
            parts = full_name.split(SEGMENT_SEPARATOR)
            parent = self.segment(SEGMENT_SEPARATOR.join(parts[:-1])) if len(parts) > 1 else None
            found = Segment(name=full_name, label=parts[-1], parent_id=parent.id if parent else None)
            self.session.add(found)
            self.session.flush()
        self._segments[full_name] = found
        return found


def store_article(session: Session, store: NameStore, item: ArticleData) -> bool:
    """Insert or update one article by url; returns True when it was new."""
    article = session.exec(select(Article).where(Article.url == item.url)).first()
    created = article is None
    if created:
        article = Article(url=item.url, title=item.title, published_at=item.published_at,
                          novelty=item.novelty, significance=item.significance)
    for name in ("title", "summary", "published_at", "category", "region", "read_minutes", "novelty",
                 "novelty_note", "significance", "significance_note"):
        setattr(article, name, getattr(item, name))
    article.tags = list(item.tags)
    article.related = list(item.related)
    article.translations = {tag: {f: t for lang, f, t in item.translations if lang == tag}
                            for tag in dict.fromkeys(lang for lang, _, _ in item.translations)}
    companies = []
    for name in item.companies:
        company = store.company(name)
        if company not in companies:  # two aliases of one company in one article
            companies.append(company)
    article.primary_company_id = companies[0].id if companies else None
    article.updated_at = utcnow()
    session.add(article)
    session.flush()
    if not created:
        for link_model in (ArticleCompany, ArticleSegment):
            for link in session.exec(select(link_model).where(link_model.article_id == article.id)):
                session.delete(link)
        session.flush()
    for position, company in enumerate(companies):
        session.add(ArticleCompany(article_id=article.id, company_id=company.id, position=position))
    for position, name in enumerate(item.segments):
        session.add(ArticleSegment(article_id=article.id, segment_id=store.segment(name).id, position=position))
    return created


def load_aliases(session: Session, mapping: dict[str, list[str]]) -> int:
    """Register company aliases ({"ByteDance": ["바이트댄스"]}); returns how many were new."""
    store = NameStore(session)
    added = sum(store.alias(name, alias) for name, aliases in mapping.items() for alias in aliases)
    session.commit()
    return added


def ingest_files(session: Session, paths, *, progress=None, fetch=None) -> IngestReport:
    """Validate every record of every file, store the valid ones, report the rest; then commit.

    A url that appears twice in one run keeps its last version, as a re-ingest would. A record
    the database refuses (a constraint, a trigger) is reported as `storage:` and rolled back alone:
    each chunk of records is written under a savepoint, and a chunk that fails is written again
    one record per savepoint, so the records around the refused one are stored all the same.
    """
    report = IngestReport()
    valid: dict[str, tuple[str, int, ArticleData]] = {}
    for path in paths:
        if fetch is not None and isinstance(path, str) and path.startswith(("https://", "http://")):
            records, errors = read_url_records(path, fetch)  # fetch: url -> bytes, given by the caller
        else:
            records, errors = read_records(path)
        rejected = list(errors)
        for line, obj in records:
            try:
                item = validate_article(obj)
            except InputError as exc:
                rejected.append(Rejected(str(path), line, str(exc)))
                continue
            valid.pop(item.url, None)
            valid[item.url] = (str(path), line, item)
        rejected.sort(key=lambda r: r.line)  # stable: a line's own errors keep their order
        report.rejected.extend(rejected)
    entries = list(valid.values())
    store = NameStore(session)
    done = 0
    for chunk_start in range(0, len(entries), _STORE_CHUNK):
        chunk = entries[chunk_start:chunk_start + _STORE_CHUNK]
        try:
            with session.begin_nested():
                outcomes = [store_article(session, store, item) for _, _, item in chunk]
        except STORAGE_ERRORS as exc:
            raise_if_disconnected(exc)
            store = NameStore(session)  # its cache may hold rows that the rollback took back
            outcomes = []
            for file, line, item in chunk:
                try:
                    with session.begin_nested():
                        outcomes.append(store_article(session, store, item))
                except STORAGE_ERRORS as exc:
                    raise_if_disconnected(exc)
                    store = NameStore(session)
                    report.rejected.append(Rejected(file, line, storage_error(exc)))
        for created in outcomes:
            if created:
                report.stored += 1
            else:
                report.updated += 1
        done += len(chunk)
        if progress:
            progress(done, len(entries))
    session.commit()
    return report


_STORE_CHUNK = 200
STORAGE_ERRORS = (SQLAlchemyError, ValueError, OverflowError, UnicodeError)


def raise_if_disconnected(exc: Exception) -> None:
    # A lost connection is no fault of the record: every following record would fail the same way.
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        raise exc


def storage_error(exc: Exception) -> str:
    """The rejection message for a record the database refused: the driver's own words, one line."""
    detail = getattr(exc, "orig", None) or exc
    text = " ".join(str(detail).split())[:300] or type(detail).__name__
    return f"storage: the database refused it: {text}"
