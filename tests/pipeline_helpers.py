"""Helpers for pipeline tests: a small article set and subscribers, written straight to a database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlmodel import Session

from digest.ingest import ingest_files
from subscribers.records import add_subscriber

UTC = timezone.utc
# Monday 2026-11-23 08:00 in Berlin is 07:00 UTC.
SLOT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def make_article(i: int, *, company="xAI", segment="Foundation Models · Releases", days_before=1, n=2, s=2,
                 related=()):
    return {
        "url": f"https://amw.example/news/story-{i}",
        "title": f"Story {i}: {company} ships something notable",
        "summary": f"Summary of story {i}.",
        "published_at": (SLOT - timedelta(days=days_before, hours=i % 5)).isoformat().replace("+00:00", "Z"),
        "category": "Technology", "region": "US", "read_minutes": 3,
        "companies": [company], "segments": [segment], "tags": ["t"],
        "scores": {"novelty": {"score": n, "note": f"novelty note {i}"},
                   "significance": {"score": s, "note": f"significance note {i}"}},
        "related": list(related),
    }


def load_articles(engine, tmp_path: Path, articles: list[dict]) -> None:
    path = tmp_path / f"articles-{len(articles)}.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in articles), encoding="utf-8")
    with Session(engine) as session:
        report = ingest_files(session, [path])
    assert not report.rejected, report.rejected


def add_people(engine, people: list[dict]) -> list[int]:
    ids = []
    with Session(engine) as session:
        for person in people:
            ids.append(add_subscriber(session, **{"timezone": "Europe/Berlin", **person}).id)
        session.commit()
    return ids
