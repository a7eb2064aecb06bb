"""The due pass end to end: plan, select, render, build, send, record; idempotent and crash-safe."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy
from html import unescape

import pytest
from sqlmodel import Session, select

from digest.types import LedgerState
from digest.mailers.memory import MemoryMailer
from digest.models import Digest, DigestItem, Subscriber
from digest.pipeline import Pipeline
from subscribers.records import unsubscribe
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article


@pytest.fixture
def world(engine, settings, tmp_path):
    articles = [make_article(i, company=c, segment=seg, n=1 + i % 3, s=1 + (i // 3) % 3)
                for i, (c, seg) in enumerate([("xAI", "Foundation Models · Releases"), ("OpenAI", "Data & IP"),
                                              ("Nvidia", "Compute · Chips")] * 4)]
    articles.append(make_article(50, company="Mistral", segment="Foundation Models · Releases", days_before=20))
    load_articles(engine, tmp_path, articles)
    add_people(engine, [
        {"email": "ana@example.com", "name": "Ana Kim", "companies": ["xAI"]},
        {"email": "bo@example.com", "name": "Bo", "segments": ["Compute"]},
        {"email": "cy@example.com", "name": "Cy", "companies": ["Mistral"], "segments": []},
    ])
    MemoryMailer.reset()
    return Pipeline(engine, settings)


def test_due_pass_sends_each_matching_reader_one_digest_and_skips_the_empty_one(world, engine):
    counts = world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    assert (counts.due, counts.sent, counts.skipped, counts.failed) == (3, 2, 1, 0)
    sent = {m.recipient: m for m in MemoryMailer.outbox}
    assert set(sent) == {"ana@example.com", "bo@example.com"}
    msg = email.message_from_bytes(sent["ana@example.com"].data, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    html = msg.get_body(("html",)).get_content()
    assert "xAI ships something notable" in html and "OpenAI ships" not in html
    with Session(engine) as session:
        states = dict(session.exec(select(Subscriber.email, Digest.state)
                                   .join(Subscriber, Subscriber.id == Digest.subscriber_id)).all())
        skipped = session.exec(select(Digest).where(Digest.state == "skipped")).one()
    assert states == {"ana@example.com": "sent", "bo@example.com": "sent", "cy@example.com": "skipped"}
    # Cy follows only Mistral, whose one article is 20 days old.
    assert skipped.skip_reason == "no new articles about what you follow in the last 7 days"


def test_second_run_at_the_same_time_sends_nothing(world):
    world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    again = world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    assert (again.due, again.sent) == (0, 0)
    assert len(MemoryMailer.outbox) == 2


def test_nothing_is_due_before_the_readers_local_send_time(world):
    counts = world.send_due(MemoryMailer(), SLOT - timedelta(minutes=1))
    assert counts.sent == 0 and MemoryMailer.outbox == []


def test_unsubscribed_reader_never_receives_a_planned_digest(world, engine):
    with Session(engine) as session:
        unsubscribe(session, "ana@example.com")
        session.commit()
    world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    assert [m.recipient for m in MemoryMailer.outbox] == ["bo@example.com"]


def test_preview_shows_exactly_what_is_sent_before_and_after_the_send(world):
    when = SLOT + timedelta(minutes=5)
    before = world.preview("ana@example.com", when)
    world.send_due(MemoryMailer(), when)
    after = world.preview("ana@example.com", when)
    sent = email.message_from_bytes(next(m for m in MemoryMailer.outbox if m.recipient == "ana@example.com").data,
                                    policy=policy.default)
    sent_html = sent.get_body(("html",)).get_content().replace("\r\n", "\n")
    sent_text = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    for built in (before, after):
        # The same document; the mail carries its non-ASCII characters as references (&#8230;).
        assert unescape(built.rendered.html.replace("\r\n", "\n")) == unescape(sent_html)
        assert built.rendered.text.replace("\r\n", "\n") == sent_text
        assert built.rendered.subject == sent["Subject"]


def test_sent_articles_are_recorded_and_never_chosen_again_next_week(world, engine, tmp_path):
    world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    with Session(engine) as session:
        ana = session.exec(select(Subscriber).where(Subscriber.email == "ana@example.com")).one()
        first = set(session.exec(select(DigestItem.article_id).where(DigestItem.subscriber_id == ana.id)).all())
    assert first
    load_articles(engine, tmp_path, [make_article(100, company="xAI", days_before=-3)])
    world._articles = None
    MemoryMailer.reset()
    world.send_due(MemoryMailer(), SLOT + timedelta(days=7, minutes=5))
    with Session(engine) as session:
        items = session.exec(select(DigestItem.article_id).where(DigestItem.subscriber_id == ana.id)).all()
    assert len(items) == len(set(items))
    ana_msgs = [m for m in MemoryMailer.outbox if m.recipient == "ana@example.com"]
    assert len(ana_msgs) == 1 and b"Story 100" in ana_msgs[0].data.replace(b"=\r\n", b"")


def test_a_crashed_send_left_in_sending_is_resent_once_after_its_lease(world, engine, settings):
    from digest import ledger

    world.plan_due(Session(engine), SLOT + timedelta(minutes=5))
    with Session(engine) as session:
        claims = ledger.claim(session, owner="otherhost:1:x", now=SLOT + timedelta(minutes=5), limit=10,
                              lease_seconds=60, max_attempts=5)
    assert len(claims) == 3
    # The other sender died. Before its lease ends nothing is taken; after, each row goes out once.
    early = world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5, seconds=30))
    assert early.sent == 0
    late = world.send_due(MemoryMailer(), SLOT + timedelta(minutes=7))
    assert late.sent == 2 and late.skipped == 1
    assert sorted(m.recipient for m in MemoryMailer.outbox) == ["ana@example.com", "bo@example.com"]


def test_planning_stores_each_row_once_with_its_values_on_both_databases(world, engine):
    from zoneinfo import ZoneInfo

    from digest import ledger

    with Session(engine) as session:
        ids = sorted(session.exec(select(Subscriber.id)).all())
        local = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Kathmandu"))
        rows = [{"subscriber_id": ids[0], "period": "2026-W48", "scheduled_for": local},
                {"subscriber_id": ids[1], "period": "2026-W48", "scheduled_for": SLOT,
                 "state": LedgerState.SKIPPED, "skip_reason": "missed: scheduled for ... (était)"}]
        assert ledger.plan(session, rows, now=SLOT) == 2
        assert ledger.plan(session, rows + [{**rows[0], "period": "2026-W49"}], now=SLOT) == 1
        stored = session.exec(select(Digest).order_by(Digest.id)).all()
    assert [(r.subscriber_id, r.period, r.state, r.skip_reason, r.attempts) for r in stored] == [
        (ids[0], "2026-W48", LedgerState.PLANNED, None, 0),
        (ids[1], "2026-W48", LedgerState.SKIPPED, "missed: scheduled for ... (était)", 0),
        (ids[0], "2026-W49", LedgerState.PLANNED, None, 0)]
    assert stored[0].scheduled_for == local and stored[0].scheduled_for.tzinfo is not None
    assert {r.created_at for r in stored} == {SLOT}


def test_a_claim_takes_over_rows_whose_sender_stopped_and_says_so_in_the_ledger(world, engine):
    from digest import ledger

    start = SLOT + timedelta(minutes=5)
    world.plan_due(Session(engine), start)
    with Session(engine) as session:
        first = ledger.claim(session, owner="otherhost:1:x", now=start, limit=10, lease_seconds=60, max_attempts=5)
        assert session.exec(select(Digest.id).where(Digest.state == LedgerState.SENDING)).all()
        # Within the lease nothing is taken; after it, the same claim turns them unknown and takes them.
        assert ledger.claim(session, owner="me:2:y", now=start + timedelta(seconds=30), limit=10,
                            lease_seconds=60, max_attempts=5) == []
        again = ledger.claim(session, owner="me:2:y", now=start + timedelta(minutes=2), limit=10,
                             lease_seconds=60, max_attempts=5)
        rows = session.exec(select(Digest).order_by(Digest.id)).all()
    assert sorted(c.digest_id for c in again) == sorted(c.digest_id for c in first)
    assert {c.previous_state for c in again} == {LedgerState.UNKNOWN}
    # An unknown row is resent once: the resend is counted (not folded into its attempts, which
    # grow by one as for any try), and its Message-ID is kept.
    assert {c.attempts for c in again} == {2}
    assert {c.message_id for c in again} == {c.message_id for c in first}
    assert {(r.state, r.lease_owner, r.last_error, r.unknown_resends) for r in rows} == {
        (LedgerState.SENDING, "me:2:y", "sender otherhost:1:x stopped while sending (lease expired)", 1)}


def test_quiet_week_note_goes_out_instead_of_a_skip_when_enabled(engine, settings, tmp_path):
    from dataclasses import replace

    load_articles(engine, tmp_path, [make_article(1, company="Mistral", days_before=20)])
    add_people(engine, [{"email": "cy@example.com", "name": "Cy", "companies": ["Mistral"]}])
    MemoryMailer.reset()
    quiet = Pipeline(engine, replace(settings, quiet_week_note=True))
    counts = quiet.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    assert (counts.sent, counts.skipped) == (1, 0)
    msg = email.message_from_bytes(MemoryMailer.outbox[0].data, policy=policy.default)
    assert "quiet week" in msg.get_body(("plain",)).get_content().lower()


def test_due_pass_reads_subscribers_page_by_page_and_misses_none(world, engine):
    from digest import queries

    with Session(engine) as session:
        paged = list(queries.sendable_schedules(session, SLOT.date(), page=2))
        whole = list(queries.sendable_schedules(session, SLOT.date(), page=1000))
    assert paged == whole and len(paged) == 3
    assert [row[0] for row in paged] == sorted(row[0] for row in paged)


@pytest.mark.parametrize("plain_session", [False, True], ids=["sending-session", "plain-session"])
def test_mark_sent_records_the_items_once_and_only_for_the_lease_holder(world, engine, plain_session):
    """The hot-path recording (one autocommit statement on PostgreSQL) and the ORM session path agree."""
    from digest import ledger
    from digest.db import sending_session

    now = SLOT + timedelta(minutes=5)
    opened = Session(engine) if plain_session else sending_session(engine)
    with opened as session:
        world.plan_due(session, now)
        claims = world.claim(session, "worker-a", now, limit=10)
        assert len(claims) == 3
        first, second, third = claims
        assert ledger.mark_sent(session, first.digest_id, "worker-a", [12, 3, 7, 3], now=now,
                                subscriber_id=first.subscriber_id)
        # Recorded already, or a lease someone else holds: nothing changes.
        assert not ledger.mark_sent(session, first.digest_id, "worker-a", [5], now=now,
                                    subscriber_id=first.subscriber_id)
        assert not ledger.mark_sent(session, second.digest_id, "worker-b", [5], now=now,
                                    subscriber_id=second.subscriber_id)
        # A quiet-week note carries no articles and is still a send.
        assert ledger.mark_sent(session, third.digest_id, "worker-a", [], now=now, subscriber_id=third.subscriber_id)
    with Session(engine) as session:
        rows = {r.id: r for r in session.exec(select(Digest)).all()}
        items = session.exec(select(DigestItem.digest_id, DigestItem.article_id, DigestItem.position,
                                    DigestItem.subscriber_id).order_by(DigestItem.digest_id, DigestItem.position)).all()
    assert [(r.state, r.lease_owner) for r in (rows[first.digest_id], rows[third.digest_id])] == [("sent", None)] * 2
    assert rows[first.digest_id].sent_at is not None and rows[first.digest_id].last_error is None
    assert (rows[second.digest_id].state, rows[second.digest_id].lease_owner) == ("sending", "worker-a")
    assert items == [(first.digest_id, 12, 0, first.subscriber_id), (first.digest_id, 3, 1, first.subscriber_id),
                     (first.digest_id, 7, 2, first.subscriber_id)]


def test_a_stop_releases_each_claim_to_the_state_it_was_claimed_from_with_its_attempts_unchanged(world, engine):
    from digest import ledger
    from digest.pipeline import RunCounts

    start = SLOT + timedelta(minutes=5)
    later = start + timedelta(hours=1)
    with Session(engine) as session:
        world.plan_due(session, start)
        ids = {s.email: s.id for s in session.exec(select(Subscriber)).all()}
        row_of = {r.subscriber_id: r.id for r in session.exec(select(Digest)).all()}
        bo, cy = row_of[ids["bo@example.com"]], row_of[ids["cy@example.com"]]
        ledger.claim(session, owner="w:1:a", now=start, limit=10, lease_seconds=60, max_attempts=5, digest_ids=[bo])
        ledger.mark_retry(session, bo, "w:1:a", "451 later", now=start, max_attempts=5)
        # cy's sender (on another host) dies: an hour later the row is unknown and will be resent.
        ledger.claim(session, owner="otherhost:1:x", now=start, limit=10, lease_seconds=60, max_attempts=5,
                     digest_ids=[cy])
        before = {r.id: (r.state, r.attempts, r.next_attempt_at, r.unknown_resends)
                  for r in session.exec(select(Digest)).all()}
        before[cy] = ("unknown", 1, None, 0)
        claims = world.claim(session, "me:1:b", later, limit=10)
        assert {c.previous_state for c in claims} == {"planned", "deferred", "unknown"}
        counts = RunCounts()
        world.process(session, MemoryMailer(), claims, "me:1:b", later, counts, stop=lambda: True)
    with Session(engine) as session:
        after = {r.id: (r.state, r.attempts, r.next_attempt_at, r.unknown_resends)
                 for r in session.exec(select(Digest)).all()}
        owners = {r.lease_owner for r in session.exec(select(Digest)).all()}
    assert after == before and owners == {None}
    assert counts.due == 0 and MemoryMailer.outbox == []


class TakesOne(MemoryMailer):
    """A backend that stops pulling messages after the first (as a stall breaker would)."""

    def send_messages(self, messages, on_result=None):
        for message in messages:
            result = self._guarded(self.send_one, message)
            if on_result:
                on_result(message, result)
            return [result]
        return []


def test_claims_a_mailer_never_pulled_are_released_untouched_when_it_returns_early(world, engine):
    from digest.pipeline import RunCounts

    now = SLOT + timedelta(minutes=5)
    with Session(engine) as session:
        world.plan_due(session, now)
        claims = world.claim(session, "me:1:a", now, limit=10)
        counts = RunCounts()
        world.process(session, TakesOne(), claims, "me:1:a", now, counts)
    with Session(engine) as session:
        rows = {r.id: r for r in session.exec(select(Digest)).all()}
    assert len(claims) == 3 and counts.sent == 1 and len(MemoryMailer.outbox) == 1
    first = claims[0].digest_id
    assert rows[first].state == "sent" or rows[first].state == "skipped"
    # Claimed, never pulled: planned again, no attempt spent, no owner.
    assert {(r.state, r.attempts, r.lease_owner) for i, r in rows.items() if r.state != "sent"} <= {
        ("planned", 0, None), ("skipped", 1, None)}
    assert not any(r.state == "sending" for r in rows.values())
    # And the next pass sends them (the mailer taking one per claim still gets through them all).
    assert world.send_due(TakesOne(), now, batch_size=10).sent == 1 and len(MemoryMailer.outbox) == 2


def test_a_reader_whose_stored_zone_is_not_iana_is_skipped_with_a_warning_and_the_rest_are_sent(world, engine, caplog):
    with Session(engine) as session:  # written by hand, as an operator's SQL or a retired tz name would
        ana = session.exec(select(Subscriber).where(Subscriber.email == "ana@example.com")).one()
        ana.timezone = "Mars/Olympus_Mons"
        session.add(ana)
        session.commit()
        ana_id = ana.id
    with caplog.at_level("WARNING", logger="digest"):
        counts = world.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    assert [m.recipient for m in MemoryMailer.outbox] == ["bo@example.com"] and counts.failed == 0
    warning = [r.getMessage() for r in caplog.records if "not planned" in r.getMessage()]
    assert warning and f"#{ana_id}" in warning[0] and "Mars/Olympus_Mons" in warning[0]
    assert "ana@example.com" not in caplog.text
    with Session(engine) as session:
        assert session.exec(select(Digest).where(Digest.subscriber_id == ana_id)).all() == []
