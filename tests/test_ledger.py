"""The delivery ledger's rules, one function at a time, on SQLite and PostgreSQL.

Each test drives digest.ledger directly (plan, claim, record an outcome) on a real database and
reads the rows back: how many tries a row gets, when it is tried again, who may record its
outcome, and what a claim takes at the edges of its rules.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from digest import ledger
from digest.types import LedgerState
from digest.db import sending_session
from digest.models import Article, Digest, DigestItem
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article

NOW = SLOT + timedelta(minutes=5)
MAX = 3
LEASE = 60


@pytest.fixture
def readers(engine) -> list[int]:
    return add_people(engine, [{"email": f"reader{i}@example.com", "name": f"Reader {i}"} for i in range(6)])


def plan(engine, readers, *specs: dict) -> list[int]:
    """One ledger row per spec (values a row gets beyond plan()'s, like attempts or state); their ids."""
    with Session(engine) as session:
        rows = [{"subscriber_id": readers[i], "period": spec.get("period", "2026-W48"),
                 "scheduled_for": spec.get("scheduled_for", SLOT)} for i, spec in enumerate(specs)]
        assert ledger.plan(session, rows, now=SLOT) == len(rows)
        ids = [session.exec(select(Digest.id).where(Digest.subscriber_id == r["subscriber_id"],
                                                    Digest.period == r["period"])).one() for r in rows]
        for digest_id, spec in zip(ids, specs):
            row = session.get(Digest, digest_id)
            for key, value in spec.items():
                if key not in ("period", "scheduled_for"):
                    setattr(row, key, value)
            session.add(row)
        session.commit()
    return ids


def claim(engine, owner="w:1:a", now=NOW, limit=10, **kwargs) -> list[ledger.Claim]:
    kwargs = {"lease_seconds": LEASE, "max_attempts": MAX, **kwargs}
    with Session(engine) as session:
        return ledger.claim(session, owner=owner, now=now, limit=limit, **kwargs)


def row(engine, digest_id: int) -> Digest:
    with Session(engine) as session:
        found = session.get(Digest, digest_id)
        session.expunge(found)
        return found


def retry(engine, digest_id, owner="w:1:a", now=NOW, error="451 4.3.0 try later", **kwargs) -> str:
    with Session(engine) as session:
        return ledger.mark_retry(session, digest_id, owner, error, now=now, **{"max_attempts": MAX, **kwargs})


# --- tries and backoff ---------------------------------------------------------------------------


def test_a_digest_taken_through_max_attempts_temporary_failures_ends_failed_and_is_never_claimed_again(
        engine, readers):
    [digest_id] = plan(engine, readers, {})
    now, outcomes = NOW, []
    for attempt in range(1, MAX + 1):
        [taken] = claim(engine, now=now)
        assert (taken.digest_id, taken.attempts) == (digest_id, attempt)
        outcomes.append(retry(engine, digest_id, now=now, error=f"451 try {attempt}"))
        now = row(engine, digest_id).next_attempt_at or now
    assert outcomes == [LedgerState.DEFERRED] * (MAX - 1) + [LedgerState.FAILED]
    final = row(engine, digest_id)
    assert (final.state, final.attempts, final.last_error, final.lease_owner, final.lease_expires_at) == (
        LedgerState.FAILED, MAX, f"451 try {MAX}", None, None)
    assert claim(engine, now=now + timedelta(days=30)) == []
    with Session(engine) as session:
        assert ledger.pending_count(session, now + timedelta(days=30), MAX) == 0


def test_the_backoff_doubles_five_then_ten_then_twenty_minutes_and_a_retry_is_due_exactly_then(engine, readers):
    [digest_id] = plan(engine, readers, {})
    now, waits = NOW, []
    for _ in range(3):
        assert [c.digest_id for c in claim(engine, now=now, max_attempts=5)] == [digest_id]
        assert retry(engine, digest_id, now=now, max_attempts=5) == LedgerState.DEFERRED
        stored = row(engine, digest_id)
        assert (stored.updated_at, stored.lease_owner, stored.lease_expires_at) == (now, None, None)
        waits.append(stored.next_attempt_at - now)
        # Not a moment before the backoff ends; exactly at its end it is due.
        assert claim(engine, now=stored.next_attempt_at - timedelta(microseconds=1), max_attempts=5) == []
        with Session(engine) as session:
            assert ledger.pending_count(session, stored.next_attempt_at - timedelta(microseconds=1), 5) == 0
            assert ledger.pending_count(session, stored.next_attempt_at, 5) == 1
        now = stored.next_attempt_at
    assert waits == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]


