"""A `digest send` killed with SIGKILL mid-run: a rerun delivers the rest, nobody is missed, duplicates stay few."""

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

from tests.smtp_sink import MinimalSMTP, ThreadedSink
from sqlmodel import Session, select

from digest.db import make_engine, upgrade
from digest.models import Digest
from subscribers.csvio import import_csv
from tests.pipeline_helpers import SLOT, load_articles, make_article
from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres

READERS = 500
RUN = SLOT + timedelta(minutes=5)
# Within the grace period and long before the 600 s lease ends: only the dead-owner check frees
# the killed run's rows this early.
RERUN = RUN + timedelta(minutes=2)
_MESSAGE_ID = re.compile(rb"\r\nMessage-ID: (<[^>\r\n]+>)", re.IGNORECASE)

pytestmark = pytest.mark.slow


class _Session(MinimalSMTP):
    def __init__(self, sink: "Sink"):
        self.sink = sink

    def message(self, recipients, body):
        self.sink.arrived(recipients[0] if recipients else "", body, self.transport)
        return None  # the sink replies (or not: the kill may come first)


class Sink(ThreadedSink):
    """An SMTP sink on loopback, in a thread of this process, that records (recipient, Message-ID)
    and kills a process with SIGKILL when the kill_at-th message has arrived."""

    def __init__(self):
        super().__init__(lambda: _Session(self))
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.victim: int | None = None
        self.kill_at = 0
        self.reply_first = False
        self.killed_after: int | None = None

    def arrived(self, recipient: str, body: bytes, transport) -> None:
        found = _MESSAGE_ID.search(body)
        with self.lock:
            self.received.append((recipient, found.group(1).decode() if found else ""))
            count = len(self.received)
        kill = self.victim is not None and count == self.kill_at
        if kill and self.reply_first:
            # The reply may reach the sender, which may or may not record it before it dies.
            transport.write(b"250 2.0.0 queued\r\n")
        if kill:
            os.kill(self.victim, signal.SIGKILL)
            self.victim, self.killed_after = None, count
            if self.reply_first:
                return
        transport.write(b"250 2.0.0 queued\r\n")


def populate(url: str, folder) -> None:
    """Articles and 500 subscribers who are all due at RUN, imported from a generated CSV."""
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
    engine.dispose()  # on SQLite the last connection folds the WAL into the file: a plain copy is complete


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill-template")
    populate(f"sqlite:///{folder / 'digest.db'}", folder)
    return folder / "digest.db"


@pytest.fixture
def database(request, tmp_path, sqlite_template):
    """A populated database of the requested kind, for one test."""
    if request.param == "sqlite":
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


def send(env, cwd, when, victim_sink: Sink | None = None):
    cmd = [sys.executable, "-m", "digest", "send", "--due", "--as-of", when.isoformat(), "--json"]
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if victim_sink is not None:
        victim_sink.victim = proc.pid
    out, err = proc.communicate(timeout=120)  # also reaps the killed child, so its pid reads as dead
    return proc.returncode, out, err


@pytest.mark.parametrize("database, seed, connections, reply_first, processes", [
    ("sqlite", 1, 1, True, 1),  # seeds picked for spread: kills after 76, 205, 436 and 362 messages
    ("sqlite", 4, 3, False, 1),
    ("sqlite", 10, 4, True, 1),
    pytest.param("postgresql", 6, 3, True, 1, marks=pytest.mark.postgres),
    # DIGEST_SEND_PROCESSES=2: the command's two sending processes die with it (PR_SET_PDEATHSIG);
    # each may have had its own connections' messages on the wire.
    ("sqlite", 4, 2, True, 2),
    ("sqlite", 10, 1, False, 2),
], indirect=["database"])
def test_a_send_killed_at_a_random_moment_and_run_again_misses_nobody_and_duplicates_at_most_one_per_connection(
        database, tmp_path, seed, connections, reply_first, processes):
    # The kill point: after the kill_at-th message arrived; with reply_first the server's 250 for
    # it is on its way (the sender may or may not record it), otherwise it never leaves.
    kill_at = random.Random(f"kill-{seed}").randint(25, READERS - 50)
    url = database
    with Sink() as sink:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET_KEY="k", DIGEST_MAILER="smtp",
                   DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(sink.port), DIGEST_SMTP_TIMEOUT="10",
                   DIGEST_SMTP_DATA_TIMEOUT="10",
                   DIGEST_SMTP_CONNECTIONS=str(connections), DIGEST_FROM="AMW Digest <digest@amw.example>",
                   DIGEST_SEND_PROCESSES=str(processes))
        on_the_wire = connections * processes  # every connection of every sending process
        sink.kill_at, sink.reply_first = kill_at, reply_first

        code, _, err = send(env, tmp_path, RUN, sink)
        assert code == -signal.SIGKILL, (code, err[-2000:])
        assert sink.killed_after == kill_at
        before_rerun = len(sink.received)
        assert kill_at <= before_rerun
        if processes == 1:  # what was already on the wire; the other processes of a multi-process
            # send go on until the kernel delivers their parent's death (PR_SET_PDEATHSIG)
            assert before_rerun <= kill_at + connections

        code, out, err = send(env, tmp_path, RERUN)
        assert code == 0, (out, err[-2000:])
        rerun = json.loads(out)
        assert rerun["failed"] == rerun["deferred"] == 0 and rerun["sent"] >= READERS - before_rerun

        code, out, _ = send(env, tmp_path, RERUN + timedelta(minutes=1))
        assert code == 0 and json.loads(out)["due"] == 0
        received = list(sink.received)

    copies = Counter(recipient for recipient, _ in received)
    assert set(copies) == {f"reader{i:03d}@example.com" for i in range(READERS)}, "a digest was lost"
    duplicates = sum(n - 1 for n in copies.values())
    print(f"killed after {kill_at} arrived; rerun {rerun}; duplicates {duplicates} over {on_the_wire} connections")
    assert duplicates <= on_the_wire, (kill_at, duplicates, [r for r, n in copies.items() if n > 1])
    ids = defaultdict(set)
    for recipient, message_id in received:
        ids[recipient].add(message_id)
    assert all(len(v) == 1 and "" not in v for v in ids.values()), "a resend must reuse the row's Message-ID"
    engine = make_engine(url)
    with Session(engine) as session:
        states = Counter(session.exec(select(Digest.state)).all())
    engine.dispose()
    assert states == {"sent": READERS}
