"""The ledger under delivery faults: Pipeline.send_due and `digest send` against a real aiosmtpd on loopback."""

from __future__ import annotations

import asyncio
import email
import json
import os
import subprocess
import sys
from datetime import timedelta
from email import policy

import pytest
from sqlmodel import Session, select

from digest.types import LedgerState
from digest.mailers import get_mailer
from digest.models import Digest, Subscriber, Suppression
from digest.pipeline import Pipeline
from subscribers.records import unsubscribe
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.smtp_helpers import DROP, STALL, FaultHandler, Received, SMTPServer

RUN = SLOT + timedelta(minutes=5)
BACKOFF = timedelta(seconds=300)  # ledger.mark_retry's first backoff

# Where the database dialect cannot change the outcome (the fault is the mailer's, the CLI only
# wraps the pipeline), one run on SQLite keeps the file fast; the ledger paths run on both.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


class FirstTryFaults(FaultHandler):
    """Like FaultHandler, but a drop or a stall happens on the first try only, as real outages pass.

    A stalled first try never delivers: the server gives up on it after the client has, so each
    test knows exactly how many copies should arrive.
    """

    async def handle_DATA(self, server, session, envelope):
        recipient = envelope.rcpt_tos[0]
        kind = self.fault(recipient)
        if kind not in (DROP, STALL):
            return await super().handle_DATA(server, session, envelope)
        with self.lock:
            key = "DATA " + recipient
            self.attempts[key] = self.attempts.get(key, 0) + 1
            first = self.attempts[key] == 1
        if first:
            if kind == STALL:
                await asyncio.sleep(self.stall_seconds)
            server.transport.abort()
            return "451 never heard"
        with self.lock:
            self.sessions.add(id(session))
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content or envelope.content,
                                          list(envelope.mail_options), id(session)))
        return f"250 2.0.0 Ok: queued as {len(self.messages)}"


class Server(SMTPServer):
    """The fault-injecting aiosmtpd, with a handler chosen by the test."""

    def __init__(self, handler: FaultHandler | None = None, **kwargs):
        super().__init__(**kwargs)
        if handler is not None:
            self.handler = self.controller.handler = handler

    def received(self, recipient: str) -> list:
        return self.handler.to(recipient)

    def tries(self, recipient: str) -> int:
        return self.handler.attempts.get(recipient, 0)


@pytest.fixture
def server():
    with Server(FirstTryFaults(stall_seconds=1.5)) as srv:
        yield srv


@pytest.fixture
def articles(engine, tmp_path):
    load_articles(engine, tmp_path, [make_article(i, company="xAI") for i in range(4)])


def next_weeks_articles(engine, tmp_path):
    load_articles(engine, tmp_path, [make_article(100 + i, company="xAI", days_before=-3) for i in range(2)])


def people(engine, *addresses: str) -> dict[str, int]:
    ids = add_people(engine, [{"email": a, "name": a.split("@")[0].title(), "companies": ["xAI"]} for a in addresses])
    return dict(zip(addresses, ids))


def smtp_pipeline(engine, settings, srv, **changes):
    changes = {"smtp_timeout": 5.0, **changes}
    settings = settings.replace(mailer="smtp", smtp_host="127.0.0.1", smtp_port=srv.port,
                                from_address="AMW Digest <digest@amw.example>", **changes)
    return Pipeline(engine, settings), get_mailer("smtp", settings)


def rows(engine) -> dict[str, Digest]:
    """The ledger rows by recipient address, newest period last."""
    with Session(engine) as session:
        found = session.exec(select(Subscriber.email, Digest).join(Subscriber, Subscriber.id == Digest.subscriber_id)
                             .order_by(Digest.scheduled_for)).all()
        return {address: row for address, row in found}


def suppressed(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email_key: s.reason for s in session.exec(select(Suppression)).all()}


def status_of(engine, address: str) -> str:
    with Session(engine) as session:
        return session.exec(select(Subscriber.status).where(Subscriber.email == address)).one()


def message_id(received) -> str:
    return email.message_from_bytes(received.data, policy=policy.default)["Message-ID"]