def test_the_backoff_base_is_the_callers(engine, readers):
    [digest_id] = plan(engine, readers, {})
    claim(engine)
    assert retry(engine, digest_id, backoff_seconds=60) == LedgerState.DEFERRED
    assert row(engine, digest_id).next_attempt_at == NOW + timedelta(minutes=1)


def test_a_retry_keeps_at_most_1000_characters_of_the_error(engine, readers):
    [digest_id] = plan(engine, readers, {})
    claim(engine)
    retry(engine, digest_id, error="4" * 1500)
    assert row(engine, digest_id).last_error == "4" * 1000


# --- who may record an outcome -------------------------------------------------------------------


def lost_lease(engine, readers) -> int:
    """A row claimed by w:1:a whose lease expired and that w:2:b then took over."""
    [digest_id] = plan(engine, readers, {})
    claim(engine, owner="w:1:a")
    [taken] = claim(engine, owner="w:2:b", now=NOW + timedelta(seconds=LEASE + 1))
    assert (taken.digest_id, taken.previous_state) == (digest_id, LedgerState.UNKNOWN)
    return digest_id


def test_a_sender_that_lost_its_lease_can_record_no_outcome_over_the_new_holders(engine, readers):
    digest_id = lost_lease(engine, readers)
    later = NOW + timedelta(minutes=3)
    before = row(engine, digest_id)
    with Session(engine) as session:
        assert ledger.mark_final(session, digest_id, "w:1:a", LedgerState.FAILED, "550 no such user", now=later) is False
        assert ledger.mark_final(session, digest_id, "w:1:a", LedgerState.SKIPPED, "unsubscribed", now=later) is False
        assert ledger.mark_retry(session, digest_id, "w:1:a", "451", now=later, max_attempts=MAX) == ""
        assert ledger.mark_unknown(session, digest_id, "w:1:a", "timeout after DATA", now=later) is False
        assert ledger.mark_sent(session, digest_id, "w:1:a", [], now=later, subscriber_id=before.subscriber_id) is False
        assert ledger.release(session, [digest_id], "w:1:a", now=later) == 0
    after = row(engine, digest_id)
    assert after.model_dump() == before.model_dump()
    assert (after.state, after.lease_owner) == (LedgerState.SENDING, "w:2:b")
    # The holder still records its outcome.
    with Session(engine) as session:
        assert ledger.mark_final(session, digest_id, "w:2:b", LedgerState.FAILED, "550 no such user", now=later) is True
    final = row(engine, digest_id)
    assert (final.state, final.last_error, final.skip_reason, final.lease_owner, final.lease_expires_at,
            final.updated_at) == (LedgerState.FAILED, "550 no such user", None, None, None, later)


def test_mark_final_of_a_row_nobody_sends_needs_no_owner_and_a_skip_keeps_its_reason_apart(engine, readers):
    planned, other = plan(engine, readers, {}, {})
    with Session(engine) as session:
        assert ledger.mark_final(session, planned, None, LedgerState.SKIPPED, "r" * 1200, now=NOW) is True
        assert ledger.mark_final(session, other, "w:1:a", LedgerState.SKIPPED, "no articles", now=NOW) is False
        assert ledger.mark_final(session, 10**9, None, LedgerState.FAILED, "gone", now=NOW) is False
    skipped = row(engine, planned)
    assert (skipped.state, skipped.skip_reason, skipped.last_error, skipped.updated_at) == (
        LedgerState.SKIPPED, "r" * 1000, None, NOW)
    assert row(engine, other).state == LedgerState.PLANNED
    [taken] = claim(engine)
    assert taken.digest_id == other
    with Session(engine) as session:
        assert ledger.mark_final(session, other, "w:1:a", LedgerState.FAILED, "e" * 1200, now=NOW) is True
    failed = row(engine, other)
    assert (failed.state, failed.last_error, failed.skip_reason) == (LedgerState.FAILED, "e" * 1000, None)


