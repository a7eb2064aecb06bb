"""The Selector: candidate articles indexed once per run, then asked per reader."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Collection, Iterable, Sequence

from ..names import company_key, segment_ancestors, segment_key
from ..types import ArticleData, Reader
from .options import (_COMPANY, _SEGMENT, _WINDOW_CACHE_SIZE, Selection, SelectionOptions, _require_aware, rating,
                      first_days, sort_key, window)
from .reader import _ReaderPass


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
        for names, keys, prefix, key_of in ((reader.companies, self._company_names, _COMPANY, company_key),
                                            (reader.segments, self._segment_names, _SEGMENT, segment_key)):
            for name in names:
                key = keys.get(name)
                if key is None:
                    key = keys[name] = prefix + key_of(name)
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


def _bits(ranks: Iterable[int]) -> int:
    """A set of ranks as an int with those bits set."""
    ranks = list(ranks)
    if not ranks:
        return 0
    buf = bytearray(max(ranks) // 8 + 1)
    for r in ranks:
        buf[r >> 3] |= 1 << (r & 7)
    return int.from_bytes(buf, "little")


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