def test_a_recipient_answered_451_is_deferred_and_arrives_once_on_the_first_run_after_the_backoff(
        engine, settings, articles, server):
    people(engine, "ana@example.com", "tempfail@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server)

    first = pipeline.send_due(mailer, RUN)
    assert (first.due, first.sent, first.deferred, first.failed) == (2, 1, 1, 0)
    row = rows(engine)["tempfail@example.com"]
    assert row.state == "deferred" and row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at == RUN + BACKOFF and server.received("tempfail@example.com") == []

    early = pipeline.send_due(mailer, RUN + BACKOFF - timedelta(seconds=1))
    assert (early.due, early.sent) == (0, 0) and server.tries("tempfail@example.com") == 1

    later = pipeline.send_due(mailer, RUN + BACKOFF)
    assert (later.due, later.sent, later.deferred) == (1, 1, 0)
    assert rows(engine)["tempfail@example.com"].state == "sent"
    assert len(server.received("tempfail@example.com")) == 1 and len(server.received("ana@example.com")) == 1
    assert pipeline.send_due(mailer, RUN + 3 * BACKOFF).due == 0


def test_a_550_5_1_1_hard_bounce_fails_the_row_suppresses_the_address_and_it_is_never_tried_again(
        engine, settings, articles, server, tmp_path):
    people(engine, "nouser@example.com", "ana@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server)

    counts = pipeline.send_due(mailer, RUN)
    assert (counts.sent, counts.failed, counts.deferred) == (1, 1, 0)
    row = rows(engine)["nouser@example.com"]
    assert row.state == "failed" and "5.1.1" in row.last_error
    assert suppressed(engine) == {"nouser@example.com": "bounced"}
    assert status_of(engine, "nouser@example.com") == "bounced"

    # Later runs this week and the next week's run leave the address alone; ana gets both weeks.
    pipeline.send_due(mailer, RUN + timedelta(hours=1))
    next_weeks_articles(engine, tmp_path)
    next_week = pipeline.send_due(mailer, RUN + timedelta(days=7))
    assert (next_week.due, next_week.sent) == (1, 1)
    assert server.tries("nouser@example.com") == 1
    assert len(server.received("ana@example.com")) == 2
    assert rows(engine)["nouser@example.com"].period == row.period  # no row planned for the new week


@sqlite_only
def test_a_550_5_7_1_policy_rejection_fails_the_row_without_suppressing_anyone(engine, settings, articles, server,
                                                                              tmp_path):
    people(engine, "policy@example.com", "ana@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server)

    counts = pipeline.send_due(mailer, RUN)
    assert (counts.sent, counts.failed, counts.deferred) == (1, 1, 0)
    row = rows(engine)["policy@example.com"]
    assert row.state == "failed" and "5.7.1" in row.last_error
    assert suppressed(engine) == {} and status_of(engine, "policy@example.com") == "active"
    # Failed is final for that period, but the subscriber still gets next week's digest tried.
    assert pipeline.send_due(mailer, RUN + timedelta(hours=2)).due == 0
    next_weeks_articles(engine, tmp_path)
    pipeline.send_due(mailer, RUN + timedelta(days=7))
    assert server.tries("policy@example.com") == 2


@sqlite_only
def test_a_connection_dropped_after_data_defers_and_a_later_run_delivers_with_the_same_message_id(
        engine, settings, articles, server):
    people(engine, "drop@example.com", "ana@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server)

    counts = pipeline.send_due(mailer, RUN)
    assert (counts.sent, counts.deferred, counts.failed) == (1, 1, 0)
    row = rows(engine)["drop@example.com"]
    assert row.state == "deferred" and "connection lost" in row.last_error

    again = pipeline.send_due(mailer, RUN + BACKOFF)
    assert (again.sent, again.deferred) == (1, 0)
    delivered = server.received("drop@example.com")
    assert len(delivered) == 1 and message_id(delivered[0]) == row.message_id
    assert rows(engine)["drop@example.com"].attempts == 2


@sqlite_only
def test_a_stalling_server_times_out_into_deferred_and_the_others_still_arrive(engine, settings, articles, server):
    people(engine, "stall@example.com", "ana@example.com", "bo@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server, smtp_timeout=0.4)

    counts = pipeline.send_due(mailer, RUN)
    assert (counts.sent, counts.deferred, counts.failed) == (2, 1, 0)
    row = rows(engine)["stall@example.com"]
    # The mailer waits smtp_data_timeout (600 s) for the reply after the data, so the server's own
    # drop after its stall comes first (a reply that never comes is `unknown`: test_smtp_stall.py).
    assert row.state == "deferred" and "connection lost" in row.last_error
    assert len(server.received("ana@example.com")) == len(server.received("bo@example.com")) == 1

    again = pipeline.send_due(mailer, RUN + BACKOFF)
    assert again.sent == 1 and rows(engine)["stall@example.com"].state == "sent"


@sqlite_only
def test_without_smtputf8_only_the_non_ascii_recipient_fails_and_nobody_is_suppressed(engine, settings, articles):
    people(engine, "ana@example.com", "jösé@example.com", "bo@example.com")
    with Server(smtputf8=False) as srv:
        pipeline, mailer = smtp_pipeline(engine, settings, srv)
        counts = pipeline.send_due(mailer, RUN)
        assert (counts.sent, counts.failed, counts.deferred) == (2, 1, 0)
        assert sorted(m.rcpt_tos[0] for m in srv.messages) == ["ana@example.com", "bo@example.com"]
    row = rows(engine)["jösé@example.com"]
    assert row.state == "failed" and "SMTPUTF8" in row.last_error
    assert suppressed(engine) == {}


class UnsubscribeOnDelivery(FaultHandler):
    """Once the first message is in, another subscriber unsubscribes (as a click on a link would)."""

    def __init__(self, engine, victim: str):
        super().__init__()
        self.engine, self.victim, self.done = engine, victim, False

    async def handle_DATA(self, server, session, envelope):
        if not self.done:
            self.done = True
            await asyncio.get_running_loop().run_in_executor(None, self._unsubscribe)
        return await super().handle_DATA(server, session, envelope)

    def _unsubscribe(self):
        with Session(self.engine) as session:
            unsubscribe(session, self.victim)
            session.commit()


def test_an_unsubscribe_that_arrives_during_a_run_stops_that_digest_before_it_is_sent(engine, settings, articles):
    people(engine, "first@example.com", "ana@example.com", "later@example.com", "bo@example.com")
    with Server(UnsubscribeOnDelivery(engine, "later@example.com")) as srv:
        pipeline, mailer = smtp_pipeline(engine, settings, srv)
        counts = pipeline.send_due(mailer, RUN)
        assert srv.handler.done
        assert [m.rcpt_tos[0] for m in srv.messages] == ["first@example.com", "ana@example.com", "bo@example.com"]
    assert (counts.due, counts.sent, counts.skipped) == (4, 3, 1)
    row = rows(engine)["later@example.com"]
    assert row.state == "skipped" and "during the run" in row.skip_reason


@pytest.mark.parametrize("db_url, connections", [("sqlite", 1), ("sqlite", 3),
                                                     pytest.param("postgresql", 3, marks=pytest.mark.postgres)],
                         indirect=["db_url"])
def test_one_recipients_failure_never_stops_the_others_and_each_row_ends_in_its_state(
        engine, settings, articles, server, connections):
    readers = [f"reader{i}@example.com" for i in range(6)]
    faulty = ["tempfail@example.com", "nouser@example.com", "policy@example.com", "drop@example.com",
              "stall@example.com"]
    people(engine, *[a for pair in zip(readers, faulty + ["reader-extra@example.com"]) for a in pair])
    pipeline, mailer = smtp_pipeline(engine, settings, server, smtp_timeout=0.4, smtp_connections=connections)

    counts = pipeline.send_due(mailer, RUN)
    assert (counts.due, counts.sent, counts.deferred, counts.failed) == (12, 7, 3, 2)
    for address in readers + ["reader-extra@example.com"]:
        assert len(server.received(address)) == 1, address
    states = {a: r.state for a, r in rows(engine).items()}
    assert {a: states[a] for a in faulty} == {
        "tempfail@example.com": "deferred", "nouser@example.com": "failed", "policy@example.com": "failed",
        "drop@example.com": "deferred", "stall@example.com": "deferred"}

    again = pipeline.send_due(mailer, RUN + BACKOFF)
    assert (again.due, again.sent) == (3, 3)
    everyone = readers + ["reader-extra@example.com", "tempfail@example.com", "drop@example.com", "stall@example.com"]
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(everyone)


@sqlite_only
def test_digest_send_with_the_smtp_mailer_reports_the_outcomes_as_json_and_exits_1_on_a_failure(
        engine, settings, articles, server, db_url, tmp_path):
    people(engine, "ana@example.com", "nouser@example.com", "tempfail@example.com")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k", DIGEST_MAILER="smtp",
               DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(server.port), DIGEST_SMTP_TIMEOUT="5",
               # A real From domain: with digest@localhost the EHLO name would warn (one more line).
               DIGEST_FROM="AMW Digest <digest@amw.example>")

    def send(when):
        proc = subprocess.run([sys.executable, "-m", "digest", "send", "--due", "--as-of", when.isoformat(), "--json"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        return proc.returncode, json.loads(proc.stdout), proc.stderr

    code, first, stderr = send(RUN)
    assert code == 1 and first == {"due": 3, "sent": 1, "skipped": 0, "failed": 1, "deferred": 1}
    # One log line per failure, naming only the subscriber concerned.
    failures = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    assert len(failures) == 2 and not any("ana@" in line for line in failures)
    code, second, _ = send(RUN + BACKOFF)
    assert code == 0 and second == {"due": 1, "sent": 1, "skipped": 0, "failed": 0, "deferred": 0}
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["ana@example.com", "tempfail@example.com"]


def abandon(engine, pipeline, owner: str, now) -> None:
    """Plan what is due and let a sender on another host claim it all and die (lease of 60 s)."""
    from digest import ledger

    with Session(engine) as session:
        pipeline.plan_due(session, now)
        assert ledger.claim(session, owner=owner, now=now, limit=50, lease_seconds=60, max_attempts=5)


def test_an_unknown_rows_resend_answered_451_is_deferred_like_any_other_and_arrives_after_the_backoff(
        engine, settings, articles, server):
    people(engine, "tempfail@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server)
    abandon(engine, pipeline, "otherhost:1:dead", RUN)

    # The lease has ended: the row is unknown and resent once; the server says 451, i.e. it did
    # not take the message, so the row waits for its backoff instead of failing for good.
    resend = RUN + timedelta(minutes=2)
    first = pipeline.send_due(mailer, resend)
    assert (first.due, first.sent, first.deferred, first.failed) == (1, 0, 1, 0)
    row = rows(engine)["tempfail@example.com"]
    assert (row.state, row.attempts, row.unknown_resends) == ("deferred", 2, 1) and "451" in row.last_error
    assert row.next_attempt_at == resend + 2 * BACKOFF

    later = pipeline.send_due(mailer, resend + 2 * BACKOFF)
    assert (later.due, later.sent, later.failed) == (1, 1, 0)
    assert rows(engine)["tempfail@example.com"].state == "sent"
    assert len(server.received("tempfail@example.com")) == 1


def test_a_row_whose_sender_dies_again_during_its_unknown_resend_is_not_resent_a_third_time(
        engine, settings, articles, server):
    from digest import ledger

    people(engine, "ana@example.com")
    pipeline, mailer = smtp_pipeline(engine, settings, server)
    abandon(engine, pipeline, "otherhost:1:dead", RUN)
    with Session(engine) as session:
        # The resend's sender dies too (the message may have reached the server twice by now).
        resent = ledger.claim(session, owner="otherhost:2:dead", now=RUN + timedelta(minutes=2), limit=50,
                              lease_seconds=60, max_attempts=5)
        assert [c.previous_state for c in resent] == [LedgerState.UNKNOWN]

    counts = pipeline.send_due(mailer, RUN + timedelta(minutes=10))
    assert (counts.due, counts.sent) == (0, 0) and server.received("ana@example.com") == []
    row = rows(engine)["ana@example.com"]
    assert (row.state, row.unknown_resends) == ("unknown", 1), "left for an operator to decide"