def test_mark_unknown_by_the_holder_leaves_the_row_for_one_resend(engine, readers):
    [digest_id] = plan(engine, readers, {})
    [first] = claim(engine)
    with Session(engine) as session:
        assert ledger.mark_unknown(session, digest_id, "w:1:a", "d" * 1200, now=NOW + timedelta(seconds=5)) is True
    stored = row(engine, digest_id)
    assert (stored.state, stored.last_error, stored.lease_owner, stored.lease_expires_at, stored.updated_at) == (
        LedgerState.UNKNOWN, "d" * 1000, None, None, NOW + timedelta(seconds=5))
    due = stored.next_attempt_at
    assert due == NOW + timedelta(seconds=5 + 300)  # the backoff of a first retry
    [again] = claim(engine, owner="w:2:b", now=due)
    assert (again.previous_state, again.attempts, again.message_id) == (LedgerState.UNKNOWN, 2, first.message_id)
    with Session(engine) as session:
        assert ledger.mark_unknown(session, digest_id, "w:1:a", "late", now=NOW) is False
        assert ledger.mark_unknown(session, 10**9, "w:2:b", "missing", now=NOW) is False


def test_an_unknown_row_is_not_claimed_again_before_its_next_attempt_at_like_a_deferred_one(engine, readers):
    unknown, deferred = plan(engine, readers, {}, {})
    claim(engine)
    with Session(engine) as session:
        assert ledger.mark_unknown(session, unknown, "w:1:a", "no final reply", now=NOW, backoff_seconds=120) is True
    retry(engine, deferred, backoff_seconds=120)
    stored = {i: row(engine, i) for i in (unknown, deferred)}
    assert stored[unknown].next_attempt_at == stored[deferred].next_attempt_at == NOW + timedelta(seconds=120)
    before = NOW + timedelta(seconds=119)
    # Not in the same run (a claim at once), nor by id, nor counted as pending.
    assert claim(engine, now=NOW) == []
    assert claim(engine, now=before) == []
    assert claim(engine, now=before, digest_ids=[unknown, deferred]) == []
    with Session(engine) as session:
        assert ledger.pending_count(session, before, MAX) == 0
    assert row(engine, unknown).state == LedgerState.UNKNOWN
    taken = claim(engine, owner="w:2:b", now=NOW + timedelta(seconds=120))
    assert sorted((c.digest_id, c.previous_state) for c in taken) == sorted(
        [(unknown, LedgerState.UNKNOWN), (deferred, LedgerState.DEFERRED)])
    assert row(engine, unknown).unknown_resends == 1


@pytest.mark.parametrize("plain_session", [False, True], ids=["sending-session", "plain-session"])
def test_mark_sent_clears_the_lease_and_the_last_error_and_records_the_items_in_order(engine, readers, tmp_path,
                                                                                    plain_session):
    load_articles(engine, tmp_path, [make_article(i) for i in range(4)])
    with Session(engine) as session:
        articles = sorted(session.exec(select(Article.id)).all())
    digest_id, neighbour = plan(engine, readers, {}, {"scheduled_for": NOW + timedelta(minutes=1)})
    claim(engine)
    retry(engine, digest_id, error="451 first try")
    taken, taken_too = claim(engine, now=NOW + timedelta(minutes=5))  # the retry first, then the new row
    assert (taken.digest_id, taken_too.digest_id) == (digest_id, neighbour)
    sent_at = NOW + timedelta(minutes=5, seconds=40)
    assert row(engine, digest_id).last_error == "451 first try"
    carried = [articles[2], articles[0], articles[2], articles[3]]
    opened = Session(engine) if plain_session else sending_session(engine)
    with opened as session:
        assert ledger.mark_sent(session, digest_id, "w:1:a", carried, now=sent_at,
                                subscriber_id=taken.subscriber_id) is True
        # Recorded once: a second report of the same send changes nothing.
        assert ledger.mark_sent(session, digest_id, "w:1:a", carried, now=sent_at + timedelta(seconds=1),
                                subscriber_id=taken.subscriber_id) is False
    stored = row(engine, digest_id)
    assert (stored.state, stored.sent_at, stored.updated_at, stored.lease_owner, stored.lease_expires_at,
            stored.last_error, stored.attempts) == (LedgerState.SENT, sent_at, sent_at, None, None, None, 2)
    with Session(engine) as session:
        items = session.exec(select(DigestItem.article_id, DigestItem.subscriber_id, DigestItem.position)
                             .where(DigestItem.digest_id == digest_id).order_by(DigestItem.position)).all()
    assert [tuple(i) for i in items] == [(articles[2], taken.subscriber_id, 0), (articles[0], taken.subscriber_id, 1),
                                         (articles[3], taken.subscriber_id, 2)]
    # The same sender's other row, claimed in the same pass, is still its to record.
    other = row(engine, neighbour)
    assert (other.state, other.lease_owner, other.sent_at) == (LedgerState.SENDING, "w:1:a", None)


