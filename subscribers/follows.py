"""Follows: companies by name or alias, segments by full name, and the Reader the pipeline gets."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from sqlmodel import Session, select

from digest.errors import InputError, NotFound
from digest.models import Company, CompanyAlias, Follow, Segment, Subscriber
from digest.names import company_key, segment_key
from digest.queries import load_readers
from digest.types import Reader

COMPANY, SEGMENT = "company", "segment"
_CHUNK = 1000  # ids per IN (...) list; far below SQLite's and psycopg's parameter limits


class UnknownName(NotFound):
    """A company or segment name that matches nothing; carries the closest known names."""

    def __init__(self, kind: str, name: str, suggestions: Sequence[str] = ()):
        self.kind, self.name, self.suggestions = kind, name, tuple(suggestions)
        self.field = "companies" if kind == COMPANY else "segments"
        hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")


def _suggest(name: str, known: Iterable[str]) -> list[str]:
    by_fold: dict[str, str] = {}
    for item in known:
        by_fold.setdefault(company_key(item), item)
    close = difflib.get_close_matches(company_key(name), list(by_fold), n=3, cutoff=0.6)
    if not close:
        # A part of a name ("Foundation" for "Foundation Models · Case Studies") is worth offering too.
        folded = company_key(name)
        close = [k for k in by_fold if folded and folded in k][:3]
    return [by_fold[c] for c in close]


class NameIndex:
    """Every company alias and segment, loaded once, to resolve many names (imports, bulk readers).

    Read-only; ingest's NameStore is the one that creates companies and segments.
    """

    def __init__(self, session: Session):
        self.companies: dict[int, str] = {c.id: c.name for c in session.exec(select(Company))}
        self.aliases: dict[str, int] = {}
        self.alias_names: list[str] = list(self.companies.values())
        for alias in session.exec(select(CompanyAlias)):
            self.aliases[alias.key] = alias.company_id
            self.alias_names.append(alias.alias)
        for company_id, name in self.companies.items():
            # A company whose own name was never entered as an alias is still found by that name.
            self.aliases.setdefault(company_key(name), company_id)
        self.segments: dict[int, Segment] = {s.id: s for s in session.exec(select(Segment))}
        self.segment_keys = {segment_key(s.name): s.id for s in self.segments.values()}

    def company(self, name: str) -> tuple[int, str]:
        """(id, canonical name) of the company known by name or alias; raises UnknownName."""
        for key in (company_key(name), name.strip().casefold(), name.casefold()):
            if key in self.aliases:
                company_id = self.aliases[key]
                return company_id, self.companies[company_id]
        raise UnknownName(COMPANY, name.strip(), _suggest(name, self.alias_names))

    def segment(self, name: str) -> tuple[int, str]:
        """(id, full name) of the segment; raises UnknownName."""
        segment_id = self.segment_keys.get(segment_key(name))
        if segment_id is None:
            raise UnknownName(SEGMENT, name.strip(), _suggest(name, [s.name for s in self.segments.values()]))
        return segment_id, self.segments[segment_id].name


Catalog = NameIndex  # the former name, still imported by the web app


def resolve_company(session: Session, name: str) -> Company:
    """The company known by name or any alias, case-insensitively; raises UnknownName (a NotFound)."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("companies", "a company name is empty")
    keys = list(dict.fromkeys((company_key(name), name.strip().casefold(), name.casefold())))
    alias = session.exec(select(CompanyAlias).where(CompanyAlias.key.in_(keys))).first()
    if alias is not None:
        return session.get(Company, alias.company_id)
    company_id, _ = NameIndex(session).company(name)  # the slow path also finds names never aliased
    return session.get(Company, company_id)


