"""Selection: for one reader, the highest-rated new articles about what they follow, with the reasons."""

from __future__ import annotations

import bisect
import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Collection, Iterable, Sequence

from .errors import ConfigError, DigestError
from .names import SEGMENT_SEPARATOR, company_key, segment_ancestors, segment_key  # noqa: F401 (re-exported)
from .types import ArticleData, Choice, Reader

# Match keys carry their kind so that a company and a segment with the same name stay apart.
_COMPANY = "c:"
_SEGMENT = "s:"

# Reason sentences kept per Selector, keyed by article and the names it matched.
_REASON_CACHE_SIZE = 100_000

# Stories beyond the chosen ones that an issue's web page lists under "more".
MAX_OVERFLOW = 20

# Windows kept prepared per Selector; one run sees a few dozen distinct send instants at most.
_WINDOW_CACHE_SIZE = 64


class SelectionError(DigestError):
    """Selection was given data it cannot use (a naive datetime, say)."""


@dataclass(frozen=True)
class SelectionOptions:
    """The tunable part of selection; see docs/selection.md for how each is used."""

    lookback_days: int = 7
    weight_novelty: float = 1.0
    weight_significance: float = 2.0
    max_per_company: int = 3

    def __post_init__(self):
        if self.lookback_days < 1:
            raise ConfigError(f"DIGEST_LOOKBACK_DAYS must be at least 1, not {self.lookback_days}")
        if self.max_per_company < 1:
            raise ConfigError(f"DIGEST_MAX_COMPANY_ARTICLES must be at least 1, not {self.max_per_company}")
        if self.weight_novelty < 0 or self.weight_significance < 0:
            raise ConfigError("DIGEST_WEIGHT_NOVELTY and DIGEST_WEIGHT_SIGNIFICANCE must not be negative")

    @classmethod
    def from_settings(cls, settings) -> "SelectionOptions":
        return cls(
            lookback_days=int(getattr(settings, "lookback_days", 7)),
            weight_novelty=float(getattr(settings, "weight_novelty", 1.0)),
            weight_significance=float(getattr(settings, "weight_significance", 2.0)),
            max_per_company=int(getattr(settings, "max_company_articles", 3)),
        )