@pytest.mark.parametrize("plain_session", [False, True], ids=["sending-session", "plain-session"])
def test_mark_sent_by_a_sender_that_lost_its_lease_records_no_items(engine, readers, tmp_path, plain_session):
    load_articles(engine, tmp_path, [make_article(1)])
    with Session(engine) as session:
        article = session.exec(select(Article.id)).one()
    digest_id = lost_lease(engine, readers)
    opened = Session(engine) if plain_session else sending_session(engine)
    with opened as session:
        assert ledger.mark_sent(session, digest_id, "w:1:a", [article], now=NOW,
                                subscriber_id=row(engine, digest_id).subscriber_id) is False
    with Session(engine) as session:
        assert session.exec(select(DigestItem)).all() == []
    assert row(engine, digest_id).state == LedgerState.SENDING


# --- unknown rows and dead senders ---------------------------------------------------------------


def test_with_resend_unknown_off_an_abandoned_row_becomes_unknown_and_stays_unknown(engine, readers):
    [digest_id] = plan(engine, readers, {})
    claim(engine, owner="host:7:a")
    later = NOW + timedelta(seconds=LEASE + 1)
    assert claim(engine, owner="w:2:b", now=later, resend_unknown=False) == []
    stored = row(engine, digest_id)
    assert (stored.state, stored.lease_owner, stored.unknown_resends, stored.attempts, stored.updated_at,
            stored.last_error) == (LedgerState.UNKNOWN, None, 0, 1, later,
                                   "sender host:7:a stopped while sending (lease expired)")
    much_later = later + timedelta(days=3)
    assert claim(engine, owner="w:2:b", now=much_later, resend_unknown=False) == []
    assert claim(engine, owner="w:2:b", now=much_later, resend_unknown=False, digest_ids=[digest_id]) == []
    # Left alone: not declared abandoned a second time (its expired lease time stays on the row).
    again = row(engine, digest_id)
    assert (again.updated_at, again.last_error) == (later, "sender host:7:a stopped while sending (lease expired)")
    with Session(engine) as session:
        assert ledger.pending_count(session, much_later, MAX, resend_unknown=False) == 0
        assert ledger.pending_count(session, much_later, MAX, resend_unknown=True) == 1
    assert row(engine, digest_id).state == LedgerState.UNKNOWN
    # With resends on, the one resend goes out even though the row has no attempt left ...
    assert [c.digest_id for c in claim(engine, owner="w:2:b", now=much_later, max_attempts=1)] == [digest_id]
    with Session(engine) as session:
        ledger.mark_unknown(session, digest_id, "w:2:b", "no reply", now=much_later)
    # ... and never a second one.
    assert claim(engine, owner="w:2:b", now=much_later + timedelta(hours=1)) == []


def test_a_lease_ends_after_its_expiry_not_at_it(engine, readers):
    [digest_id] = plan(engine, readers, {})
    [first] = claim(engine, owner="w:1:a")
    stored = row(engine, digest_id)
    assert (stored.state, stored.lease_owner, stored.lease_expires_at, stored.updated_at) == (
        LedgerState.SENDING, "w:1:a", NOW + timedelta(seconds=LEASE), NOW)
    assert claim(engine, owner="w:2:b", now=NOW + timedelta(seconds=LEASE)) == []
    assert row(engine, digest_id).state == LedgerState.SENDING
    [again] = claim(engine, owner="w:2:b", now=NOW + timedelta(seconds=LEASE, microseconds=1))
    assert (again.digest_id, again.previous_state, again.message_id) == (digest_id, LedgerState.UNKNOWN, first.message_id)


