"""Ingest articles from JSON arrays or JSONL: validate each record, store the valid ones, report the rest."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlmodel import Session, select

from .errors import InputError
from .models import Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, Segment, utcnow
from .names import SEGMENT_SEPARATOR, alias_key, slugify

# C0 controls other than tab and newline, and DEL: never meaningful in a title or a note, and
# PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ArticleIn:
    """A validated article record, ready to store."""

    url: str
    title: str
    summary: str
    published_at: datetime
    category: str
    region: str
    read_minutes: int
    companies: tuple[str, ...]
    segments: tuple[str, ...]
    tags: tuple[str, ...]
    novelty: int
    novelty_note: str
    significance: int
    significance_note: str
    related: tuple[str, ...]


@dataclass
class Rejected:
    file: str
    line: int
    error: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.error}"


@dataclass
class IngestReport:
    stored: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"stored": self.stored, "updated": self.updated,
                "rejected": [{"file": r.file, "line": r.line, "error": r.error} for r in self.rejected]}


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def read_records(path: str | Path) -> tuple[list[tuple[int, object]], list[Rejected]]:
    """Parse a JSON array or JSONL file into (line, object) pairs, plus syntax errors with their lines."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], [Rejected(name, 0, "file: no such file")]
    except UnicodeDecodeError as exc:
        return [], [Rejected(name, _line_of_byte(path, exc.start), "file: not UTF-8 text")]
    except OSError as exc:
        return [], [Rejected(name, 0, f"file: {exc.strerror}")]
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _read_array(name, text, len(text) - len(stripped))
    records, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(Rejected(name, number, f"json: {exc.msg} (column {exc.colno})"))
    return records, errors


def _line_of_byte(path, offset: int) -> int:
    return Path(path).read_bytes()[:offset].count(b"\n") + 1


def _read_array(name: str, text: str, start: int) -> tuple[list[tuple[int, object]], list[Rejected]]:
    decoder = json.JSONDecoder()
    records: list[tuple[int, object]] = []
    pos = start + 1
    ws = re.compile(r"\s*")
    while True:
        pos = ws.match(text, pos).end()
        if pos >= len(text):
            return records, [Rejected(name, _line(text, pos), "json: the array is not closed (truncated file?)")]
        if text[pos] == "]":
            rest = text[pos + 1:].strip()
            if rest:
                return records, [Rejected(name, _line(text, pos + 1), "json: unexpected data after the array")]
            return records, []
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # A syntax error leaves the rest unreadable; the records before it are still good.
            return records, [Rejected(name, exc.lineno, f"json: {exc.msg} (column {exc.colno})")]
        records.append((_line(text, pos), obj))
        pos = ws.match(text, end).end()
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] != "]":
            return records, [Rejected(name, _line(text, pos), "json: expected ',' or ']' between records")]


def _clean(value: str, *, one_line: bool = True) -> str:
    value = _CONTROL.sub(" " if one_line else "", value)
    return _SPACES.sub(" ", value).strip() if one_line else value.strip()


def _text(obj: dict, key: str, *, required: bool = False, one_line: bool = True, limit: int = 10_000) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(key, "is required")
        return ""
    if not isinstance(value, str):
        raise InputError(key, f"must be a string, not {type(value).__name__}")
    value = _clean(value, one_line=one_line)
    if required and not value:
        raise InputError(key, "must not be empty")
    if len(value) > limit:
        raise InputError(key, f"is longer than {limit} characters")
    return value