def resolve_segment(session: Session, name: str) -> Segment:
    """The segment with that full name ("A · B"), case-insensitively; raises UnknownName."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("segments", "a segment name is empty")
    exact = session.exec(select(Segment).where(Segment.name == name.strip())).first()
    if exact is not None:
        return exact
    segment_id, _ = NameIndex(session).segment(name)
    return session.get(Segment, segment_id)


def add_alias(session: Session, company_name: str, alias: str) -> CompanyAlias:
    """Make alias another name of the company (ByteDance and 바이트댄스); the caller commits."""
    company = resolve_company(session, company_name)
    if not isinstance(alias, str) or not alias.strip():
        raise InputError("alias", "is empty")
    key = company_key(alias)
    row = session.get(CompanyAlias, key)
    if row is not None:
        if row.company_id != company.id:
            other = session.get(Company, row.company_id)
            raise InputError("alias", f"{alias.strip()!r} already names {other.name if other else row.company_id!r}")
        return row
    row = CompanyAlias(key=key, alias=" ".join(alias.split()), company_id=company.id)
    session.add(row)
    session.flush()
    return row


def _follow_rows(session: Session, subscriber_ids: Sequence[int]) -> list[Follow]:
    rows: list[Follow] = []
    ids = list(dict.fromkeys(subscriber_ids))
    for start in range(0, len(ids), _CHUNK):
        rows.extend(session.exec(select(Follow).where(Follow.subscriber_id.in_(ids[start : start + _CHUNK]))))
    return rows


def follow_ids(session: Session, subscriber_ids: Sequence[int]) -> dict[int, dict[str, set[int]]]:
    """{subscriber id: {"company": ids, "segment": ids}} in one query per thousand subscribers."""
    result: dict[int, dict[str, set[int]]] = {i: {COMPANY: set(), SEGMENT: set()} for i in subscriber_ids}
    for row in _follow_rows(session, subscriber_ids):
        kinds = result.setdefault(row.subscriber_id, {COMPANY: set(), SEGMENT: set()})
        kinds.setdefault(row.kind, set()).add(row.target_id)
    return result


def set_follows(session: Session, subscriber_id: int, kind: str, target_ids: Iterable[int], *,
                current: set[int] | None = None, flush: bool = True) -> bool:
    """Make the subscriber follow exactly target_ids of that kind; True if anything changed."""
    wanted = set(target_ids)
    if current is None:
        query = select(Follow.target_id).where(Follow.subscriber_id == subscriber_id, Follow.kind == kind)
        current = set(session.exec(query))
    if wanted == current:
        return False
    for target_id in current - wanted:
        row = session.get(Follow, (subscriber_id, kind, target_id))
        if row is not None:
            session.delete(row)
    for target_id in wanted - current:
        session.add(Follow(subscriber_id=subscriber_id, kind=kind, target_id=target_id))
    if flush:
        session.flush()
    return True


def follow(session: Session, subscriber: Subscriber, *, companies: Iterable[str] = (),
           segments: Iterable[str] = ()) -> list[str]:
    """Add follows by name; returns the canonical names newly followed. Unknown names raise UnknownName
    before anything changes."""
    return _change(session, subscriber, companies, segments, add=True)


def unfollow(session: Session, subscriber: Subscriber, *, companies: Iterable[str] = (),
             segments: Iterable[str] = ()) -> list[str]:
    """Remove follows by name; returns the canonical names no longer followed."""
    return _change(session, subscriber, companies, segments, add=False)


def _change(session, subscriber, companies, segments, *, add: bool) -> list[str]:
    catalog = NameIndex(session)
    targets = [(COMPANY, *catalog.company(n)) for n in companies] + [(SEGMENT, *catalog.segment(n)) for n in segments]
    current = follow_ids(session, [subscriber.id])[subscriber.id]
    changed: list[str] = []
    for kind, target_id, name in targets:
        if (target_id in current[kind]) == add:
            continue
        if add:
            session.add(Follow(subscriber_id=subscriber.id, kind=kind, target_id=target_id))
            current[kind].add(target_id)
        else:
            session.delete(session.get(Follow, (subscriber.id, kind, target_id)))
            current[kind].discard(target_id)
        changed.append(name)
    session.flush()
    return changed


def follow_names(session: Session, subscriber_ids: Sequence[int],
                 catalog: NameIndex | None = None) -> dict[int, tuple[list[str], list[str]]]:
    """{subscriber id: (company names, segment names)} as followed (parents not expanded), sorted."""
    catalog = catalog or NameIndex(session)
    result = {}
    for subscriber_id, ids in follow_ids(session, subscriber_ids).items():
        companies = sorted((catalog.companies[i] for i in ids[COMPANY] if i in catalog.companies), key=str.casefold)
        segments = sorted((catalog.segments[i].name for i in ids[SEGMENT] if i in catalog.segments), key=str.casefold)
        result[subscriber_id] = (companies, segments)
    return result


def readers_for(session: Session, subscribers: Sequence[Subscriber]) -> list[Reader]:
    """Readers (plain data for selection) for many subscribers, loaded in bulk.

    Segments are the followed names; selection treats a followed "A" as covering every "A · B".
    """
    readers = load_readers(session, list(subscribers))
    return [readers[s.id] for s in subscribers]


def reader_for(session: Session, subscriber: Subscriber) -> Reader:
    return readers_for(session, [subscriber])[0]
