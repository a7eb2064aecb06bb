"""One reader's pass over a prepared Selector: cover each follow, then fill by rating under the caps."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from ..names import company_key
from ..types import Choice, Reader
from .options import _COMPANY, _REASON_CACHE_SIZE, _SEGMENT, MAX_OVERFLOW, Selection

if TYPE_CHECKING:
    from .selector import Selector


def join_names(names: Sequence[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class _Picks:
    """What one reader's selection has taken so far: the picks (story heads), each company's count,
    the minutes used, and the article shown for a story whose head did not fit the budget."""

    __slots__ = ("cap", "budget", "primary", "minutes", "nbr_mask", "picks", "taken", "per_company", "used",
                 "leads", "shown", "near_leads")

    def __init__(self, cap: int, budget: int | None, primary, minutes, nbr_mask):
        self.cap, self.budget, self.primary, self.minutes, self.nbr_mask = cap, budget, primary, minutes, nbr_mask
        self.picks: list[int] = []
        self.taken: set[int] = set()
        self.per_company: dict[str, int] = {}
        self.used = 0
        self.leads: dict[int, int] = {}  # story head -> the member shown instead (the head did not fit)
        self.shown = 0  # bitset of the articles shown as choices
        self.near_leads = 0  # bitset of the articles related to a member shown instead of its head

    def eligible(self, r: int) -> bool:
        if r in self.taken or (self.budget is not None and self.used + self.minutes[r] > self.budget):
            return False
        if self.near_leads and (self.near_leads >> r) & 1:
            return False  # directly related to a chosen article
        p = self.primary[r]
        return p is None or self.per_company.get(p, 0) < self.cap

    def head_too_long(self, head: int) -> bool:
        """Whether a story not yet taken may be shown by a shorter member: its head no longer fits."""
        return (self.budget is not None and head not in self.taken
                and self.used + self.minutes[head] > self.budget)

    def can_lead(self, m: int, capped: bool = False) -> bool:
        """Whether a member may be shown in place of its story's head (which is too long): it fits,
        is related to no chosen article and, unless the cap has given way, its company is below it."""
        if self.used + self.minutes[m] > self.budget or self.nbr_mask[m] & self.shown:
            return False
        p = self.primary[m]
        return capped or p is None or self.per_company.get(p, 0) < self.cap

    def take(self, r: int, lead: int | None = None) -> None:
        """Take the story headed by r, shown by r or, when r is too long, by its member `lead`."""
        self.picks.append(r)
        self.taken.add(r)
        if lead is None:
            lead = r
        else:
            self.leads[r] = lead
            self.near_leads |= self.nbr_mask[lead]
        self.shown |= 1 << lead
        self.used += self.minutes[lead]
        p = self.primary[lead]
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
        state = _Picks(sel.options.max_per_company, budget, sel._primary, sel._minutes, sel._nbr_mask)
        limit = reader.max_articles
        self._cover(state, limit)
        self._fill(state, limit)
        picks = state.picks
        if not picks:
            unit = "minute" if budget == 1 else "minutes"
            reason = f"no article about what you follow fits your reading budget of {budget} {unit}"
            return Selection((), start, end, q.bit_count(), reason)
        leads = state.leads
        if leads:
            picks.sort(key=lambda h: leads.get(h, h))
            choices = tuple(self.choice(r, leads.get(r)) for r in picks)
        else:
            picks.sort()
            choices = tuple(self.choice(r) for r in picks)
        shown = len(picks) + sum(len(c.connected) for c in choices)
        left = q.bit_count() - shown
        taken = state.taken
        return Selection(choices, start, end, left, None, (lambda: self.overflow(taken)) if left else ())

    def overflow(self, taken: set[int]) -> tuple[Choice, ...]:
        """The best MAX_OVERFLOW stories of qualifying articles outside the chosen stories."""
        heads: list[int] = []
        seen: set[int] = set()
        rest = self.q
        while rest and len(heads) < MAX_OVERFLOW:
            low = rest & -rest
            rest ^= low
            h = self.story_of(low.bit_length() - 1)
            if h not in taken and h not in seen:
                seen.add(h)
                heads.append(h)
        return tuple(self.choice(h) for h in heads)

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
                    if eligible(h) or self.stand_in(state, h) is not None:
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
            lead = None if eligible(h) else self.stand_in(state, h)
            if lead is None and not eligible(h):
                nxt = candidate(i, pos + 1)
                if nxt is not None:
                    heapq.heappush(heap, nxt)
                continue
            state.take(h, lead)
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
            if r in taken:
                continue
            if self.is_head(r):
                if state.near_leads and (state.near_leads >> r) & 1:
                    continue
                state.take(r)
            else:
                # A member that fits leads its story when the story's head does not; walking by
                # rating, the first such member met is the story's best one.
                if budget is None:
                    continue
                h = self.story_of(r)
                if not state.head_too_long(h) or not state.can_lead(r):
                    continue
                state.take(h, r)
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
                if r in taken:
                    continue
                if self.is_head(r):
                    if (budget is None or state.used + minutes[r] <= budget) and not (state.near_leads >> r) & 1:
                        state.take(r)
                elif budget is not None:
                    h = self.story_of(r)
                    if state.head_too_long(h) and state.can_lead(r, capped=True):
                        state.take(h, r)

    def stand_in(self, state: _Picks, head: int) -> int | None:
        """The best member that can be shown in place of a story's head that no longer fits the
        reading budget, or None (the head fits, or no member can lead)."""
        if not state.head_too_long(head):
            return None
        for m in self.members(head):  # best first
            if state.can_lead(m):
                return m
        return None

    def reasons(self, r: int) -> tuple[tuple[str, ...], str, tuple[str, ...], tuple[str, ...]]:
        """(the one reason sentence, the followed company the card leads with or "", the names of
        the follows the article matched, the names the sentence lists), cached per article and matched
        names across readers.

        "You follow Anthropic, OpenAI and Policy": the followed companies in the story's order,
        each with the alias the story names it by ("Amazon (AWS)"), then the followed segments.
        """
        follows, sel = self.follows, self.sel
        hit = [k for k in sel._keys_of[r] if k in follows]
        names = tuple(follows[k] for k in hit)
        cache_key = (r, names)
        found = sel._reasons.get(cache_key)
        if found is not None:
            return found
        a = sel.articles[r]
        companies: list[str] = []
        lead = ""
        for k in hit:
            if not k.startswith(_COMPANY):
                continue
            name = follows[k]
            i = next(i for i, c in enumerate(a.companies) if _COMPANY + company_key(c) == k)
            lead = lead or a.companies[i]
            alias = a.aliases[i] if i < len(a.aliases) else ""
            companies.append(f"{name} ({alias})" if alias else name)
        segments = [follows[k] for k in hit if k.startswith(_SEGMENT)]
        said = list(dict.fromkeys(companies + segments))  # a company and a segment can share a name
        found = (("You follow " + join_names(said),) if said else (), lead, tuple(dict.fromkeys(names)), tuple(said))
        if len(sel._reasons) >= _REASON_CACHE_SIZE:
            sel._reasons.clear()
        sel._reasons[cache_key] = found
        return found

    def matched(self, members: tuple[int, ...], own: tuple[str, ...]) -> tuple[str, ...]:
        """The names of the follows the story matched: the shown article's (`own`) first, then its
        other articles', in match-key order."""
        if not members:
            return own
        follows, keys_of = self.follows, self.sel._keys_of
        out = list(own)
        for n in members:
            out.extend(follows[k] for k in keys_of[n] if k in follows)
        return tuple(dict.fromkeys(out))

    def choice(self, head: int, lead: int | None = None) -> Choice:
        """The story headed by `head`, shown by `lead` (a shorter member) when given, the head then
        listed among the connected articles."""
        sel = self.sel
        arts = sel.articles
        members = self.members(head)
        if lead is not None:
            members = tuple(x for x in (head, *members) if x != lead)
            head = lead
        received, nbr_mask = self.received_mask, sel._nbr_mask
        # An earlier part of the story reached the reader if a received article is related to any
        # article of this story; the received mask covers ids and urls inside the candidates, the
        # url set those outside them. The badge links to that earlier part.
        updates = ""
        for x in (head, *members):
            earlier = received & nbr_mask[x]
            if earlier:
                updates = arts[(earlier & -earlier).bit_length() - 1].url
                break
        if members:
            ts = sel._ts
            connected = tuple(arts[m] for m in sorted(members, key=lambda m: (-ts[m], arts[m].url)))
        else:
            connected = ()
        urls = self.received_urls
        if not updates and urls:
            updates = next((u for x in (head, *members) for u in arts[x].related if u in urls), "")
        is_update = bool(updates)
        reasons, lead_name, own, said = self.reasons(head)
        return Choice(arts[head], reasons, sel._rating[head], connected, is_update, lead_name, self.matched(members, own),
                      updates, said)