def test_expire_leases_ends_only_the_dead_senders_leases_and_a_claim_then_takes_their_rows(engine, readers):
    dead_rows = plan(engine, readers, {}, {}, {})
    claim(engine, owner="host:111:dead", limit=2)
    alive = claim(engine, owner="host:222:alive", limit=5)
    assert len(alive) == 1
    asked = []

    def is_dead(owner):
        asked.append(owner)
        return owner == "host:111:dead"

    later = NOW + timedelta(seconds=10)
    with Session(engine) as session:
        assert ledger.expire_leases(session, later, is_dead=is_dead) == 2
    assert sorted(asked) == ["host:111:dead", "host:222:alive"]
    leases = {i: row(engine, i) for i in dead_rows}
    assert sorted(r.lease_expires_at for r in leases.values() if r.lease_owner == "host:111:dead") == [
        later - timedelta(seconds=1)] * 2
    assert [r.lease_expires_at for r in leases.values() if r.lease_owner == "host:222:alive"] == [
        NOW + timedelta(seconds=LEASE)]
    # Long before the dead sender's lease would have run out, its rows are taken (as unknown).
    taken = claim(engine, owner="host:333:new", now=later)
    assert sorted(c.digest_id for c in taken) == sorted(i for i, r in leases.items() if r.lease_owner == "host:111:dead")
    assert {c.previous_state for c in taken} == {LedgerState.UNKNOWN}


def test_expire_leases_without_a_dead_sender_changes_nothing(engine, readers):
    [digest_id] = plan(engine, readers, {})
    claim(engine, owner="host:222:alive")
    before = row(engine, digest_id)
    with Session(engine) as session:
        assert ledger.expire_leases(session, NOW, is_dead=lambda owner: False) == 0
        assert ledger.expire_leases(session, NOW, is_dead=lambda owner: owner != "host:222:alive") == 0
    assert row(engine, digest_id).model_dump() == before.model_dump()


# --- what a claim takes --------------------------------------------------------------------------


def test_a_claims_limit_spans_retries_first_then_new_rows(engine, readers):
    retries = plan(engine, readers, {"state": LedgerState.DEFERRED, "attempts": 1, "scheduled_for": SLOT},
                   {"state": LedgerState.DEFERRED, "attempts": 2, "scheduled_for": SLOT + timedelta(minutes=1)})
    fresh = plan(engine, readers[2:], {"scheduled_for": SLOT - timedelta(hours=1)}, {}, {})
    assert [c.digest_id for c in claim(engine, owner="w:1:a", limit=1)] == retries[:1]
    assert [c.digest_id for c in claim(engine, owner="w:1:b", limit=3)] == retries[1:] + fresh[:2]
    assert [c.digest_id for c in claim(engine, owner="w:1:c", limit=3)] == fresh[2:]
    assert claim(engine, owner="w:1:d", limit=3) == []


def test_a_claim_stops_at_the_limit_when_retries_alone_fill_it(engine, readers):
    retries = plan(engine, readers, {"state": LedgerState.DEFERRED, "attempts": 1},
                   {"state": LedgerState.DEFERRED, "attempts": 1, "scheduled_for": SLOT + timedelta(minutes=1)})
    fresh = plan(engine, readers[2:], {})
    assert [c.digest_id for c in claim(engine, limit=2)] == retries
    assert row(engine, fresh[0]).state == LedgerState.PLANNED


def test_a_claim_takes_a_row_due_exactly_now_but_not_one_due_a_moment_later(engine, readers):
    due, later = plan(engine, readers, {"scheduled_for": NOW}, {"scheduled_for": NOW + timedelta(microseconds=1)})
    assert [c.digest_id for c in claim(engine)] == [due]
    assert row(engine, later).state == LedgerState.PLANNED
    assert [c.digest_id for c in claim(engine, now=NOW + timedelta(microseconds=1))] == [later]


def test_a_claim_takes_rows_with_attempts_left_and_none_at_the_maximum(engine, readers):
    specs = [{"attempts": MAX - 1}, {"attempts": MAX},
             {"state": LedgerState.DEFERRED, "attempts": MAX - 1}, {"state": LedgerState.DEFERRED, "attempts": MAX},
             {"state": LedgerState.DEFERRED, "attempts": 1, "next_attempt_at": NOW + timedelta(seconds=1)},
             {"state": LedgerState.FAILED, "attempts": 1}]
    ids = plan(engine, readers, *specs)
    with Session(engine) as session:
        assert ledger.pending_count(session, NOW, MAX) == 2
    taken = claim(engine)
    assert sorted(c.digest_id for c in taken) == [ids[0], ids[2]]
    assert {c.digest_id: c.attempts for c in taken} == {ids[0]: MAX, ids[2]: MAX}
    assert claim(engine, digest_ids=ids) == []


