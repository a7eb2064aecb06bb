"""A synthetic world written in bulk (executemany, not the ORM row by row): companies, articles, subscribers.

Used by the scale-out tests and by benchmarks/bench_e2e.py: every subscriber is due at `as_of` and
follows at least one company that has articles in the week before it, so each one gets a digest.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from digest.models import (Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, Follow, Segment,
                           Subscriber)

UTC = timezone.utc
# Monday 2026-11-23, 20:00 UTC: after Monday 08:00 local in every zone below, within a 48 h grace.
AS_OF = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
# Zone -> the UTC instant of its Monday 08:00 slot in ISO week 2026-W48.
ZONES = {
    "Pacific/Kiritimati": datetime(2026, 11, 22, 18, 0, tzinfo=UTC),
    "Pacific/Pago_Pago": datetime(2026, 11, 23, 19, 0, tzinfo=UTC),
    "Asia/Kathmandu": datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
    "America/St_Johns": datetime(2026, 11, 23, 11, 30, tzinfo=UTC),
    "Europe/Berlin": datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
    "Asia/Seoul": datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
    "America/New_York": datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
}
SEGMENTS = ["Foundation Models", "Foundation Models · Releases", "Data & IP", "Compute", "Compute · Chips"]


def _chunks(rows: list[dict], size: int = 5000):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def insert(conn, model, rows: list[dict]) -> None:
    for chunk in _chunks(rows):
        conn.execute(model.__table__.insert(), chunk)


def build_world(engine: sa.Engine, *, subscribers: int, companies: int = 40, articles: int = 240,
                as_of: datetime = AS_OF, seed: int = 7, email_domain: str = "example.com",
                local_part=None) -> list[str]:
    """Insert the world; returns the subscribers' addresses in id order."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    local_part = local_part or (lambda i: f"reader{i:06d}")
    with engine.begin() as conn:
        insert(conn, Company, [{"id": c, "name": f"Company {c:03d}", "slug": f"company-{c:03d}"}
                               for c in range(1, companies + 1)])
        insert(conn, CompanyAlias, [{"key": f"company {c:03d}", "alias": f"Company {c:03d}", "company_id": c}
                                    for c in range(1, companies + 1)])
        seg_rows = []
        for s, name in enumerate(SEGMENTS, start=1):
            parent = SEGMENTS.index(name.split(" · ")[0]) + 1 if " · " in name else None
            seg_rows.append({"id": s, "name": name, "label": name.split(" · ")[-1], "parent_id": parent})
        insert(conn, Segment, seg_rows)
        art, art_co, art_seg = [], [], []
        for a in range(1, articles + 1):
            published = as_of - timedelta(days=8) + timedelta(seconds=(8 * 86400 - 7200) * a / articles)
            primary = 1 + (a % companies)
            art.append({"id": a, "url": f"https://amw.example/news/bench-{a}", "title": f"Company {primary:03d} story {a}",
                        "summary": "A synthetic story with a summary long enough to look like the real ones. " * 2,
                        "published_at": published, "category": "Technology", "region": "US",
                        "read_minutes": 1 + a % 6, "novelty": 1 + a % 3, "novelty_note": "novelty rationale",
                        "significance": 1 + (a // 3) % 3, "significance_note": "significance rationale",
                        "tags": ["bench"], "related": [], "primary_company_id": primary,
                        "created_at": now, "updated_at": now})
            art_co.append({"article_id": a, "company_id": primary, "position": 0})
            second = 1 + ((a * 7) % companies)
            if second != primary:
                art_co.append({"article_id": a, "company_id": second, "position": 1})
            art_seg.append({"article_id": a, "segment_id": 2 + a % 4, "position": 0})
        insert(conn, Article, art)
        insert(conn, ArticleCompany, art_co)
        insert(conn, ArticleSegment, art_seg)
        zones = list(ZONES)
        subs, follows, emails = [], [], []
        for i in range(1, subscribers + 1):
            address = f"{local_part(i)}@{email_domain}"
            emails.append(address)
            subs.append({"id": i, "email": address, "email_key": address.lower(), "name": f"Reader {i}",
                         "status": "active", "timezone": zones[i % len(zones)], "send_day": 0, "send_hour": 8,
                         "frequency": "weekly", "max_articles": 8, "min_significance": 1, "reading_budget": None,
                         "paused_until": None, "smtputf8": False, "created_at": now, "updated_at": now,
                         "confirmed_at": now})
            for c in rng.sample(range(1, companies + 1), 3):
                follows.append({"subscriber_id": i, "kind": "company", "target_id": c})
        insert(conn, Subscriber, subs)
        insert(conn, Follow, follows)
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; later inserts must not collide.
            for table in ("company", "segment", "article", "subscriber"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
    return emails