def _url(value, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(key, "must be a non-empty URL string")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(value) or " " in value:
        raise InputError(key, f"must be an http(s) URL, not {value[:80]!r}")
    if len(value) > 2000:
        raise InputError(key, "is longer than 2000 characters")
    return value


def _names(obj: dict, key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(key, f"must be a list of strings, not {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _clean(item):
            raise InputError(f"{key}[{i}]", "must be a non-empty string")
        item = _clean(item)
        if len(item) > 200:
            raise InputError(f"{key}[{i}]", "is longer than 200 characters")
        if item not in out:
            out.append(item)
    return tuple(out)


def _segment_name(raw: str, key: str) -> str:
    parts = [p.strip() for p in raw.replace("·", SEGMENT_SEPARATOR).split(SEGMENT_SEPARATOR.strip())]
    if any(not p for p in parts):
        raise InputError(key, f"segment {raw!r} has an empty part; write 'Parent · Child'")
    return SEGMENT_SEPARATOR.join(parts)


def _score(obj: dict, name: str) -> tuple[int, str]:
    scores = obj.get("scores")
    if not isinstance(scores, dict):
        raise InputError("scores", "is required: {\"novelty\": {\"score\": 1-3, \"note\": ...}, \"significance\": ...}")
    entry = scores.get(name)
    if not isinstance(entry, dict):
        raise InputError(f"scores.{name}", "is required: {\"score\": 1-3, \"note\": \"...\"}")
    score = entry.get("score")
    if isinstance(score, bool) or not isinstance(score, int):
        raise InputError(f"scores.{name}.score", f"must be an integer 1 to 3, not {score!r}")
    if not 1 <= score <= 3:
        raise InputError(f"scores.{name}.score", f"must be 1, 2 or 3, not {score}")
    return score, _text(entry, "note", limit=500)


def validate_article(obj: object) -> ArticleIn:
    """Check one record against the article format; raise InputError naming the field."""
    if not isinstance(obj, dict):
        raise InputError("record", f"must be a JSON object, not {type(obj).__name__}")
    url = _url(obj.get("url"), "url")
    title = _text(obj, "title", required=True, limit=500)
    raw_time = obj.get("published_at")
    if not isinstance(raw_time, str):
        raise InputError("published_at", "is required: an ISO 8601 time with a zone, like 2026-11-20T09:00:00Z")
    try:
        published = datetime.fromisoformat(raw_time.strip())
    except ValueError:
        raise InputError("published_at", f"{raw_time!r} is not an ISO 8601 time") from None
    if published.tzinfo is None or published.utcoffset() is None:
        raise InputError("published_at", f"{raw_time!r} has no time zone; add Z or an offset like +09:00")
    minutes = obj.get("read_minutes", 1)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 600:
        raise InputError("read_minutes", f"must be a whole number of minutes from 1 to 600, not {minutes!r}")
    segments = tuple(_segment_name(s, f"segments[{i}]") for i, s in enumerate(_names(obj, "segments")))
    related_raw = obj.get("related", [])
    if not isinstance(related_raw, list):
        raise InputError("related", "must be a list of URLs")
    related = tuple(dict.fromkeys(_url(u, f"related[{i}]") for i, u in enumerate(related_raw)))
    novelty, novelty_note = _score(obj, "novelty")
    significance, significance_note = _score(obj, "significance")
    return ArticleIn(
        url=url, title=title, summary=_text(obj, "summary", one_line=False, limit=20_000),
        published_at=published, category=_text(obj, "category", limit=200), region=_text(obj, "region", limit=100),
        read_minutes=minutes, companies=_names(obj, "companies"), segments=tuple(dict.fromkeys(segments)),
        tags=_names(obj, "tags"), novelty=novelty, novelty_note=novelty_note,
        significance=significance, significance_note=significance_note,
        related=tuple(u for u in related if u != url),
    )


class Catalog:
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
        self.session.add(CompanyAlias(key=key, alias=_clean(alias), company_id=company.id))
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


def store_article(session: Session, catalog: Catalog, item: ArticleIn) -> bool:
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
    companies = []
    for name in item.companies:
        company = catalog.company(name)
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
        session.add(ArticleSegment(article_id=article.id, segment_id=catalog.segment(name).id, position=position))
    return created


def load_aliases(session: Session, mapping: dict[str, list[str]]) -> int:
    """Register company aliases ({"ByteDance": ["바이트댄스"]}); returns how many were new."""
    catalog = Catalog(session)
    added = sum(catalog.alias(name, alias) for name, aliases in mapping.items() for alias in aliases)
    session.commit()
    return added


def ingest_files(session: Session, paths, *, progress=None) -> IngestReport:
    """Validate every record of every file, store the valid ones in one transaction, report the rest.

    A url that appears twice in one run keeps its last version, as a re-ingest would.
    """
    report = IngestReport()
    valid: dict[str, ArticleIn] = {}
    for path in paths:
        records, errors = read_records(path)
        report.rejected.extend(errors)
        for line, obj in records:
            try:
                item = validate_article(obj)
            except InputError as exc:
                report.rejected.append(Rejected(str(path), line, str(exc)))
                continue
            valid.pop(item.url, None)
            valid[item.url] = item
    catalog = Catalog(session)
    for index, item in enumerate(valid.values()):
        if store_article(session, catalog, item):
            report.stored += 1
        else:
            report.updated += 1
        if progress:
            progress(index + 1, len(valid))
    session.commit()
    return report