def test_a_claim_by_id_takes_only_those_rows_and_only_when_sendable(engine, readers):
    ids = plan(engine, readers, {}, {}, {"scheduled_for": NOW + timedelta(hours=1)}, {"attempts": MAX})
    taken = claim(engine, digest_ids=[ids[1], ids[2], ids[3]])
    assert [c.digest_id for c in taken] == [ids[1]]
    assert row(engine, ids[0]).state == LedgerState.PLANNED


def test_a_claim_reports_each_row_and_makes_its_message_id_once(engine, readers):
    [digest_id] = plan(engine, readers, {"period": "2026-W48", "scheduled_for": SLOT})
    [first] = claim(engine, message_domain="news.amw.example")
    assert (first.digest_id, first.subscriber_id, first.period, first.scheduled_for, first.attempts,
            first.previous_state) == (digest_id, readers[0], "2026-W48", SLOT, 1, LedgerState.PLANNED)
    assert first.message_id.startswith("<") and first.message_id.endswith(f"-{digest_id}@news.amw.example>")
    stored = row(engine, digest_id)
    assert (stored.message_id, stored.attempts, stored.unknown_resends) == (first.message_id, 1, 0)
    retry(engine, digest_id)
    [second] = claim(engine, now=NOW + timedelta(minutes=5), message_domain="other.example")
    assert (second.message_id, second.attempts, second.previous_state) == (first.message_id, 2, LedgerState.DEFERRED)
    other = plan(engine, readers[1:], {})
    [third] = claim(engine, now=NOW + timedelta(minutes=6), message_domain="news.amw.example")
    assert third.digest_id == other[0] and third.message_id != first.message_id
    # Without a domain the ids say localhost.
    unnamed = plan(engine, readers[2:], {})
    with Session(engine) as session:
        [fourth] = ledger.claim(session, owner="w:1:a", now=NOW + timedelta(minutes=7), limit=1, lease_seconds=LEASE,
                                max_attempts=MAX, digest_ids=unnamed)
    assert fourth.digest_id == unnamed[0] and fourth.message_id.endswith(f"-{unnamed[0]}@localhost>")


def test_a_deferred_row_without_a_next_attempt_time_is_due(engine, readers):
    [digest_id] = plan(engine, readers, {"state": LedgerState.DEFERRED, "attempts": 1})
    assert [c.digest_id for c in claim(engine)] == [digest_id]


# --- release, plan and the small readers ---------------------------------------------------------


def test_release_gives_rows_back_as_they_were_and_only_the_owners(engine, readers):
    ids = plan(engine, readers, {}, {"state": LedgerState.DEFERRED, "attempts": 1}, {}, {})
    claim(engine, owner="w:1:a", limit=2, digest_ids=ids[:2], lease_seconds=3600)
    # a row that became unknown, claimed for its resend
    claim(engine, owner="host:9:gone", digest_ids=[ids[2]])
    later = NOW + timedelta(seconds=LEASE + 1)
    resend = claim(engine, owner="w:1:a", now=later, digest_ids=[ids[2]])
    assert [c.previous_state for c in resend] == [LedgerState.UNKNOWN]
    claim(engine, owner="w:2:b", now=later, digest_ids=[ids[3]])
    with Session(engine) as session:
        assert ledger.release(session, [], "w:1:a", now=later) == 0
        assert ledger.release(session, ids, "w:1:a", now=later,
                              previous={ids[0]: LedgerState.PLANNED, ids[2]: LedgerState.UNKNOWN}) == 3
    got = {i: row(engine, i) for i in ids}
    assert [(got[i].state, got[i].attempts, got[i].unknown_resends, got[i].lease_owner, got[i].lease_expires_at)
            for i in ids[:3]] == [(LedgerState.PLANNED, 0, 0, None, None), (LedgerState.DEFERRED, 1, 0, None, None),
                                  (LedgerState.UNKNOWN, 1, 0, None, None)]
    assert {got[i].updated_at for i in ids[:3]} == {later}
    assert (got[ids[3]].state, got[ids[3]].lease_owner) == (LedgerState.SENDING, "w:2:b")
    # Released rows are claimable again at once, the unknown one for its one resend.
    assert sorted(c.digest_id for c in claim(engine, owner="w:3:c", now=later)) == sorted(ids[:3])


