"""Benchmark: one selection pass for many subscribers over many articles, time and peak memory as JSON."""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time
from array import array
from datetime import datetime, timedelta, timezone

from digest.selection import Selector, SelectionOptions, window
from digest.types import ArticleData, Reader

SEP = " · "


def make_world(n_articles: int, n_subscribers: int, seed: int = 4):
    """Synthetic but shaped like AMW: skewed company popularity, two-level segments, related links."""
    rng = random.Random(seed)
    companies = [f"Company {i:03d}" for i in range(300)] + ["xAI", "OpenAI", "Anthropic", "바이트댄스"]
    company_weights = [1.0 / (i + 1) ** 0.9 for i in range(len(companies))]
    tops = ["Foundation Models", "Data & IP", "Chips", "Robotics", "Policy", "Enterprise AI", "Consumer AI", "Capital"]
    children = [f"{t}{SEP}{c}" for t in tops for c in ("Case Studies", "Open Debates", "Deals", "Launches", "People")]
    last_end = datetime(2026, 11, 30, 23, tzinfo=timezone.utc)
    span = 8 * 86400  # every end of the pass (one day of send slots) sees its full 7-day window
    articles: list[ArticleData] = []
    by_segment: dict[str, list[int]] = {}
    for i in range(n_articles):
        published = last_end - timedelta(seconds=span * (1 - i / n_articles))
        segs = tuple(rng.sample(children, rng.choice((1, 1, 2, 3))))
        related: list[str] = []
        peers = by_segment.get(segs[0], [])
        for _ in range(rng.choice((0, 0, 1, 2, 3, 4))):
            if peers:
                related.append(articles[rng.choice(peers[-60:])].url)
        articles.append(
            ArticleData(
                id=i + 1,
                url=f"https://amw.example/news/{i + 1}",
                title=f"Article {i + 1}",
                summary="",
                published_at=published,
                category="Technology",
                region="US",
                read_minutes=rng.randint(1, 8),
                companies=tuple(dict.fromkeys(rng.choices(companies, company_weights, k=rng.choice((1, 1, 2, 3))))),
                segments=segs,
                tags=(),
                novelty=rng.randint(1, 3),
                novelty_note="",
                significance=rng.randint(1, 3),
                significance_note="",
                related=tuple(dict.fromkeys(related)),
            )
        )
        by_segment.setdefault(segs[0], []).append(i)

    base_end = last_end - timedelta(hours=23)
    readers: list[tuple[Reader, datetime, datetime | None]] = []
    # The digest_item rows (subscriber_id, article_id) as the database holds them: compact columns.
    pair_sid, pair_aid = array("l"), array("l")
    for sid in range(1, n_subscribers + 1):
        follows = frozenset(rng.choices(companies, company_weights, k=rng.randint(1, 6)))
        segs = set(rng.sample(children, rng.choice((0, 0, 1, 2, 3))))
        if rng.random() < 0.2:
            segs.add(rng.choice(tops))
        end = base_end + timedelta(hours=rng.randrange(24))
        roll = rng.random()
        watermark = (
            end - timedelta(days=7) if roll < 0.7 else None if roll < 0.8 else end - timedelta(days=21) if roll < 0.9 else end - timedelta(days=3)
        )
        reader = Reader(
            id=sid,
            email=f"s{sid}@example.com",
            name=f"S {sid}",
            max_articles=rng.choice((5, 8, 8, 8, 10)),
            min_significance=1 if rng.random() < 0.8 else 2,
            reading_budget=rng.choice((10, 20, 30)) if rng.random() < 0.1 else None,
            companies=follows,
            segments=frozenset(segs),
        )
        readers.append((reader, end, watermark))
        # Last week's digest: about 8 articles; a few of them still inside this window.
        for _ in range(8):
            pair_sid.append(sid)
            pair_aid.append(rng.randrange(1, n_articles + 1))
    return articles, readers, (pair_sid, pair_aid)


