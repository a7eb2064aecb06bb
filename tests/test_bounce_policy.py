"""The bounce policy from the operator's side (issue 17, item 4): `digest subscribers show` prints
a suppression's source and evidence, `digest subscribers unsuppress` lifts a bounce (a complaint
only with --force, an unsubscribe never), the next send skips suppressed readers and sends to a
lifted one, and soft bounces count again from the lift. Real `digest` subprocesses, both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from digest.bounces import Policy, Report, apply_report
from digest.mailers.memory import MemoryMailer
from digest.models import Subscriber
from digest.pipeline import Pipeline
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article

ANA, BO, CY, DI = "ana@example.com", "bo@example.com", "cy@example.com", "di@example.com"
POLICY = Policy(soft_limit=3, soft_days=30)


@pytest.fixture
def world(engine, db_url, tmp_path):
    load_articles(engine, tmp_path, [make_article(i) for i in range(3)])
    add_people(engine, [{"email": a, "name": "Reader", "companies": ["xAI"]} for a in (ANA, BO, CY, DI)])
    with Session(engine) as session:
        apply_report(session, Report("hard_bounce", ANA, "webhook", event_key="e1", status_code="HardBounce",
                                     detail="smtp;550 5.1.1 no such user"), POLICY)
        apply_report(session, Report("complaint", BO, "webhook", event_key="e2", status_code="SpamComplaint"), POLICY)
        apply_report(session, Report("unsubscribe", CY, "webhook", event_key="e3", status_code="ManualSuppression"),
                     POLICY)
        session.commit()

    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k")

    def digest(*args, code=0):
        proc = subprocess.run([sys.executable, "-m", "digest", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == code, (proc.stdout, proc.stderr)
        return json.loads(proc.stdout) if "--json" in args and proc.stdout.strip() else proc.stdout + proc.stderr
    return digest


def statuses(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.status for s in session.exec(select(Subscriber))}


def test_show_prints_where_a_suppression_came_from_and_its_evidence(world):
    shown = world("subscribers", "show", ANA, "--json")["subscriber"]
    assert shown["status"] == "bounced"
    assert {k: shown["suppressed"][k] for k in ("reason", "source", "status_code", "detail")} == {
        "reason": "bounced", "source": "webhook", "status_code": "HardBounce", "detail": "smtp;550 5.1.1 no such user"}
    assert [(e["kind"], e["source"]) for e in shown["events"]] == [("hard_bounce", "webhook")]
    text = world("subscribers", "show", ANA)
    assert "suppressed: bounced" in text and "source: webhook" in text and "550 5.1.1 no such user" in text
    assert world("subscribers", "show", DI, "--json")["subscriber"]["suppressed"] is None


def test_unsuppress_lifts_a_bounce_a_complaint_only_with_force_and_never_an_unsubscribe(world, engine):
    world("subscribers", "unsuppress", ANA, code=2)  # --reason is required
    refused = world("subscribers", "unsuppress", BO, "--reason", "asked us", "--json", code=1)
    assert "--force" in refused["error"]
    world("subscribers", "unsuppress", CY, "--reason", "x", "--force", code=1)
    world("subscribers", "unsuppress", DI, "--reason", "x", code=2)  # not suppressed
    assert statuses(engine) == {ANA: "bounced", BO: "complained", CY: "unsubscribed", DI: "active"}

    lifted = world("subscribers", "unsuppress", ANA, "--reason", "mailbox fixed", "--json")
    assert lifted == {"unsuppressed": True, "was": {"reason": "bounced", "source": "webhook", "status_code": "HardBounce"}}
    world("subscribers", "unsuppress", BO, "--reason", "asked us by phone", "--force")
    assert statuses(engine) == {ANA: "active", BO: "active", CY: "unsubscribed", DI: "active"}
    shown = world("subscribers", "show", ANA, "--json")["subscriber"]
    assert shown["suppressed"] is None
    assert [(e["kind"], e["source"], e["detail"]) for e in shown["events"]][0] == ("unsuppressed", "staff", "mailbox fixed")


def test_the_next_send_skips_suppressed_readers_and_reaches_a_lifted_one(world, engine, settings, tmp_path):
    load_articles(engine, tmp_path, [make_article(100 + i, days_before=-3) for i in range(2)])  # next week's
    MemoryMailer.reset()
    Pipeline(engine, settings).send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    assert sorted(m.recipient for m in MemoryMailer.outbox) == [DI]
    world("subscribers", "unsuppress", ANA, "--reason", "mailbox fixed")
    MemoryMailer.reset()
    Pipeline(engine, settings).send_due(MemoryMailer(), SLOT + timedelta(days=7, minutes=5))
    assert sorted(m.recipient for m in MemoryMailer.outbox) == [ANA, DI]


def test_soft_bounces_count_again_from_a_staff_unsuppress(world, engine):
    with Session(engine) as session:
        for n in range(3):
            result = apply_report(session, Report("soft_bounce", DI, "dsn", event_key=f"s{n}", status_code="4.2.2"),
                                  POLICY)
        assert result == "suppressed"
        session.commit()
    world("subscribers", "unsuppress", DI, "--reason", "quota raised")
    with Session(engine) as session:
        for n in range(3, 5):
            assert apply_report(session, Report("soft_bounce", DI, "dsn", event_key=f"s{n}"), POLICY) == "counted"
        session.commit()
    assert statuses(engine)[DI] == "active"


def test_a_staff_unsubscribe_records_its_source(world):
    world("subscribers", "unsubscribe", DI, "--detail", "asked by mail")
    held = world("subscribers", "show", DI, "--json")["subscriber"]["suppressed"]
    assert (held["reason"], held["source"], held["detail"]) == ("unsubscribed", "staff", "asked by mail")


def test_migration_0007_keeps_existing_suppressions_and_goes_down_cleanly(db_url):
    from alembic import command

    from digest.db import alembic_config, make_engine, upgrade

    cfg = alembic_config(db_url)
    command.downgrade(cfg, "0006")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO suppression (email_key, reason, detail, created_at) "
                                 "VALUES ('old@example.com', 'bounced', '550 5.1.1', '2026-01-01 00:00:00')")
        upgrade(db_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT reason, source, status_code FROM suppression").all() == [
                ("bounced", None, None)]
            assert conn.exec_driver_sql("SELECT count(*) FROM delivery_event").scalar() == 0
        command.downgrade(cfg, "0006")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT email_key FROM suppression").all() == [("old@example.com",)]
        upgrade(db_url)
    finally:
        engine.dispose()