@dataclass(frozen=True)
class Selection:
    """What one reader gets for one period, or why they get nothing."""

    choices: tuple[Choice, ...]
    window_start: datetime
    window_end: datetime
    more_count: int = 0  # qualifying articles shown neither as a choice nor as a connected link
    skip_reason: str | None = None  # set exactly when choices is empty
    # Made on first use of .overflow (a send needs it, a selection benchmark does not).
    _overflow: object = field(default=(), compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not self.choices

    @property
    def overflow(self) -> tuple[Choice, ...]:
        """The stories that qualified but were not chosen (at most MAX_OVERFLOW, best first), as
        choices with their reasons and connected articles: what "N more stories" opens."""
        if callable(self._overflow):
            object.__setattr__(self, "_overflow", self._overflow())
        return self._overflow


def rating(article: ArticleData, options: SelectionOptions = SelectionOptions()) -> float:
    """The documented rating: weight_significance * Significance + weight_novelty * Novelty."""
    return options.weight_significance * article.significance + options.weight_novelty * article.novelty


def sort_key(article: ArticleData, options: SelectionOptions = SelectionOptions()) -> tuple:
    """Total order of articles: rating descending, then newest first, then url ascending."""
    return (-rating(article, options), -article.published_at.timestamp(), article.url)


def first_days(frequency: str, options: SelectionOptions = SelectionOptions()) -> int:
    """How far a reader's first issue looks back: one period of their cadence (a daily reader's
    first issue covers one day, a weekly reader's the lookback)."""
    return min(1, options.lookback_days) if frequency == "daily" else options.lookback_days


def window(end: datetime, watermark: datetime | None, options: SelectionOptions = SelectionOptions(),
           frequency: str = "weekly") -> tuple[datetime, datetime]:
    """The half-open window [max(watermark, end - lookback), end) a digest draws from; without a
    watermark (a first issue), [end - one period of the reader's cadence, end)."""
    _require_aware(end, "end")
    start = end - timedelta(days=options.lookback_days)
    if watermark is None:
        start = end - timedelta(days=first_days(frequency, options))
    else:
        _require_aware(watermark, "watermark")
        start = max(start, watermark)
    # A watermark after the end (a clock moved back) yields an empty window, never a negative one.
    return min(start, end), end


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise SelectionError(f"{name} must carry a time zone, got {value.isoformat()}")


class Selector:
    """Selection over one set of candidate articles, indexed once and then asked per reader.

    Articles are ranked once by the sort key, so that per reader everything works on integer ranks
    (lower is better). Sets of ranks are Python ints used as bitsets: a reader's qualifying articles
    are a handful of ANDs and ORs, and the walks that follow stop as soon as the digest is full.
    """

    def __init__(self, articles: Sequence[ArticleData], options: SelectionOptions = SelectionOptions()):
        self.options = options
        for article in articles:
            _require_aware(article.published_at, f"published_at of {article.url}")
        ranked = sorted(articles, key=lambda a: sort_key(a, options))
        self.articles: tuple[ArticleData, ...] = tuple(ranked)
        self._ts = [a.published_at.timestamp() for a in ranked]
        self._minutes = [a.read_minutes for a in ranked]
        self._rating = [rating(a, options) for a in ranked]
        self._primary = [company_key(a.companies[0]) if a.companies else None for a in ranked]
        self._sig = [a.significance for a in ranked]
        self._by_id = {a.id: r for r, a in enumerate(ranked)}
        self._by_url = {a.url: r for r, a in enumerate(ranked)}
        index: dict[str, list[int]] = {}
        keys_of: list[tuple[str, ...]] = []
        for r, a in enumerate(ranked):
            # Companies first, then segments with their parents: the order reasons are given in.
            keys = [_COMPANY + company_key(c) for c in a.companies]
            for segment in a.segments:
                keys.extend(_SEGMENT + k for k in segment_ancestors(segment))
            keys_t = tuple(dict.fromkeys(keys))
            keys_of.append(keys_t)
            for key in keys_t:
                index.setdefault(key, []).append(r)  # ranks ascend, so each list is best first
        self._keys_of = keys_of
        self._index = {key: tuple(ranks) for key, ranks in index.items()}
        self._mask = {key: _bits(ranks) for key, ranks in index.items()}
        by_primary: dict[str, list[int]] = {}
        for r, p in enumerate(self._primary):
            if p is not None:
                by_primary.setdefault(p, []).append(r)
        self._primary_mask = {p: _bits(ranks) for p, ranks in by_primary.items()}
        self._minute_steps = sorted(set(self._minutes))
        self._minute_masks = [_bits(r for r, m in enumerate(self._minutes) if m <= step) for step in self._minute_steps]
        # "related" links, made undirected, among the candidates; sorted so the best comes first.
        neighbours: list[set[int]] = [set() for _ in ranked]
        for r, a in enumerate(ranked):
            for url in a.related:
                other = self._by_url.get(url)
                if other is not None and other != r:
                    neighbours[r].add(other)
                    neighbours[other].add(r)
        self._nbr: list[tuple[int, ...]] = [tuple(sorted(s)) for s in neighbours]
        self._nbr_mask: list[int] = [_bits(s) if s else 0 for s in neighbours]
        self._windows: OrderedDict[tuple[float, float], int] = OrderedDict()
        self._sig_masks: dict[int, int] = {}
        self._company_names: dict[str, str] = {}
        self._segment_names: dict[str, str] = {}
        self._tag_mask: dict[str, int] | None = None  # built on the first tag mute
        self._reasons: dict[tuple, tuple] = {}  # (rank, matched names) -> reasons (_ReaderPass.reasons)

    # -- masks --------------------------------------------------------------------------------

    def _window_mask(self, start: datetime, end: datetime) -> int:
        key = (start.timestamp(), end.timestamp())
        mask = self._windows.get(key)
        if mask is None:
            lo, hi = key
            mask = _bits(r for r, t in enumerate(self._ts) if lo <= t < hi)
            self._windows[key] = mask
            if len(self._windows) > _WINDOW_CACHE_SIZE:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        return mask

    def _sig_mask(self, minimum: int) -> int:
        mask = self._sig_masks.get(minimum)
        if mask is None:
            mask = self._sig_masks[minimum] = _bits(r for r, s in enumerate(self._sig) if s >= minimum)
        return mask

    def _fitting(self, minutes: int) -> int:
        """The articles whose read time is at most `minutes`."""
        i = bisect.bisect_right(self._minute_steps, minutes)
        return self._minute_masks[i - 1] if i else 0

    def _received_mask(self, received_ids: Iterable[int], received_urls: Iterable[str]) -> int:
        by_id, by_url = self._by_id, self._by_url
        ranks = {by_id[i] for i in received_ids if i in by_id}
        ranks.update(by_url[u] for u in received_urls if u in by_url)
        return _bits(ranks)

    # -- per reader -------------------------------------------------------------------------

    def _follows(self, reader: Reader) -> dict[str, str]:
        """The reader's follows as match key -> the name the reader followed, in key order."""
        named: dict[str, str] = {}
        for name in reader.companies:
            key = self._company_names.get(name)
            if key is None:
                key = self._company_names[name] = _COMPANY + company_key(name)
            if key not in named or name < named[key]:
                named[key] = name
        for name in reader.segments:
            key = self._segment_names.get(name)
            if key is None:
                key = self._segment_names[name] = _SEGMENT + segment_key(name)
            if key not in named or name < named[key]:
                named[key] = name
        return {key: named[key] for key in sorted(named)}

    def select(
        self,
        reader: Reader,
        *,
        end: datetime,
        watermark: datetime | None = None,
        received_ids: Collection[int] = frozenset(),
        received_urls: Collection[str] = frozenset(),
    ) -> Selection:
        """The reader's digest for the period ending at `end`; see docs/selection.md for the rules.

        received_ids and received_urls may be any collections; they are read once, not kept.
        """
        start, end = window(end, watermark, self.options, reader.frequency)
        follows = self._follows(reader)
        if not follows:
            return Selection((), start, end, 0, "you do not follow any company or segment yet")
        if reader.max_articles <= 0:
            return Selection((), start, end, 0, "your maximum number of articles is 0")
        masks = self._mask
        matched = 0
        for key in follows:
            matched |= masks.get(key, 0)
        if reader.muted:
            matched &= ~self._muted_mask(reader.muted)
        received = self._received_mask(received_ids, received_urls)
        fresh = matched & self._window_mask(start, end) & ~received
        qualifying = fresh & self._sig_mask(reader.min_significance)
        if not qualifying:
            return Selection((), start, end, 0, self._empty_reason(fresh, reader, start, end))
        return _ReaderPass(self, reader, follows, qualifying, received, received_urls).run(start, end)

    def _muted_mask(self, muted) -> int:
        """The articles a mute list keeps out: those whose primary company is muted, that lie in a
        muted segment (or below it), or that carry a muted tag."""
        mask = 0
        for kind, name in muted:
            if kind == "company":
                mask |= self._primary_mask.get(company_key(name), 0)
            elif kind == "segment":
                mask |= self._mask.get(_SEGMENT + segment_key(name), 0)
            elif kind == "tag":
                if self._tag_mask is None:
                    index: dict[str, list[int]] = {}
                    for r, a in enumerate(self.articles):
                        for tag in dict.fromkeys(company_key(t) for t in a.tags):
                            index.setdefault(tag, []).append(r)
                    self._tag_mask = {tag: _bits(ranks) for tag, ranks in index.items()}
                mask |= self._tag_mask.get(company_key(name), 0)
        return mask

    def _empty_reason(self, fresh: int, reader: Reader, start: datetime, end: datetime) -> str:
        days = (end - start) / timedelta(days=1)
        if days >= self.options.lookback_days or (days.is_integer() and days > 0 and days == first_days(
                reader.frequency, self.options)):
            span = "in the last day" if days == 1 else f"in the last {int(days)} days"
        else:
            span = "since your last digest"
        if fresh:
            return f"no new article about what you follow {span} reached your minimum significance of {reader.min_significance}"
        return f"no new articles about what you follow {span}"


def join_names(names: Sequence[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _bits(ranks: Iterable[int]) -> int:
    """A set of ranks as an int with those bits set."""
    ranks = list(ranks)
    if not ranks:
        return 0
    buf = bytearray(max(ranks) // 8 + 1)
    for r in ranks:
        buf[r >> 3] |= 1 << (r & 7)
    return int.from_bytes(buf, "little")


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
        cap = sel.options.max_per_company
        limit = reader.max_articles
        budget = reader.reading_budget if reader.reading_budget and reader.reading_budget > 0 else None
        primary, minutes = sel._primary, sel._minutes

        picks: list[int] = []
        taken: set[int] = set()
        per_company: dict[str, int] = {}
        used = 0

        def eligible(r: int) -> bool:
            if r in taken or (budget is not None and used + minutes[r] > budget):
                return False
            p = primary[r]
            return p is None or per_company.get(p, 0) < cap

        def take(r: int) -> None:
            nonlocal used
            picks.append(r)
            taken.add(r)
            used += minutes[r]
            p = primary[r]
            if p is not None:
                per_company[p] = per_company.get(p, 0) + 1

        # Pass 1, coverage. Each follow's candidate is the story holding its best article whose
        # story can still be taken; the best candidate goes first, and taking a story covers every
        # follow any of its articles matches. Eligibility only ever shrinks, so stale heap entries
        # are re-checked when they surface.
        index = sel._index
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
            take(h)
            covered |= self.story_keys(h)

        # Pass 2 fills by rating under the company cap; pass 3 lets a capped company fill the rest
        # only when no article of another company was left out. Articles leave the walk in bulk
        # (a company's at its cap, the ones longer than the budget left), so the walk only meets
        # articles it can take.
        primary_mask = sel._primary_mask
        rest = q
        for p, count in per_company.items():
            if count >= cap:
                rest &= ~primary_mask[p]
        if budget is not None:
            rest &= sel._fitting(budget - used)
        while rest and len(picks) < limit:
            low = rest & -rest
            rest ^= low
            r = low.bit_length() - 1
            if r in taken or not self.is_head(r):
                continue
            take(r)
            p = primary[r]
            if p is not None and per_company[p] >= cap:
                rest &= ~primary_mask[p]
            if budget is not None:
                rest &= sel._fitting(budget - used)
        if len(picks) < limit:
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
                    if r not in taken and self.is_head(r) and (budget is None or used + minutes[r] <= budget):
                        take(r)

        if not picks:
            unit = "minute" if budget == 1 else "minutes"
            reason = f"no article about what you follow fits your reading budget of {budget} {unit}"
            return Selection((), start, end, q.bit_count(), reason)
        picks.sort()
        choices = tuple(self.choice(r) for r in picks)
        shown = len(picks) + sum(len(c.connected) for c in choices)
        left = q.bit_count() - shown
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

    def reasons(self, r: int) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
        """(the one reason sentence, the followed company the card leads with or "", the names of
        the follows the article matched), cached per article and matched names across readers.

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
        found = (("You follow " + join_names(said),) if said else (), lead, tuple(dict.fromkeys(names)))
        if len(sel._reasons) >= _REASON_CACHE_SIZE:
            sel._reasons.clear()
        sel._reasons[cache_key] = found
        return found

    def matched(self, head: int, own: tuple[str, ...]) -> tuple[str, ...]:
        """The names of the follows the story matched: the head's (`own`) first, in match-key order."""
        members = self.members(head)
        if not members:
            return own
        follows, keys_of = self.follows, self.sel._keys_of
        out = list(own)
        for n in members:
            out.extend(follows[k] for k in keys_of[n] if k in follows)
        return tuple(dict.fromkeys(out))

    def choice(self, head: int) -> Choice:
        sel = self.sel
        arts = sel.articles
        members = self.members(head)
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
        reasons, lead, own = self.reasons(head)
        return Choice(arts[head], reasons, sel._rating[head], connected, is_update, lead, self.matched(head, own),
                      updates)


def prepare(articles: Sequence[ArticleData], options: SelectionOptions = SelectionOptions()) -> Selector:
    """Index the candidate articles once per run; call .select(reader, ...) per reader."""
    return Selector(articles, options)


def select(
    articles: Sequence[ArticleData],
    reader: Reader,
    *,
    end: datetime,
    watermark: datetime | None,
    received_ids: frozenset[int] = frozenset(),
    received_urls: frozenset[str] = frozenset(),
    options: SelectionOptions = SelectionOptions(),
) -> Selection:
    """One reader's selection from scratch; for many readers, build a Selector once instead."""
    return Selector(articles, options).select(
        reader, end=end, watermark=watermark, received_ids=received_ids, received_urls=received_urls
    )
