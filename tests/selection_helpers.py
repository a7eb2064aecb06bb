"""Builders for selection tests: articles and readers with only the fields a test cares about."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from digest.types import ArticleData, Reader

END = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)  # a Monday 08:00 UTC send


def url(i: int) -> str:
    return f"https://amw.example/news/{i}"


def art(
    i: int,
    companies=("xAI",),
    segments=(),
    *,
    novelty: int = 2,
    significance: int = 2,
    age: timedelta | float = 1.0,  # days before END, or a timedelta
    minutes: int = 2,
    related=(),
) -> ArticleData:
    ago = age if isinstance(age, timedelta) else timedelta(days=age)
    return ArticleData(
        id=i,
        url=url(i),
        title=f"Article {i}",
        summary="",
        published_at=END - ago,
        category="Technology",
        region="US",
        read_minutes=minutes,
        companies=tuple(companies),
        segments=tuple(segments),
        tags=(),
        novelty=novelty,
        novelty_note="",
        significance=significance,
        significance_note="",
        related=tuple(url(r) if isinstance(r, int) else r for r in related),
    )


def reader(companies=(), segments=(), **kw) -> Reader:
    return Reader(id=kw.pop("id", 1), email="ana@example.com", name="Ana", companies=frozenset(companies),
                  segments=frozenset(segments), **kw)
