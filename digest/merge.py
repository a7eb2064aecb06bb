"""Names after the fact: merge one company into another, rename (or merge) a segment. Articles,
follows, mutes, aliases and editorial targets move; nothing is lost; a reader who followed both
follows one; the ledger (digest rows and what each carried) is untouched, since it names articles.
The caller resolves the names (subscribers.follows) and commits once this returns."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from .errors import InputError
from .ingest import NameStore
from .models import (Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, EditorialControl, Follow, Segment,
                     Subscriber)
from .names import SEGMENT_SEPARATOR, company_key, segment_key


def _move_links(session: Session, model, column: str, old: int, new: int, key: str) -> int:
    """Point the link rows of `old` at `new`; where a row of `new` already exists for the same key
    (article, subscriber), keep that one with the better position and drop the old. Returns moved rows."""
    col, key_col = getattr(model, column), getattr(model, key)
    both = select(key_col).where(col == new)
    if hasattr(model, "position"):
        for row_key, position in session.exec(select(key_col, model.position).where(col == old, key_col.in_(both))).all():
            session.execute(sa.update(model).where(col == new, key_col == row_key,
                                                model.position > position).values(position=position))
    session.execute(sa.delete(model).where(col == old, key_col.in_(both)))
    result = session.execute(sa.update(model).where(col == old).values({column: new}))
    return result.rowcount or 0


def _rename_mutes(session: Session, kind: str, renamed) -> int:
    """Mute lists that name an old company or segment name the new one (renamed: old key -> new name)."""
    changed = 0
    key_of = company_key if kind == "company" else segment_key
    for subscriber in session.exec(select(Subscriber).where(sa.func.length(sa.cast(Subscriber.muted, sa.String)) > 2)):
        muted, seen, dirty = [], set(), False
        for entry in subscriber.muted or []:
            if entry.get("kind") == kind and key_of(entry.get("name", "")) in renamed:
                entry, dirty = {**entry, "name": renamed[key_of(entry["name"])]}, True
            ident = (entry.get("kind"), key_of(entry.get("name", "")))
            if ident not in seen:
                seen.add(ident)
                muted.append(entry)
        if dirty:
            subscriber.muted = muted
            session.add(subscriber)
            changed += 1
    return changed


def merge_companies(session: Session, source: Company, target: Company) -> dict:
    """Merge `source` into `target` and delete `source`; its name becomes an alias of `target`."""
    if source.id == target.id:
        raise InputError("into", f"{source.name!r} and {target.name!r} are the same company")
    articles = _move_links(session, ArticleCompany, "company_id", source.id, target.id, "article_id")
    session.execute(sa.update(Article).where(Article.primary_company_id == source.id).values(primary_company_id=target.id))
    follows_before = session.exec(select(sa.func.count()).select_from(Follow).where(
        Follow.kind == "company", Follow.target_id.in_([source.id, target.id]))).one()
    session.execute(sa.delete(Follow).where(Follow.kind == "company", Follow.target_id == source.id,
                                         Follow.subscriber_id.in_(select(Follow.subscriber_id).where(
                                             Follow.kind == "company", Follow.target_id == target.id))))
    session.execute(sa.update(Follow).where(Follow.kind == "company", Follow.target_id == source.id)
                 .values(target_id=target.id))
    follows_after = session.exec(select(sa.func.count()).select_from(Follow).where(
        Follow.kind == "company", Follow.target_id == target.id)).one()
    aliases = session.execute(sa.update(CompanyAlias).where(CompanyAlias.company_id == source.id)
                           .values(company_id=target.id)).rowcount or 0
    if session.get(CompanyAlias, company_key(source.name)) is None:
        session.add(CompanyAlias(key=company_key(source.name), alias=source.name, company_id=target.id))
    mutes = _rename_mutes(session, "company", {company_key(source.name): target.name})
    session.execute(sa.update(EditorialControl).where(EditorialControl.target_kind == "company",
                                                   EditorialControl.target_name == source.name)
                 .values(target_name=target.name))
    session.flush()
    session.execute(sa.delete(Company).where(Company.id == source.id))
    return {"from": source.name, "into": target.name, "articles": articles, "follows": follows_after,
            "follows_merged": follows_before - follows_after, "aliases": aliases, "mutes": mutes}


def rename_segment(session: Session, segment: Segment, new_name: str) -> dict:
    """Give `segment` (and every segment below it) the full name `new_name`; when a segment of that
    name exists already, merge into it. Follows, articles, mutes and editorial targets follow."""
    new_name = SEGMENT_SEPARATOR.join(p.strip() for p in new_name.split("·"))
    if not new_name.strip() or any(not p.strip() for p in new_name.split("·")):
        raise InputError("name", f"{new_name!r} has an empty part; write 'Parent · Child'")
    old_name = segment.name
    if segment_key(new_name) == segment_key(old_name) and new_name == old_name:
        raise InputError("name", f"the segment is already called {old_name!r}")
    if segment_key(new_name).startswith(segment_key(old_name) + SEGMENT_SEPARATOR):
        raise InputError("name", "a segment cannot move below itself")
    renamed: dict[str, str] = {}
    counts = {"segments": 0, "articles": 0, "follows_merged": 0}
    _rename_tree(session, NameStore(session), segment, new_name, renamed, counts)
    mutes = _rename_mutes(session, "segment", renamed)
    for control in session.exec(select(EditorialControl).where(EditorialControl.target_kind == "segment")):
        if control.target_name and segment_key(control.target_name) in renamed:
            control.target_name = renamed[segment_key(control.target_name)]
            session.add(control)
    session.flush()
    return {"from": old_name, "to": new_name, **counts, "mutes": mutes}


def _rename_tree(session, store: NameStore, segment: Segment, new_name: str, renamed: dict, counts: dict) -> None:
    children = session.exec(select(Segment).where(Segment.parent_id == segment.id)).all()
    renamed[segment_key(segment.name)] = new_name
    existing = session.exec(select(Segment).where(Segment.name == new_name)).first()
    if existing is None:
        existing = next((s for s in session.exec(select(Segment)) if segment_key(s.name) == segment_key(new_name)
                         and s.id != segment.id), None)
    parts = new_name.split(SEGMENT_SEPARATOR)
    counts["segments"] += 1
    if existing is not None and existing.id != segment.id:  # merge into the segment of that name
        counts["articles"] += _move_links(session, ArticleSegment, "segment_id", segment.id, existing.id, "article_id")
        before = _segment_follows(session, (segment.id, existing.id))
        session.execute(sa.delete(Follow).where(Follow.kind == "segment", Follow.target_id == segment.id,
                                             Follow.subscriber_id.in_(select(Follow.subscriber_id).where(
                                                 Follow.kind == "segment", Follow.target_id == existing.id))))
        session.execute(sa.update(Follow).where(Follow.kind == "segment", Follow.target_id == segment.id)
                     .values(target_id=existing.id))
        counts["follows_merged"] += before - _segment_follows(session, (existing.id,))
        for child in children:
            _rename_tree(session, store, child, new_name + SEGMENT_SEPARATOR + child.label, renamed, counts)
        session.flush()
        session.execute(sa.delete(Segment).where(Segment.id == segment.id))
        return
    parent = store.segment(SEGMENT_SEPARATOR.join(parts[:-1])) if len(parts) > 1 else None
    segment.name, segment.label, segment.parent_id = new_name, parts[-1], parent.id if parent else None
    session.add(segment)
    session.flush()
    counts["articles"] += session.exec(select(sa.func.count()).select_from(ArticleSegment)
                                       .where(ArticleSegment.segment_id == segment.id)).one()
    for child in children:
        _rename_tree(session, store, child, new_name + SEGMENT_SEPARATOR + child.label, renamed, counts)


def _segment_follows(session: Session, ids) -> int:
    return session.exec(select(sa.func.count()).select_from(Follow).where(
        Follow.kind == "segment", Follow.target_id.in_(list(ids)))).one()
