"""DIGEST_SEND_PROCESSES: one `digest send --due` (and the scheduler's due pass) sending with several
processes, each with its own connections, everyone once, the counts added up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from digest.config import Settings
from digest.db import make_engine
from digest.executors import WorkerOptions, due_pass
from digest.executors.processes import MIN_BATCHES_PER_PROCESS, _sharing_rate, can_fork, processes_for
from digest.mailers.file import FileMailer
from digest.mailers.memory import MemoryMailer
from digest.mailers.smtp import SMTPMailer
from digest.models import Digest
from digest.pipeline import Pipeline
from tests.smtp_sink import MinimalSMTP, ThreadedSink
from tests.test_kill import READERS, RUN, populate

pytestmark = pytest.mark.slow


class _Recording(MinimalSMTP):
    def __init__(self, log: list, lock: threading.Lock):
        self.log, self.lock = log, lock

    def message(self, recipients, body):
        with self.lock:
            self.log.append((recipients[0], self.transport.get_extra_info("peername")[1]))
        return super().message(recipients, body)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processes")
    populate(f"sqlite:///{folder / 'digest.db'}", folder)
    return folder / "digest.db"


def _copy(template, tmp_path) -> str:
    (tmp_path / "digest.db").write_bytes(template.read_bytes())
    return f"sqlite:///{tmp_path / 'digest.db'}"


def test_how_many_processes_a_pass_uses():
    batch = 50
    least = MIN_BATCHES_PER_PROCESS * batch
    assert processes_for(2, least - 1, batch) == 1  # too little to be worth a second process
    assert processes_for(2, 2 * least, batch) == 2
    assert processes_for(4, 3 * least, batch) == 3
    assert processes_for(1, 100 * least, batch) == 1
    assert processes_for(None, 100 * least, batch) == (os.cpu_count() or 1)
    assert not can_fork(MemoryMailer()) and can_fork(FileMailer("outbox"))


def test_the_processes_share_the_rate_limit():
    shared = _sharing_rate(lambda: SMTPMailer("127.0.0.1", 25, rate_limit=10), 2)
    assert shared().rate_limit == 5  # 2 processes at 5 a second: the 10 a second configured
    assert _sharing_rate(lambda: SMTPMailer("127.0.0.1", 25), 2)().rate_limit == 0  # no limit stays none


@pytest.mark.parametrize("processes", [1, 2])
def test_one_send_with_two_processes_sends_everyone_once_over_their_own_connections(template, tmp_path, processes):
    url = _copy(template, tmp_path)
    log, lock = [], threading.Lock()
    with ThreadedSink(lambda: _Recording(log, lock)) as sink:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET_KEY="k", DIGEST_MAILER="smtp", DIGEST_SMTP_HOST="127.0.0.1",
                   DIGEST_SMTP_PORT=str(sink.port), DIGEST_SMTP_CONNECTIONS="1",
                   DIGEST_FROM="AMW Digest <digest@amw.example>", DIGEST_SEND_PROCESSES=str(processes))
        done = subprocess.run([sys.executable, "-m", "digest", "send", "--due", "--as-of", RUN.isoformat(), "--json"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    # The summary adds up every process's counts.
    assert json.loads(done.stdout) == {"due": READERS, "sent": READERS, "skipped": 0, "failed": 0, "deferred": 0}
    copies = Counter(recipient for recipient, _ in log)
    assert len(copies) == READERS and set(copies.values()) == {1}
    # One connection per process (DIGEST_SMTP_CONNECTIONS=1): the messages came over that many.
    assert len({port for _, port in log}) == processes
    engine = make_engine(url)
    with Session(engine) as session:
        assert Counter(session.exec(select(Digest.state)).all()) == {"sent": READERS}
    engine.dispose()


def test_the_schedulers_due_pass_sends_with_processes_too(template, tmp_path):
    url = _copy(template, tmp_path)
    settings = Settings(database_url=url, secret_key="k", mailer="file", outbox=str(tmp_path / "outbox"),
                        from_address="AMW Digest <digest@amw.example>", send_processes=2)
    engine = make_engine(url)
    options = WorkerOptions.from_settings(settings)
    run = due_pass(Pipeline(engine, settings), lambda: FileMailer.from_settings(settings),
                   WorkerOptions(**{**options.__dict__, "concurrency": 1}))
    result = run(lambda: False, RUN)
    assert result == {"due": READERS, "sent": READERS, "skipped": 0, "failed": 0, "deferred": 0}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == READERS
    with Session(engine) as session:
        states = Counter(session.exec(select(Digest.state)).all())
    assert states == {"sent": READERS}
    assert run(lambda: False, RUN + timedelta(minutes=1))["due"] == 0
    engine.dispose()


class _Stopping(_Recording):
    """Sends SIGTERM to the command once `at` messages arrived."""

    victim: int | None = None
    at = 0

    def message(self, recipients, body):
        reply = super().message(recipients, body)
        with self.lock:
            if _Stopping.victim is not None and len(self.log) == _Stopping.at:
                os.kill(_Stopping.victim, signal.SIGTERM)
                _Stopping.victim = None
        return reply


def test_sigterm_stops_every_process_politely_and_a_rerun_sends_the_rest_without_duplicates(template, tmp_path):
    url = _copy(template, tmp_path)
    log, lock = [], threading.Lock()
    with ThreadedSink(lambda: _Stopping(log, lock)) as sink:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET_KEY="k", DIGEST_MAILER="smtp", DIGEST_SMTP_HOST="127.0.0.1",
                   DIGEST_SMTP_PORT=str(sink.port), DIGEST_SMTP_CONNECTIONS="2",
                   DIGEST_FROM="AMW Digest <digest@amw.example>", DIGEST_SEND_PROCESSES="2")
        cmd = [sys.executable, "-m", "digest", "send", "--due", "--as-of", RUN.isoformat(), "--json"]
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _Stopping.victim, _Stopping.at = proc.pid, 120
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
        first = json.loads(out)
        assert first["interrupted"] is True and first["signal"] == "SIGTERM"
        assert 120 <= first["sent"] < READERS and first["failed"] == 0
        engine = make_engine(url)
        with Session(engine) as session:
            states = Counter(session.exec(select(Digest.state)).all())
        # Every message the server took is recorded; nothing is left claimed.
        assert states["sent"] == first["sent"] == len(log) and "sending" not in states
        done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)["sent"] == READERS - first["sent"]
    copies = Counter(recipient for recipient, _ in log)
    assert len(copies) == READERS and set(copies.values()) == {1}
    with Session(engine) as session:
        assert Counter(session.exec(select(Digest.state)).all()) == {"sent": READERS}
    engine.dispose()
