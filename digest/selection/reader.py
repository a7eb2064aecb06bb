"""One reader's pass over a prepared Selector: cover each follow, then fill by rating under the caps."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import TYPE_CHECKING

from ..types import Choice, Reader
from .options import Selection

if TYPE_CHECKING:
    from .selector import Selector


class _Picks:
    """What one reader's selection has taken so far: the picks, each company's count, the minutes used."""

    __slots__ = ("cap", "budget", "primary", "minutes", "picks", "taken", "per_company", "used")

    def __init__(self, cap: int, budget: int | None, primary, minutes):
        self.cap, self.budget, self.primary, self.minutes = cap, budget, primary, minutes
        self.picks: list[int] = []
        self.taken: set[int] = set()
        self.per_company: dict[str, int] = {}
        self.used = 0

    def eligible(self, r: int) -> bool:
        if r in self.taken or (self.budget is not None and self.used + self.minutes[r] > self.budget):
            return False
        p = self.primary[r]
        return p is None or self.per_company.get(p, 0) < self.cap

    def take(self, r: int) -> None:
        self.picks.append(r)
        self.taken.add(r)
        self.used += self.minutes[r]
        p = self.primary[r]
        if p is not None:
            self.per_company[p] = self.per_company.get(p, 0) + 1


class _ReaderPass:
    """One reader's selection over a prepared Selector; lives for one call."""

    def __init__(self, sel: Selector, reader: Reader, follows: dict[str, str], qualifying: int, received: int, received_urls):
        self.sel = sel
        self.reader = reader
        self.follows = follows
        self.q = qualifying
        self.received_mask = received
        self.received_urls = received_urls
        self.head: dict[int, bool] = {}  # rank -> whether it heads its own story
        self.stories: dict[int, tuple[int, ...]] = {}  # head rank -> the other members

    # Stories: an article heads its own story unless a better qualifying article that heads a story
    # is directly related to it; it then joins the best such one. One hop only (see docs).

    def is_head(self, r: int) -> bool:
        known = self.head.get(r)
        if known is not None:
            return known
        nbr, q, head = self.sel._nbr, self.q, self.head
        if not nbr[r] or nbr[r][0] > r:  # nothing better is related to it
            head[r] = True
            return True
        stack = [r]
        while stack:  # iterative: long chains of related articles must not hit the recursion limit
            x = stack[-1]
            if x in head:
                stack.pop()
                continue
            verdict, pending = True, None
            for m in nbr[x]:
                if m >= x:
                    break
                if not (q >> m) & 1:
                    continue
                known = head.get(m)
                if known is None:
                    pending = m
                    break
                if known:
                    verdict = False
                    break
            if pending is not None:
                stack.append(pending)
                continue
            head[x] = verdict
            stack.pop()
        return head[r]

    def any_left_out(self, mask: int, taken: set[int]) -> bool:
        """Whether an article of the mask is shown neither as a choice nor inside a chosen story."""
        while mask:
            low = mask & -mask
            mask ^= low
            r = low.bit_length() - 1
            if r not in taken and self.story_of(r) not in taken:
                return True
        return False

    def story_of(self, r: int) -> int:
        """The head of the story a qualifying article belongs to."""
        if self.is_head(r):
            return r
        q = self.q
        for m in self.sel._nbr[r]:
            if (q >> m) & 1 and self.is_head(m):
                return m
        raise AssertionError("a qualifying article that heads no story has a better related head")

    def members(self, head: int) -> tuple[int, ...]:
        found = self.stories.get(head)
        if found is None:
            q = self.q
            found = tuple(n for n in self.sel._nbr[head] if n > head and (q >> n) & 1 and self.story_of(n) == head)
            self.stories[head] = found
        return found

    def story_keys(self, head: int) -> set[str]:
        keys_of, follows = self.sel._keys_of, self.follows
        keys = {k for k in keys_of[head] if k in follows}
        for n in self.members(head):
            keys.update(k for k in keys_of[n] if k in follows)
        return keys

    def run(self, start: datetime, end: datetime) -> Selection:
        sel, reader, q = self.sel, self.reader, self.q
        budget = reader.reading_budget if reader.reading_budget and reader.reading_budget > 0 else None
        state = _Picks(sel.options.max_per_company, budget, sel._primary, sel._minutes)
        limit = reader.max_articles
        self._cover(state, limit)
        self._fill(state, limit)
        picks = state.picks
        if not picks:
            unit = "minute" if budget == 1 else "minutes"
            reason = f"no article about what you follow fits your reading budget of {budget} {unit}"
            return Selection((), start, end, q.bit_count(), reason)
        picks.sort()
        choices = tuple(self.choice(r) for r in picks)
        shown = len(picks) + sum(len(c.connected) for c in choices)
        return Selection(choices, start, end, q.bit_count() - shown, None)

    def _cover(self, state: _Picks, limit: int) -> None:
        """Pass 1, coverage. Each follow's candidate is the story holding its best article whose
        story can still be taken; the best candidate goes first, and taking a story covers every
        follow any of its articles matches. Eligibility only ever shrinks, so stale heap entries
        are re-checked when they surface."""
        q, eligible, picks = self.q, state.eligible, state.picks
        index = self.sel._index
        follow_lists = [index.get(key, ()) for key in self.follows]

        def candidate(i: int, pos: int):
            lst = follow_lists[i]
            while pos < len(lst):
                r = lst[pos]
                if (q >> r) & 1:
                    h = self.story_of(r)
                    if eligible(h):
                        return (h, i, pos)
                pos += 1
            return None

        follow_keys = list(self.follows)
        heap = [c for c in (candidate(i, 0) for i in range(len(follow_keys))) if c is not None]
        heapq.heapify(heap)
        covered: set[str] = set()
        while heap and len(picks) < limit:
            h, i, pos = heapq.heappop(heap)
            if follow_keys[i] in covered:
                continue
            if not eligible(h):
                nxt = candidate(i, pos + 1)
                if nxt is not None:
                    heapq.heappush(heap, nxt)
                continue
            state.take(h)
            covered |= self.story_keys(h)

    def _fill(self, state: _Picks, limit: int) -> None:
        """Pass 2 fills by rating under the company cap; pass 3 lets a capped company fill the rest
        only when no article of another company was left out. Articles leave the walk in bulk
        (a company's at its cap, the ones longer than the budget left), so the walk only meets
        articles it can take."""
        sel, q = self.sel, self.q
        cap, budget, primary, minutes = state.cap, state.budget, state.primary, state.minutes
        picks, taken, per_company = state.picks, state.taken, state.per_company
        primary_mask = sel._primary_mask
        rest = q
        for p, count in per_company.items():
            if count >= cap:
                rest &= ~primary_mask[p]
        if budget is not None:
            rest &= sel._fitting(budget - state.used)
        while rest and len(picks) < limit:
            low = rest & -rest
            rest ^= low
            r = low.bit_length() - 1
            if r in taken or not self.is_head(r):
                continue
            state.take(r)
            p = primary[r]
            if p is not None and per_company[p] >= cap:
                rest &= ~primary_mask[p]
            if budget is not None:
                rest &= sel._fitting(budget - state.used)
        if len(picks) >= limit:
            return
        capped = 0
        for p, count in per_company.items():
            if count >= cap:
                capped |= primary_mask[p]
        if capped and not self.any_left_out(q & ~capped, taken):
            rest = q & capped
            while rest and len(picks) < limit:
                low = rest & -rest
                rest ^= low
                r = low.bit_length() - 1
                if r not in taken and self.is_head(r) and (budget is None or state.used + minutes[r] <= budget):
                    state.take(r)

    def reasons(self, r: int) -> tuple[str, ...]:
        follows, texts = self.follows, self.sel._reason_texts
        out = []
        for k in self.sel._keys_of[r]:
            name = follows.get(k)
            if name is not None:
                text = texts.get(name)
                if text is None:
                    text = texts[name] = f"You follow {name}"
                out.append(text)
        # A company and a segment can share a name; say it once.
        return tuple(dict.fromkeys(out)) if len(out) > 1 else tuple(out)

    def choice(self, head: int) -> Choice:
        sel = self.sel
        arts = sel.articles
        members = self.members(head)
        received, nbr_mask = self.received_mask, sel._nbr_mask
        # An earlier part of the story reached the reader if a received article is related to any
        # article of this story; the received mask covers ids and urls inside the candidates, the
        # url set those outside them.
        is_update = bool(received & nbr_mask[head])
        if members:
            ts = sel._ts
            is_update = is_update or any(received & nbr_mask[m] for m in members)
            connected = tuple(arts[m] for m in sorted(members, key=lambda m: (-ts[m], arts[m].url)))
        else:
            connected = ()
        urls = self.received_urls
        if not is_update and urls:
            is_update = any(u in urls for x in (head, *members) for u in arts[x].related)
        return Choice(arts[head], self.reasons(head), sel._rating[head], connected, is_update)
