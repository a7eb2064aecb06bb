"""`digest status` (issue 17, item 5): the period's sends, deferrals, failures, bounces,
complaints and unsubscribes, and the complaint rate against the 0.3% line. Real `digest`
subprocesses, both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlmodel import Session

from digest.bounces import Policy, Report, apply_report
from digest.models import Digest, utcnow
from digest.report import parse_period
from digest.errors import InputError
from digest.suppression import suppress
from tests.pipeline_helpers import add_people


def run(db_url, tmp_path, *args, code=0):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k")
    proc = subprocess.run([sys.executable, "-m", "digest", "status", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    return json.loads(proc.stdout) if "--json" in args else proc.stdout


def test_status_counts_the_period_and_the_complaint_rate(engine, db_url, tmp_path):
    people = [f"r{n}@example.com" for n in range(12)]
    ids = add_people(engine, [{"email": a, "name": "Reader"} for a in people])
    now = utcnow()
    old = now - timedelta(days=20)
    with Session(engine) as session:
        for n, sid in enumerate(ids):
            state = "sent" if n < 10 else ("deferred" if n == 10 else "failed")
            sent_at = (old if n == 0 else now - timedelta(hours=1)) if state == "sent" else None
            session.add(Digest(subscriber_id=sid, period="2026-W49", state=state, scheduled_for=now,
                               sent_at=sent_at, updated_at=now - timedelta(hours=1)))
        policy = Policy()
        apply_report(session, Report("hard_bounce", people[1], "dsn", event_key="a", status_code="5.1.1"), policy)
        apply_report(session, Report("soft_bounce", people[2], "dsn", event_key="b", status_code="4.4.1"), policy)
        apply_report(session, Report("complaint", people[3], "arf", event_key="c"), policy)
        apply_report(session, Report("unsubscribe", people[4], "mailto", event_key="d"), policy)
        apply_report(session, Report("complaint", people[5], "arf", event_key="e"), policy, now=old)
        suppress(session, people[6], "bounced", "550 5.1.1", source="smtp", status_code="5.1.1")
        suppress(session, people[7], "unsubscribed", None, source="web")
        session.commit()
    result = run(db_url, tmp_path, "--period", "7d", "--json")
    assert {k: result[k] for k in ("sent", "deferred", "failed", "hard_bounces", "soft_bounces", "complained",
                                   "unsubscribed")} == {"sent": 9, "deferred": 1, "failed": 1, "hard_bounces": 2,
                                                        "soft_bounces": 1, "complained": 1, "unsubscribed": 2}
    assert result["complaint_rate"] == pytest.approx(1 / 9) and result["complaint_rate_over_limit"] is True
    wider = run(db_url, tmp_path, "--period", "4w", "--json")
    assert wider["sent"] == 10 and wider["complained"] == 2
    assert "over the 0.3% line" in run(db_url, tmp_path)


def test_status_with_nothing_sent_has_no_rate_and_a_bad_period_says_what_to_write(engine, db_url, tmp_path):
    result = run(db_url, tmp_path, "--json")
    assert result["sent"] == 0 and result["complaint_rate"] is None and result["complaint_rate_over_limit"] is False
    assert "24h, 7d or 4w" in run(db_url, tmp_path, "--period", "week", "--json", code=1)["error"]
    with pytest.raises(InputError):
        parse_period("0d")