def test_release_without_the_previous_states_goes_by_attempts(engine, readers):
    ids = plan(engine, readers, {}, {"state": LedgerState.DEFERRED, "attempts": 1}, {"state": LedgerState.DEFERRED, "attempts": 2})
    claim(engine, digest_ids=ids)
    with Session(engine) as session:
        assert ledger.release(session, ids, "w:1:a", now=NOW) == 3
    assert [(row(engine, i).state, row(engine, i).attempts) for i in ids] == [
        (LedgerState.PLANNED, 0), (LedgerState.DEFERRED, 1), (LedgerState.DEFERRED, 2)]


def test_plan_inserts_new_rows_with_their_defaults_and_keeps_existing_ones(engine, readers):
    with Session(engine) as session:
        assert ledger.plan(session, [], now=SLOT) == 0
        rows = [{"subscriber_id": readers[0], "period": "2026-W48", "scheduled_for": SLOT},
                {"subscriber_id": readers[1], "period": "2026-W48", "scheduled_for": SLOT + timedelta(hours=2),
                 "state": LedgerState.SKIPPED, "skip_reason": "missed"}]
        assert ledger.plan(session, rows, now=NOW) == 2
        assert ledger.plan(session, [{**rows[0], "scheduled_for": SLOT + timedelta(days=1)},
                                     {**rows[0], "period": "2026-W49"}], now=NOW) == 1
        stored = session.exec(select(Digest).order_by(Digest.id)).all()
    assert [(r.subscriber_id, r.period, r.scheduled_for, r.state, r.skip_reason, r.attempts, r.created_at,
             r.updated_at, r.message_id, r.lease_owner) for r in stored] == [
        (readers[0], "2026-W48", SLOT, LedgerState.PLANNED, None, 0, NOW, NOW, None, None),
        (readers[1], "2026-W48", SLOT + timedelta(hours=2), LedgerState.SKIPPED, "missed", 0, NOW, NOW, None, None),
        (readers[0], "2026-W49", SLOT, LedgerState.PLANNED, None, 0, NOW, NOW, None, None)]


def test_periods_recorded_names_the_given_readers_periods_only(engine, readers):
    plan(engine, readers, {"period": "2026-W48"}, {"period": "2026-W48"}, {"period": "2026-W49"})
    with Session(engine) as session:
        assert ledger.periods_recorded(session, [readers[0], readers[2], readers[5]]) == {
            (readers[0], "2026-W48"), (readers[2], "2026-W49")}
        assert ledger.periods_recorded(session, []) == set()


def test_release_gives_back_only_the_rows_it_names(engine, readers):
    ids = plan(engine, readers, {}, {}, {})
    claim(engine, owner="w:1:a")
    with Session(engine) as session:
        assert ledger.release(session, [ids[1]], "w:1:a", now=NOW) == 1
    assert [(row(engine, i).state, row(engine, i).lease_owner) for i in ids] == [
        (LedgerState.SENDING, "w:1:a"), (LedgerState.PLANNED, None), (LedgerState.SENDING, "w:1:a")]


def test_pending_count_counts_an_unknown_row_for_its_resend_unless_told_not_to(engine, readers):
    unknown, due_now, later = plan(engine, readers, {"state": LedgerState.UNKNOWN, "attempts": 1}, {"scheduled_for": NOW},
                                   {"scheduled_for": NOW + timedelta(microseconds=1)})
    with Session(engine) as session:
        assert ledger.pending_count(session, NOW, MAX) == 2
        assert ledger.pending_count(session, NOW, MAX, resend_unknown=False) == 1
    # A claim by id draws on the same rule: due exactly now is due.
    assert [c.digest_id for c in claim(engine, digest_ids=[due_now, later])] == [due_now]


def _wait_until_blocked(engine, application_name: str) -> None:
    """Until the PostgreSQL backend of that connection waits for a row lock (no sleeping on a guess)."""
    import time

    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(name)s "
                "AND wait_event_type = 'Lock'", {"name": application_name}).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError(f"{application_name} never waited for the row lock")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("outcome", ["final", "retry", "unknown"])
