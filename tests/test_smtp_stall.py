"""A hung SMTP server: the per-lane stall breaker, and the unknown outcome of a final reply that never came."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from digest.config import load_settings
from digest.errors import ConfigError
from digest.mailers import get_mailer
from digest.mailers.smtp import SMTPMailer
from digest.models import Digest
from digest.pipeline import Pipeline
from digest.types import Outcome
from smtp_sink import SinkLog, ThreadedSink, stalling
from test_mailers import outgoing
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article

DEFERRED, SENT, UNKNOWN = Outcome.DEFERRED, Outcome.SENT, Outcome.UNKNOWN

TIMEOUT = 0.5  # each stall costs one; healthy replies on loopback take milliseconds, even on a busy machine

PATHS = pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-command-at-a-time"])


class Feed:
    """A generator of messages that counts how many were read from it."""

    def __init__(self, count: int, prefix: str = "r") -> None:
        self.messages = [outgoing(f"{prefix}{i}@example.com", f"{prefix}{i}") for i in range(count)]
        self.pulled = 0

    def __iter__(self):
        for message in self.messages:
            self.pulled += 1
            yield message


def send(sink, feed, *, mailer=None, **options):
    """(results, the (key, status) pairs on_result saw) for feed sent to sink."""
    seen = []
    options = {"timeout": TIMEOUT, "data_timeout": TIMEOUT, **options}
    mailer = mailer or SMTPMailer("127.0.0.1", sink.port, **options)
    results = mailer.send_messages(feed, on_result=lambda m, r: seen.append((m.key, r.status)))
    return results, seen


@pytest.mark.parametrize("stall_at, pipelining", [
    (b"220", True), (b"EHLO", True),
    (b"MAIL", True), (b"MAIL", False), (b"RCPT", True), (b"RCPT", False), (b"DATA", True), (b"DATA", False),
], ids=lambda v: v.decode() if isinstance(v, bytes) else ("pipelining" if v else "one-command-at-a-time"))
def test_a_server_that_stops_answering_costs_each_lane_stall_limit_timeouts_and_the_rest_are_never_read(
        stall_at, pipelining):
    log, feed = SinkLog(), Feed(20)
    with ThreadedSink(stalling(log, stall_at, pipelining=pipelining)) as sink:
        mailer = SMTPMailer("127.0.0.1", sink.port, timeout=TIMEOUT, data_timeout=TIMEOUT, connections=2)
        results, seen = send(sink, feed, mailer=mailer)

    # Two lanes, two timeouts each (the default limit): four messages read, sixteen left untouched.
    assert feed.pulled == 4 and mailer.halted
    assert [r.status for r in results] == [DEFERRED] * 4
    assert all("timed out" in r.detail for r in results)
    assert sorted(seen) == sorted((m.key, DEFERRED) for m in feed.messages[:4])
    # Each timeout cost its connection: four sessions, each silent at the same point.
    assert log.sessions == 4
    if stall_at != b"220":
        assert log.heard[stall_at] == 4
    assert log.heard[b"."] == 0  # no message data ever reached the server


@PATHS
def test_a_stopped_lane_takes_nothing_more_for_the_rest_of_the_run(pipelining):
    log = SinkLog()
    with ThreadedSink(stalling(log, b"MAIL", pipelining=pipelining)) as sink:
        with SMTPMailer("127.0.0.1", sink.port, timeout=TIMEOUT, stall_limit=3) as mailer:
            first, second = Feed(10), Feed(10)
            results, _ = send(sink, first, mailer=mailer)
            assert first.pulled == 3 and [r.status for r in results] == [DEFERRED] * 3
            # The next batch of the same run: the lane is still stopped, so nothing is read or tried.
            assert send(sink, second, mailer=mailer)[0] == []
            assert second.pulled == 0 and mailer.halted
        mailer.open()  # even reopened, the same mailer (one run) keeps the lane stopped
        assert mailer.send_messages(iter(Feed(1))) == [] and mailer.halted
    assert log.sessions == 3 and log.heard[b"MAIL"] == 3


def test_after_the_pause_a_stopped_lane_gets_one_more_try_and_one_more_timeout_stops_it_again():
    # A long-lived worker keeps its mailer open; the pause is made short here to see it end.
    log = SinkLog()
    with ThreadedSink(stalling(log, b"MAIL")) as sink:
        with SMTPMailer("127.0.0.1", sink.port, timeout=TIMEOUT, stall_pause=0.5) as mailer:
            first, second = Feed(10), Feed(10)
            send(sink, first, mailer=mailer)
            assert first.pulled == 2 and mailer.halted
            time.sleep(0.6)  # past the pause
            results, _ = send(sink, second, mailer=mailer)
    assert second.pulled == 1 and mailer.halted and [r.status for r in results] == [DEFERRED]
    assert log.heard[b"MAIL"] == 3


@PATHS
def test_a_healthy_lane_keeps_sending_while_the_other_lane_stalls_and_stops(pipelining):
    # The first session is served normally; every later one goes silent at MAIL.
    log, feed = SinkLog(), Feed(20)
    with ThreadedSink(stalling(log, b"MAIL", healthy_sessions=1, pipelining=pipelining)) as sink:
        mailer = SMTPMailer("127.0.0.1", sink.port, timeout=TIMEOUT, connections=2)
        results, seen = send(sink, feed, mailer=mailer)

    statuses = [r.status for r in results]
    timed_out = statuses.count(DEFERRED)
    assert feed.pulled == 20 and not mailer.halted and len(seen) == 20
    # The stalling lane took one or two messages (its second only if the healthy lane had not yet
    # sent everything else), each a timeout on a session of its own; the healthy lane kept its one
    # connection and sent all the others.
    assert timed_out in (1, 2) and statuses.count(SENT) == 20 - timed_out
    assert all("timed out" in r.detail for r in results if r.status == DEFERRED)
    assert log.sessions == 1 + timed_out and log.heard[b"."] == 20 - timed_out


@PATHS
def test_a_reply_between_timeouts_resets_the_count(pipelining):
    # Sessions alternate: silent at MAIL, then healthy for one message (the mailer closes a
    # timed-out connection, so each message after a timeout opens a new session).
    log = SinkLog()

    class Alternating(stalling(log, b"MAIL", pipelining=pipelining)):
        def connection_made(self, transport):
            super().connection_made(transport)
            self.stalls = (self.log.sessions - 1) % 2 == 0

        def message(self, recipients, body):
            self.transport.write(b"250 2.0.0 queued\r\n")
            self.real.close()  # one message per healthy session, so the next one is a new session

    feed = Feed(6)
    with ThreadedSink(Alternating) as sink:
        results, _ = send(sink, feed)
    # Never two timeouts in a row: the lane never stops and every message is read.
    assert feed.pulled == 6
    assert [r.status for r in results] == [DEFERRED, SENT] * 3


@PATHS
def test_a_server_silent_after_the_whole_message_makes_it_unknown_not_deferred(pipelining):
    log, feed = SinkLog(), Feed(5)
    with ThreadedSink(stalling(log, b".", pipelining=pipelining)) as sink:
        mailer = SMTPMailer("127.0.0.1", sink.port, timeout=TIMEOUT, data_timeout=TIMEOUT)
        results, seen = send(sink, feed, mailer=mailer)

    # The server has both messages in full: a retry could deliver them twice.
    assert log.heard[b"."] == 2
    assert [r.status for r in results] == [UNKNOWN, UNKNOWN] and not any(r.accepted for r in results)
    assert "may have accepted it" in results[0].detail
    assert seen == [("r0", UNKNOWN), ("r1", UNKNOWN)]
    # Unknown outcomes are stalls too: the lane stopped after two, and three messages were never read.
    assert feed.pulled == 2 and mailer.halted


def test_with_the_breaker_off_every_message_is_tried():
    log, feed = SinkLog(), Feed(4)
    with ThreadedSink(stalling(log, b"MAIL")) as sink:
        results, _ = send(sink, feed, stall_limit=0)
    assert feed.pulled == 4 and [r.status for r in results] == [DEFERRED] * 4
    assert log.heard[b"MAIL"] == 4


# -- with the pipeline: the ledger row of a message the server went silent after ---------------


def test_a_digest_whose_final_reply_never_came_ends_unknown_in_the_ledger_not_deferred(engine, settings, tmp_path):
    load_articles(engine, tmp_path, [make_article(i) for i in range(3)])
    add_people(engine, [{"email": "ana@example.com", "name": "Ana", "companies": ["xAI"]}])
    log = SinkLog()
    with ThreadedSink(stalling(log, b".")) as sink:
        # resend_unknown off: the row stays as the send left it, for the assertion below.
        settings = settings.replace(mailer="smtp", smtp_host="127.0.0.1", smtp_port=sink.port, smtp_timeout=TIMEOUT,
                                    smtp_data_timeout=TIMEOUT, resend_unknown=False,
                                    from_address="AMW Digest <digest@amw.example>")
        counts = Pipeline(engine, settings).send_due(get_mailer("smtp", settings), SLOT + timedelta(minutes=5))

    assert log.heard[b"."] == 1  # the server has the whole message
    assert (counts.due, counts.sent, counts.deferred, counts.failed) == (1, 0, 1, 0)
    with Session(engine) as session:
        row = session.exec(select(Digest)).one()
    assert row.state == "unknown" and row.lease_owner is None
    assert "may have accepted it" in row.last_error
    # Its one resend (when resend_unknown is on) waits like a deferred row's first retry.
    assert row.next_attempt_at == SLOT + timedelta(minutes=5, seconds=300)


def test_a_digest_whose_final_reply_never_came_is_not_resent_in_the_same_run(engine, settings, tmp_path):
    # resend_unknown on: the send loop claims until nothing is due; the unknown row is not due
    # again before its next_attempt_at, so the server hears the message once in this run.
    load_articles(engine, tmp_path, [make_article(i) for i in range(3)])
    add_people(engine, [{"email": "ana@example.com", "name": "Ana", "companies": ["xAI"]}])
    log = SinkLog()
    as_of = SLOT + timedelta(minutes=5)
    with ThreadedSink(stalling(log, b".")) as sink:
        settings = settings.replace(mailer="smtp", smtp_host="127.0.0.1", smtp_port=sink.port, smtp_timeout=TIMEOUT,
                                    smtp_data_timeout=TIMEOUT, resend_unknown=True,
                                    from_address="AMW Digest <digest@amw.example>")
        counts = Pipeline(engine, settings).send_due(get_mailer("smtp", settings), as_of)
    assert log.heard[b"."] == 1
    assert (counts.due, counts.sent, counts.deferred, counts.failed) == (1, 0, 1, 0)
    with Session(engine) as session:
        row = session.exec(select(Digest)).one()
    assert (row.state, row.unknown_resends, row.attempts) == ("unknown", 0, 1)
    assert row.next_attempt_at == as_of + timedelta(seconds=300)


def test_a_send_whose_every_connection_stalls_ends_and_leaves_the_rest_planned_for_the_next_run(
        engine, settings, tmp_path):
    load_articles(engine, tmp_path, [make_article(i) for i in range(3)])
    add_people(engine, [{"email": f"r{i}@example.com", "name": f"R{i}", "companies": ["xAI"]} for i in range(6)])
    log = SinkLog()
    with ThreadedSink(stalling(log, b"MAIL")) as sink:  # greets and answers EHLO, then goes silent
        settings = settings.replace(mailer="smtp", smtp_host="127.0.0.1", smtp_port=sink.port, smtp_timeout=TIMEOUT,
                                    smtp_data_timeout=TIMEOUT, smtp_stall_limit=1,
                                    from_address="AMW Digest <digest@amw.example>")
        counts = Pipeline(engine, settings).send_due(get_mailer("smtp", settings), SLOT + timedelta(minutes=5))

    assert counts.halted and counts.as_json()["halted"] is True
    assert (counts.sent, counts.failed, counts.deferred) == (0, 0, 1)  # the one message handed over
    with Session(engine) as session:
        states = sorted(row.state for row in session.exec(select(Digest)))
        untouched = [row.attempts for row in session.exec(select(Digest).where(Digest.state == "planned"))]
    assert states == ["deferred"] + ["planned"] * 5
    assert untouched == [0] * 5  # released as they were claimed: the stall cost them nothing


def test_the_stall_limit_and_the_data_timeout_are_read_from_the_environment():
    log, feed = SinkLog(), Feed(10)
    with ThreadedSink(stalling(log, b".")) as sink:
        settings = load_settings({"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(sink.port),
                                  "DIGEST_SMTP_TIMEOUT": str(TIMEOUT), "DIGEST_SMTP_DATA_TIMEOUT": str(TIMEOUT),
                                  "DIGEST_SMTP_STALL_LIMIT": "3", "DIGEST_SECRET_KEY": "k"})
        results, _ = send(sink, feed, mailer=get_mailer("smtp", settings))
    assert feed.pulled == 3 and [r.status for r in results] == [UNKNOWN] * 3
    assert log.heard[b"."] == 3


@pytest.mark.parametrize("option, value", [("stall_limit", -1), ("data_timeout", 0)])
def test_a_negative_stall_limit_or_a_data_timeout_of_zero_is_a_config_error(option, value):
    with pytest.raises(ConfigError, match=f"DIGEST_SMTP_{option.upper()}"):
        SMTPMailer("127.0.0.1", 25, **{option: value})
