"""A `digest send` stopped by SIGTERM, SIGINT or SIGKILL strands no claim: a 451 pass fails nothing and a healthy pass delivers everyone."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from digest.db import make_engine, upgrade
from digest.models import Digest
from subscribers.csvio import import_csv
from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres
from tests.pipeline_helpers import SLOT, load_articles, make_article
from tests.smtp_sink import MinimalSMTP, ThreadedSink

READERS = 150  # three claims of 50
RUN = SLOT + timedelta(minutes=5)
TEMPFAIL_PASS = RUN + timedelta(minutes=30)  # after the first backoffs (5 and 10 minutes)
HEALTHY_PASS = RUN + timedelta(hours=3)  # after every backoff the 451 pass set, within the grace period
_MESSAGE_ID = re.compile(rb"\r\nMessage-ID: (<[^>\r\n]+>)", re.IGNORECASE)
INTERRUPTED = {signal.SIGTERM: 143, signal.SIGINT: 130}

pytestmark = pytest.mark.slow


class _Session(MinimalSMTP):
    def __init__(self, sink: "Sink"):
        self.sink = sink

    def rcpt(self, address):
        if self.sink.tempfail:
            return b"451 4.3.0 try again later\r\n"
        return b"250 ok\r\n"

    def data(self):
        # A server with no valid recipient refuses DATA (the client, pipelining, may still send it).
        return b"354 go ahead\r\n" if self.recipients else b"554 5.5.1 no valid recipients\r\n"

    def message(self, recipients, body):
        return self.sink.arrived(recipients[0], body, self.transport)


class Sink(ThreadedSink):
    """An SMTP sink on loopback that records (recipient, Message-ID) of every message whose data
    arrived. From the `act_at`-th message on it can stall (never reply), and at that message it
    can signal a process; `tempfail` answers every RCPT with 451."""

    def __init__(self):
        super().__init__(lambda: _Session(self))
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.act_at = 0
        self.stall = False
        self.tempfail = False
        self.victim: int | None = None
        self.signum: int | None = None
        self.acted = threading.Event()

    def arrived(self, recipient: str, body: bytes, transport) -> bytes | None:
        found = _MESSAGE_ID.search(body)
        with self.lock:
            self.received.append((recipient, found.group(1).decode() if found else ""))
            count = len(self.received)
        acting = self.act_at and count >= self.act_at
        if acting and count == self.act_at:
            if self.victim is not None and self.signum is not None:
                os.kill(self.victim, self.signum)
            self.acted.set()
        if acting and self.stall:
            return None  # the reply never comes: the sender waits for its timeout
        return b"250 2.0.0 queued\r\n"

    def reset(self) -> None:
        self.act_at, self.stall, self.tempfail, self.victim, self.signum = 0, False, False, None, None


def populate(url: str, folder) -> None:
    """Articles and READERS subscribers who are all due at RUN."""
    upgrade(url)
    engine = make_engine(url)
    load_articles(engine, folder, [make_article(i, company="xAI") for i in range(6)])
    csv = folder / "readers.csv"
    lines = ["email,name,companies,segments,timezone,send_day,send_hour,frequency,max_articles"]
    lines += [f"reader{i:03d}@example.com,Reader {i},xAI,,Europe/Berlin,mon,8,weekly,8" for i in range(READERS)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Session(engine) as session:
        report = import_csv(session, csv)
        session.commit()
    assert report.stored == READERS and not report.rejected
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt-template")
    populate(f"sqlite:///{folder / 'digest.db'}", folder)
    return folder / "digest.db"


@pytest.fixture
def database(request, tmp_path, sqlite_template):
    if getattr(request, "param", "sqlite") == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "digest.db")
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    require_postgres()
    url = create_postgres_database()
    try:
        populate(url, tmp_path)
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def sink():
    with Sink() as running:
        yield running


def environment(url: str, sink: Sink, **changes) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update({"DIGEST_DATABASE_URL": url, "DIGEST_SECRET_KEY": "k", "DIGEST_MAILER": "smtp",
                "DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(sink.port), "DIGEST_SMTP_TIMEOUT": "3",
                "DIGEST_SMTP_DATA_TIMEOUT": "3",
                "DIGEST_FROM": "AMW Digest <digest@amw.example>", **changes})
    return env


def start(env, cwd, when) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "digest", "send", "--due", "--as-of", when.isoformat(), "--json"]
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def send(env, cwd, when) -> tuple[int, str, str]:
    proc = start(env, cwd, when)
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def ledger(url: str) -> list[Digest]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(Digest).order_by(Digest.id)).all()
    engine.dispose()
    return rows


def finish_with_a_451_pass_then_a_healthy_one(url, env, cwd, sink: Sink, connections: int) -> None:
    """What every interruption must allow: a pass answered 451 fails nothing, the next healthy
    pass delivers every digest, each copy with its row's Message-ID, duplicates within connections."""
    sink.reset()
    sink.tempfail = True
    code, out, err = send(env, cwd, TEMPFAIL_PASS)
    assert code == 0, (out, err[-2000:])
    tempfail = json.loads(out)
    assert tempfail["failed"] == 0 and tempfail["sent"] == 0, tempfail
    states = Counter(r.state for r in ledger(url))
    assert set(states) <= {"sent", "deferred"}, states  # a 451 to an unknown row's resend defers it too

    sink.reset()
    code, out, err = send(env, cwd, HEALTHY_PASS)
    assert code == 0, (out, err[-2000:])
    assert json.loads(out)["failed"] == 0
    assert Counter(r.state for r in ledger(url)) == {"sent": READERS}

    copies = Counter(recipient for recipient, _ in sink.received)
    assert set(copies) == {f"reader{i:03d}@example.com" for i in range(READERS)}, "a digest was lost"
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= connections, [r for r, n in copies.items() if n > 1]
    ids = defaultdict(set)
    for recipient, message_id in sink.received:
        ids[recipient].add(message_id)
    assert all(len(v) == 1 and "" not in v for v in ids.values()), "a resend must reuse the row's Message-ID"


