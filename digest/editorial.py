"""Editorial controls in the store: an editor's note, pin or pull for a window of send times, with
who made it and when (table editorial_control, migration 0010); and the cache a pipeline keeps of
them. How they change one reader's digest is digest/selection/editorial.py."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from . import queries
from .errors import InputError, NotFound
from .models import Article, EditorialControl, utcnow
from .render.note import MAX_NOTE
from .selection import Selection, Selector
from .selection.editorial import PULLED_MARK, Control, Editorial, apply_pins, without
from .types import Issue, Reader

KINDS = ("note", "pin", "pull")
DEFAULT_DAYS = 7


def default_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The next seven days of send times."""
    start = now or utcnow()
    return start, start + timedelta(days=DEFAULT_DAYS)


def add_control(session: Session, kind: str, *, who: str, starts_at: datetime, ends_at: datetime,
                text: str = "", url: str | None = None, target: tuple[str, str] | None = None) -> EditorialControl:
    """Record a note (text) or a pin or pull (url of a stored article) and commit it. `target` is
    (company|segment, canonical name), resolved by the caller; only notes and pins take one."""
    if kind not in KINDS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    if ends_at <= starts_at:
        raise InputError("until", "must be after --from")
    if kind == "note":
        text = (text or "").strip()
        if not text:
            raise InputError("text", "the note is empty")
        if len(text) > MAX_NOTE:
            raise InputError("text", f"is longer than {MAX_NOTE} characters")
    else:
        url = (url or "").strip()
        if session.exec(select(Article.id).where(Article.url == url)).first() is None:
            raise NotFound(f"no article with the url {url!r}")
    if target is not None and kind == "pull":
        raise InputError("target", "a pull applies to every reader; only notes and pins take --company or --segment")
    row = EditorialControl(kind=kind, text=text if kind == "note" else "", article_url=url if kind != "note" else None,
                           target_kind=target[0] if target else None, target_name=target[1] if target else None,
                           starts_at=starts_at, ends_at=ends_at, created_by=who[:200])
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def remove_control(session: Session, control_id: int, *, who: str) -> EditorialControl:
    row = session.get(EditorialControl, control_id)
    if row is None or row.removed_at is not None:
        raise NotFound(f"no editorial control {control_id} in force; `digest issue list` shows them")
    row.removed_at, row.removed_by = utcnow(), who[:200]
    session.add(row)
    session.commit()
    return row


def controls_in_force(session: Session, *, after: datetime | None = None) -> list[EditorialControl]:
    """Controls not removed whose window ends after `after` (now): in force or still to come."""
    return list(session.exec(select(EditorialControl).where(
        EditorialControl.removed_at.is_(None), EditorialControl.ends_at > (after or utcnow()))
        .order_by(EditorialControl.starts_at, EditorialControl.id)))


def control_json(row: EditorialControl) -> dict:
    return {"id": row.id, "kind": row.kind, "text": row.text or None, "url": row.article_url,
            "company": row.target_name if row.target_kind == "company" else None,
            "segment": row.target_name if row.target_kind == "segment" else None,
            "from": row.starts_at.isoformat(), "until": row.ends_at.isoformat(),
            "by": row.created_by, "at": row.created_at.isoformat()}


def load_editorial(session: Session) -> Editorial:
    """Every control not removed, as plain values, with the articles of the pins."""
    rows = session.exec(select(EditorialControl).where(EditorialControl.removed_at.is_(None))
                        .order_by(EditorialControl.id)).all()
    controls = tuple(Control(r.id, r.kind, r.starts_at, r.ends_at, r.text, r.article_url, r.target_kind,
                             r.target_name, r.created_by, r.created_at) for r in rows)
    pin_urls = {c.article_url for c in controls if c.kind == "pin"}
    pinned = {}
    if pin_urls:
        articles = session.exec(select(Article).where(Article.url.in_(sorted(pin_urls)))).all()
        pinned = {a.url: a for a in queries.articles_data(session, list(articles))}
    return Editorial(controls, pinned)


def _version(session: Session) -> tuple:
    return tuple(session.exec(select(sa.func.count(EditorialControl.id), sa.func.max(EditorialControl.id),
                                     sa.func.max(EditorialControl.removed_at))).one())


class EditorialCache:
    """A pipeline's copy of the controls: checked against the table at most once a second (a count
    and two maxima), reloaded when they changed, or at once after invalidate()."""

    CHECK_SECONDS = 1.0

    def __init__(self):
        self._editorial: Editorial | None = None
        self._version: tuple | None = None
        self._checked = 0.0
        self._selectors: dict = {}  # (id of the full selector, pulled urls) -> (full selector, selector)

    @property
    def version(self) -> tuple | None:
        """What the controls last loaded were (changes whenever a control is added or removed)."""
        return self._version

    def invalidate(self) -> None:
        self._checked = 0.0
        self._version = None

    def at(self, session: Session, when: datetime, made_before: datetime | None = None) -> "EditorialAt":
        """The controls in force at the send time `when`; with made_before (a web version rebuilt as
        sent), only those made before it."""
        now = time.monotonic()
        if self._editorial is None or now - self._checked >= self.CHECK_SECONDS:
            version = _version(session)
            if version != self._version:
                self._editorial, self._version = load_editorial(session), version
                self._selectors.clear()
            self._checked = now
        editorial = self._editorial
        if made_before is not None:
            editorial = dataclasses.replace(editorial, controls=tuple(
                c for c in editorial.controls if c.created_at is None or c.created_at <= made_before))
        return EditorialAt(self, editorial, when)

    def selector(self, full: Selector, pulled: frozenset[str]) -> Selector:
        if not pulled:
            return full
        key = (id(full), pulled)
        found = self._selectors.get(key)
        if found is None or found[0] is not full:
            found = self._selectors[key] = (full, Selector(without(full.articles, pulled), full.options))
        return found[1]

    def mark_pulled(self, issue: Issue) -> Issue:
        """The issue with each story pulled since marked (for its web version)."""
        pulled = {c.article_url for c in (self._editorial.controls if self._editorial else ()) if c.kind == "pull"}
        if not pulled or not any(c.article.url in pulled for c in issue.choices):
            return issue
        choices = tuple(dataclasses.replace(c, withdrawn=True) if c.article.url in pulled else c
                        for c in issue.choices)
        return dataclasses.replace(issue, choices=choices)


@dataclasses.dataclass
class EditorialAt:
    """The controls in force at one send time, as build() applies them."""

    cache: EditorialCache
    editorial: Editorial
    when: datetime
    options: object = None

    def selector(self, full: Selector) -> Selector:
        self.options = full.options
        return self.cache.selector(full, self.editorial.pulled_at(self.when))

    def apply(self, reader: Reader, received_ids, selection: Selection) -> Selection:
        pins = self.editorial.pins_for(reader, self.when)
        if not pins:
            return selection
        return apply_pins(selection, reader, pins, received_ids=received_ids, options=self.options)

    def note_for(self, reader: Reader) -> str:
        return self.editorial.note_for(reader, self.when)
