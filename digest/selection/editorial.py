"""The editor's hand on an issue, applied to one reader's selection: pulled stories are kept out of
the candidates (see `without`), pinned stories lead the digest with the reason "Editor's pick"
within the reader's maximum and reading budget, and the notes in force for the reader are joined.

Controls arrive as plain `Control` values (digest/editorial.py loads them); nothing here touches the
store, so preview, send and the web version apply them the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Collection, Sequence

from ..i18n import N_
from ..names import company_key, segment_ancestors, segment_key
from ..types import ArticleData, Choice, Reader
from .options import Selection, SelectionOptions, rating

EDITORS_PICK = N_("Editor's pick")
PULLED_MARK = N_("Withdrawn by the editors")  # before the title of a pulled story on a sent issue's web version


@dataclass(frozen=True)
class Control:
    """One editorial control: kind 'note' (text), 'pin' or 'pull' (article_url), for the sends in
    [starts_at, ends_at), to everyone or to the readers following target_kind/target_name."""

    id: int
    kind: str
    starts_at: datetime
    ends_at: datetime
    text: str = ""
    article_url: str | None = None
    target_kind: str | None = None
    target_name: str | None = None
    created_by: str = ""
    created_at: datetime | None = None

    def in_force(self, when: datetime) -> bool:
        return self.starts_at <= when < self.ends_at

    def targets(self, reader: Reader) -> bool:
        """Everyone without a target; else readers who follow the company, or the segment (or one
        above or below it)."""
        if self.target_kind is None or not self.target_name:
            return True
        if self.target_kind == "company":
            key = company_key(self.target_name)
            return any(company_key(c) == key for c in reader.companies)
        target = segment_key(self.target_name)
        return any(target in segment_ancestors(s) or segment_key(s) in segment_ancestors(self.target_name)
                   for s in reader.segments)


@dataclass(frozen=True)
class Editorial:
    """The controls that may apply to a run, with each pinned story's article."""

    controls: tuple[Control, ...] = ()
    pinned: dict = field(default_factory=dict)  # article_url -> ArticleData

    def pulled_at(self, when: datetime) -> frozenset[str]:
        return frozenset(c.article_url for c in self.controls if c.kind == "pull" and c.in_force(when))

    def note_for(self, reader: Reader, when: datetime) -> str:
        """The notes in force for this reader at `when`, oldest first, as one Markdown text."""
        notes = [c.text for c in self.controls if c.kind == "note" and c.in_force(when) and c.targets(reader)]
        return "\n\n".join(n for n in notes if n.strip())

    def pins_for(self, reader: Reader, when: datetime) -> list[ArticleData]:
        """The pinned articles that lead this reader's digest at `when`, newest pin first; a story
        pulled at the same time is not pinned."""
        pulled = self.pulled_at(when)
        pins = [c for c in self.controls if c.kind == "pin" and c.in_force(when) and c.targets(reader)
                and c.article_url not in pulled and c.article_url in self.pinned]
        pins.sort(key=lambda c: (c.created_at is None, c.created_at), reverse=True)
        return list(dict.fromkeys(self.pinned[c.article_url] for c in pins))


def without(articles: Sequence[ArticleData], pulled: Collection[str]) -> list[ArticleData]:
    """The candidates with the pulled stories taken out (a Selector is then built over these)."""
    return [a for a in articles if a.url not in pulled] if pulled else list(articles)


def _muted(article: ArticleData, reader: Reader) -> bool:
    for kind, name in reader.muted:
        if kind == "company" and article.companies and company_key(article.companies[0]) == company_key(name):
            return True
        if kind == "segment" and any(segment_key(name) in segment_ancestors(s) for s in article.segments):
            return True
        if kind == "tag" and any(company_key(t) == company_key(name) for t in article.tags):
            return True
    return False


def apply_pins(selection: Selection, reader: Reader, pins: Sequence[ArticleData], *,
               received_ids: Collection[int] = frozenset(),
               options: SelectionOptions = SelectionOptions()) -> Selection:
    """The selection with the reader's pinned stories first (reason "Editor's pick"), the rest after
    them within the reader's maximum and reading budget; what no longer fits moves to the overflow.
    A pin the reader already received, or muted, is left out."""
    pins = [a for a in pins if a.id not in received_ids and not _muted(a, reader)]
    if not pins or reader.max_articles <= 0:
        return selection
    budget = reader.reading_budget
    lead: list[Choice] = []
    used = 0
    for article in pins[:reader.max_articles]:
        if budget is not None and used + article.read_minutes > budget:
            continue
        lead.append(Choice(article, (EDITORS_PICK,), rating(article, options)))
        used += article.read_minutes
    if not lead:
        return selection
    urls = {c.article.url for c in lead}
    rest, dropped = [], []
    chosen = len(selection.choices)
    others = (*selection.choices, *(selection.overflow if chosen else ()))
    for position, choice in enumerate(others):
        if choice.article.url in urls:
            continue
        if any(a.url in urls for a in choice.connected):
            choice = dataclasses.replace(choice, connected=tuple(a for a in choice.connected if a.url not in urls))
        fits = len(lead) + len(rest) < reader.max_articles and (
            budget is None or used + choice.article.read_minutes <= budget)
        if fits and position < chosen:
            rest.append(choice)
            used += choice.article.read_minutes
        else:
            dropped.append(choice)
    return Selection((*lead, *rest), selection.window_start, selection.window_end,
                     selection.more_count, None, _overflow=tuple(dropped))