@pytest.mark.parametrize("database, signum, connections, stall, seed", [
    ("sqlite", signal.SIGTERM, 1, True, 1),
    ("sqlite", signal.SIGINT, 1, False, 2),
    ("sqlite", signal.SIGTERM, 3, False, 3),
    ("sqlite", signal.SIGINT, 3, True, 4),
    pytest.param("postgresql", signal.SIGTERM, 2, True, 5, marks=pytest.mark.postgres),
], indirect=["database"])
def test_a_send_stopped_by_sigterm_or_sigint_releases_what_it_did_not_hand_over_and_fails_nothing_later(
        database, sink, tmp_path, signum, connections, stall, seed):
    # The signal comes as the act_at-th message arrives: with stall, that message (and any other
    # lane's next one) never gets a reply, so the sender is stuck in it until its timeout.
    url = database
    env = environment(url, sink, DIGEST_SMTP_CONNECTIONS=str(connections))
    sink.act_at = random.Random(f"interrupt-{seed}").randint(10, READERS - 30)
    sink.stall, sink.signum = stall, signum
    proc = start(env, tmp_path, RUN)
    sink.victim = proc.pid
    out, err = proc.communicate(timeout=180)

    assert sink.acted.is_set(), err[-2000:]
    assert proc.returncode == INTERRUPTED[signum], (out, err[-2000:])
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["signal"] == signum.name
    assert {"due", "sent", "skipped", "failed", "deferred"} <= set(summary) and summary["failed"] == 0
    rows = ledger(url)
    states = Counter(r.state for r in rows)
    # The message in flight was finished and recorded; nothing is left claimed.
    assert "sending" not in states and "failed" not in states, states
    assert states["sent"] == summary["sent"] >= sink.act_at - connections
    # In flight when it stopped: answered (sent) or timed out (deferred, or unknown once the
    # mailer tells a timeout after the data apart); at most one per connection.
    assert states["deferred"] + states["unknown"] <= (connections if stall else 0)
    # Everything else went back exactly as it was: planned, attempts untouched.
    released = [r for r in rows if r.state == "planned"]
    assert len(released) == READERS - states["sent"] - states["deferred"] - states["unknown"]
    assert {r.attempts for r in released} <= {0} and not any(r.lease_owner for r in released)

    finish_with_a_451_pass_then_a_healthy_one(url, env, tmp_path, sink, connections)


@pytest.mark.parametrize("database, connections, seed", [
    ("sqlite", 1, 11),
    pytest.param("postgresql", 1, 12, marks=pytest.mark.postgres),
], indirect=["database"])
def test_a_second_signal_stops_at_once_and_still_releases_every_claim_not_on_the_wire(
        database, sink, tmp_path, connections, seed):
    url = database
    # The server never answers the stalled messages, and the client would wait two minutes.
    env = environment(url, sink, DIGEST_SMTP_CONNECTIONS=str(connections), DIGEST_SMTP_TIMEOUT="120",
                      DIGEST_SMTP_DATA_TIMEOUT="120")
    sink.act_at = random.Random(f"second-{seed}").randint(10, READERS - 30)
    sink.stall = True
    proc = start(env, tmp_path, RUN)
    try:
        assert sink.acted.wait(120), "the stall never began"
        proc.send_signal(signal.SIGTERM)
        # Wait until the first signal was handled: two signals pending at once would be one.
        for line in proc.stderr:
            if "finishing the message in flight" in line:
                break
        proc.send_signal(signal.SIGTERM)
        # Well inside the 120 s the message in flight would take to time out.
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, out
    summary = json.loads(out)
    assert summary["interrupted"] is True
    rows = ledger(url)
    states = Counter(r.state for r in rows)
    # Only what was on the wire stays claimed (to become `unknown`, then resent once).
    assert 1 <= states["sending"] <= connections, states
    assert states["sent"] == summary["sent"]
    released = [r for r in rows if r.state == "planned"]
    assert len(released) == READERS - states["sent"] - states["sending"]
    assert {r.attempts for r in released} <= {0}

    finish_with_a_451_pass_then_a_healthy_one(url, env, tmp_path, sink, connections)


@pytest.mark.parametrize("database, connections, stall, seed", [
    ("sqlite", 1, True, 21),
    ("sqlite", 4, False, 22),
    pytest.param("postgresql", 3, False, 23, marks=pytest.mark.postgres),
], indirect=["database"])
def test_a_send_killed_with_sigkill_then_answered_451_fails_nothing_and_a_healthy_pass_delivers_everyone(
        database, sink, tmp_path, connections, stall, seed):
    url = database
    env = environment(url, sink, DIGEST_SMTP_CONNECTIONS=str(connections))
    sink.act_at = random.Random(f"kill-{seed}").randint(10, READERS - 30)
    sink.stall, sink.signum = stall, signal.SIGKILL
    proc = start(env, tmp_path, RUN)
    sink.victim = proc.pid
    proc.communicate(timeout=180)  # also reaps it, so its pid reads as dead
    assert proc.returncode == -signal.SIGKILL
    # Its claims are stranded in `sending`: the next pass finds them `unknown` and resends them
    # once; the 451 it gets must defer them like any other row, not fail them.
    assert Counter(r.state for r in ledger(url))["sending"] >= 1
    finish_with_a_451_pass_then_a_healthy_one(url, env, tmp_path, sink, connections)