def test_an_outcome_recorded_while_another_sender_takes_the_row_over_waits_and_then_yields(db_url, engine, readers,
                                                                                           outcome):
    """PostgreSQL: the old holder reads the row under a lock, so it sees the takeover once it commits."""
    import threading

    import sqlalchemy as sa

    [digest_id] = plan(engine, readers, {})
    claim(engine, owner="w:1:a")
    name = "ledger-old-holder"
    old_holder = sa.create_engine(sa.engine.make_url(db_url), connect_args={"application_name": name})
    results = []
    with engine.connect() as takeover:
        takeover.execute(sa.update(Digest.__table__).where(Digest.__table__.c.id == digest_id)
                         .values(lease_owner="w:2:b", lease_expires_at=NOW + timedelta(minutes=10)))

        def record():
            with Session(old_holder) as session:
                if outcome == "final":
                    results.append(ledger.mark_final(session, digest_id, "w:1:a", LedgerState.FAILED, "550", now=NOW))
                elif outcome == "retry":
                    results.append(ledger.mark_retry(session, digest_id, "w:1:a", "451", now=NOW, max_attempts=MAX))
                else:
                    results.append(ledger.mark_unknown(session, digest_id, "w:1:a", "no reply", now=NOW))

        worker = threading.Thread(target=record)
        worker.start()
        _wait_until_blocked(engine, name)
        takeover.commit()
        worker.join(30)
    old_holder.dispose()
    assert results == [{"final": False, "retry": "", "unknown": False}[outcome]]
    stored = row(engine, digest_id)
    assert (stored.state, stored.lease_owner, stored.last_error) == (LedgerState.SENDING, "w:2:b", None)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("by_id", [False, True], ids=["due", "by-id"])
@pytest.mark.parametrize("locked", ["abandoned", "planned", "retry"])
def test_a_claim_skips_a_row_another_claim_holds_instead_of_waiting_for_it(db_url, engine, readers, locked, by_id):
    """PostgreSQL: two senders claiming at once each take free rows; neither waits for the other's."""
    import threading

    import sqlalchemy as sa

    spec = {"abandoned": {"state": LedgerState.SENDING, "attempts": 1, "lease_owner": "host:1:gone",
                          "lease_expires_at": NOW - timedelta(seconds=1)},
            "planned": {},
            "retry": {"state": LedgerState.DEFERRED, "attempts": 1}}[locked]
    held, free = plan(engine, readers, spec, {"scheduled_for": SLOT + timedelta(minutes=1)})
    name = "ledger-second-claim"
    second = sa.create_engine(sa.engine.make_url(db_url), connect_args={"application_name": name})
    taken, blocked = [], []
    with engine.connect() as holder:
        holder.execute(sa.select(Digest.__table__.c.id).where(Digest.__table__.c.id == held).with_for_update())

        def take():
            with Session(second) as session:
                taken.extend(ledger.claim(session, owner="w:2:b", now=NOW, limit=10, lease_seconds=LEASE,
                                          max_attempts=MAX, digest_ids=[held, free] if by_id else None))

        worker = threading.Thread(target=take)
        worker.start()
        with engine.connect() as watch:
            while worker.is_alive():
                if watch.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = %(n)s "
                                         "AND wait_event_type = 'Lock'", {"n": name}).scalar():
                    blocked.append(True)
                    break
                watch.rollback()
                worker.join(0.02)
        holder.rollback()
        worker.join(30)
    second.dispose()
    assert not blocked, "the claim waited for a row another transaction holds"
    assert [c.digest_id for c in taken] == [free]
    assert row(engine, held).state == spec.get("state", LedgerState.PLANNED)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_plan_stores_the_same_instants_whatever_the_database_sessions_time_zone(db_url, engine, readers):
    """PostgreSQL: the plan's one-statement insert hands over UTC values, not the session's local time."""
    import sqlalchemy as sa

    from digest.db import make_engine

    away = make_engine(sa.engine.make_url(db_url).update_query_dict({"options": "-c timezone=Asia/Kathmandu"})
                       .render_as_string(hide_password=False))
    try:
        with Session(away) as session:
            assert session.exec(sa.text("SHOW timezone")).scalar() == "Asia/Kathmandu"
            assert ledger.plan(session, [{"subscriber_id": readers[0], "period": "2026-W48", "scheduled_for": SLOT}],
                               now=NOW) == 1
    finally:
        away.dispose()
    with Session(engine) as session:
        stored = session.exec(select(Digest)).one()
    assert (stored.scheduled_for, stored.created_at, stored.updated_at) == (SLOT, NOW, NOW)