def received_sets(pairs):
    """dict subscriber_id -> article ids, from (subscriber_id, article_id) rows as a cursor yields them.

    Tuples rather than frozensets: select() only iterates them, and 100,000 small frozensets
    cost six times the memory (728 bytes against 120 for eight ids).
    """
    grouped: dict[int, list[int]] = {}
    for sid, aid in zip(*pairs):
        ids = grouped.get(sid)
        if ids is None:
            grouped[sid] = [aid]
        else:
            ids.append(aid)
    return {sid: tuple(ids) for sid, ids in grouped.items()}


def baseline_pass(selector: Selector, readers, received) -> int:
    """The floor: per reader, its window and its follows' unsent matching articles, top N by rating.

    Same index, no rules (coverage, cap, stories, budget) and no Choice objects: the ratio
    select/baseline is what the rules cost.
    """
    total = 0
    empty = ()
    for reader, end, watermark in readers:
        start, end = window(end, watermark, selector.options)
        matched = 0
        for key in selector._follows(reader):
            matched |= selector._mask.get(key, 0)
        q = matched & selector._window_mask(start, end) & selector._sig_mask(reader.min_significance)
        q &= ~selector._received_mask(received.get(reader.id, empty), ())
        top = []
        while q and len(top) < reader.max_articles:
            low = q & -q
            q ^= low
            top.append(selector.articles[low.bit_length() - 1])
        total += len(top)
    return total


def selection_pass(selector: Selector, readers, received) -> tuple[int, int]:
    chosen = skipped = 0
    empty = ()
    for reader, end, watermark in readers:
        result = selector.select(reader, end=end, watermark=watermark, received_ids=received.get(reader.id, empty))
        chosen += len(result.choices)
        skipped += result.empty
    return chosen, skipped


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)

    articles, readers, pairs = make_world(args.articles, args.subscribers, args.seed)
    gc.collect()
    rss_before = peak_rss_mb()
    clocks = (time.perf_counter, time.process_time)

    w0, c0 = (f() for f in clocks)
    received = received_sets(pairs)
    w1, c1 = (f() for f in clocks)
    selector = Selector(articles, SelectionOptions())
    w2, c2 = (f() for f in clocks)
    # Selection and baseline alternate in chunks so both see the same load on a shared machine.
    chosen = skipped = 0
    select_wall = select_cpu = base_wall = base_cpu = 0.0
    step = max(1, len(readers) // 20)
    for i in range(0, len(readers), step):
        chunk = readers[i : i + step]
        a_w, a_c = (f() for f in clocks)
        n_chosen, n_skipped = selection_pass(selector, chunk, received)
        b_w, b_c = (f() for f in clocks)
        baseline_pass(selector, chunk, received)
        e_w, e_c = (f() for f in clocks)
        chosen, skipped = chosen + n_chosen, skipped + n_skipped
        select_wall, select_cpu = select_wall + b_w - a_w, select_cpu + b_c - a_c
        base_wall, base_cpu = base_wall + e_w - b_w, base_cpu + e_c - b_c

    total_wall = (w2 - w0) + select_wall
    total_cpu = (c2 - c0) + select_cpu
    result = {
        "subscribers": args.subscribers,
        "articles": args.articles,
        "received_rows": len(pairs[0]),
        "load_received_s": round(w1 - w0, 3),
        "prepare_s": round(w2 - w1, 3),
        "select_s": round(select_wall, 3),
        "total_s": round(total_wall, 3),
        "total_cpu_s": round(total_cpu, 3),
        "per_subscriber_us": round(total_wall / args.subscribers * 1e6, 1),
        "per_subscriber_cpu_us": round(total_cpu / args.subscribers * 1e6, 1),
        "baseline_s": round(base_wall, 3),
        "select_over_baseline": round(select_cpu / base_cpu, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_pass_mb": round(rss_before, 1),
        "chosen": chosen,
        "skipped": skipped,
        "target": {"total_s": 10, "peak_rss_mb": 300},
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
