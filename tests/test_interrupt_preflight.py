"""What stops every digest is found before anything is claimed: `digest send` exits 2 and the ledger is unchanged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from digest import ledger
from digest.config import Settings
from digest.db import make_engine
from digest.errors import ConfigError
from digest.mailers import get_mailer
from digest.models import Digest
from digest.pipeline import Pipeline
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.postmark_server import TOKEN, PostmarkServer
from tests.smtp_helpers import free_port
from tests.smtp_sink import MinimalSMTP, ThreadedSink

RUN = SLOT + timedelta(minutes=5)
READERS = 12


def dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def world(engine, db_url, tmp_path):
    """Readers due at RUN and a ledger mid-life: planned rows, one deferred, and two claimed by a
    sender of this host that died (a run that got as far as claiming would turn them unknown)."""
    load_articles(engine, tmp_path, [make_article(i, company="xAI") for i in range(4)])
    add_people(engine, [{"email": f"reader{i:02d}@example.com", "name": f"Reader {i}", "companies": ["xAI"]}
                        for i in range(READERS)])
    pipeline = Pipeline(engine, Settings(database_url=db_url, secret_key="k", mailer="memory"))
    with Session(engine) as session:
        pipeline.plan_due(session, RUN)
        first = ledger.claim(session, owner="me:1:a", now=RUN, limit=1, lease_seconds=600, max_attempts=5)
        ledger.mark_retry(session, first[0].digest_id, "me:1:a", "451 try later", now=RUN, max_attempts=5)
        ledger.claim(session, owner=f"{socket.gethostname()}:{dead_pid()}:b", now=RUN, limit=2,
                     lease_seconds=600, max_attempts=5)
    return db_url


def snapshot(url: str) -> list[tuple]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(Digest).order_by(Digest.id)).all()
        found = [tuple(getattr(r, c.name) for c in Digest.__table__.columns) for r in rows]
    engine.dispose()
    return found


def send(url: str, cwd: Path, **env_changes) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update({"DIGEST_DATABASE_URL": url, "DIGEST_SECRET_KEY": "k", "DIGEST_FROM": "AMW Digest <digest@amw.example>",
                **env_changes})
    proc = subprocess.run([sys.executable, "-m", "digest", "send", "--due", "--as-of", RUN.isoformat(), "--json"],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


@pytest.fixture
def sink():
    """An SMTP sink that offers no STARTTLS and no AUTH, and accepts everything."""
    with ThreadedSink(MinimalSMTP) as running:
        yield running


def assert_refused_before_claiming(url, cwd, needle: str, **env_changes) -> None:
    before = snapshot(url)
    assert before and any(r for r in before)
    code, out, err = send(url, cwd, **env_changes)
    assert code == 2, (out, err[-2000:])
    assert needle in out.get("error", ""), out
    assert "Traceback" not in err, err[-2000:]
    assert snapshot(url) == before, "the ledger changed"


def test_templates_that_are_missing_stop_the_send_with_exit_2_before_anything_is_planned_or_claimed(
        world, tmp_path):
    empty = tmp_path / "no-templates"
    empty.mkdir()
    outbox = tmp_path / "outbox"
    assert_refused_before_claiming(world, tmp_path, "templates", DIGEST_TEMPLATES_DIR=str(empty),
                                   DIGEST_MAILER="file", DIGEST_OUTBOX=str(outbox))
    assert not any(outbox.glob("*.eml"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_starttls_not_offered_stops_the_send_with_exit_2_and_an_unchanged_ledger(world, sink, tmp_path):
    assert_refused_before_claiming(world, tmp_path, "STARTTLS", DIGEST_MAILER="smtp", DIGEST_SMTP_HOST="127.0.0.1",
                                   DIGEST_SMTP_PORT=str(sink.port), DIGEST_SMTP_SECURITY="starttls")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("changes, needle", [
    ({"DIGEST_SMTP_USERNAME": "digest", "DIGEST_SMTP_PASSWORD": "secret"}, "AUTH"),
    ({"DIGEST_SMTP_SECURITY": "starttls", "DIGEST_SMTP_CAFILE": "/nonexistent/ca.pem"}, "ca.pem"),
    ({"DIGEST_SMTP_TIMEOUT": "-1"}, "TIMEOUT"),
], ids=["login-without-auth", "missing-ca-file", "negative-timeout"])
def test_an_smtp_setting_that_cannot_work_stops_the_send_with_exit_2_and_an_unchanged_ledger(
        world, sink, tmp_path, changes, needle):
    before = snapshot(world)
    code, out, err = send(world, tmp_path, DIGEST_MAILER="smtp", DIGEST_SMTP_HOST="127.0.0.1",
                          DIGEST_SMTP_PORT=str(sink.port), **changes)
    assert code == 2, (out, err[-2000:])
    assert needle.lower() in out.get("error", "").lower(), out
    assert snapshot(world) == before, "the ledger changed"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_smtp_server_that_cannot_be_reached_stops_the_send_with_exit_2_and_costs_no_attempt(world, tmp_path):
    port = free_port()  # nothing listens there
    assert_refused_before_claiming(world, tmp_path, f"127.0.0.1:{port}", DIGEST_MAILER="smtp",
                                   DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(port))


def refusing_folder(tmp_path: Path) -> Path:
    """An existing folder where this process cannot create a file (root ignores permission bits)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    for candidate in (Path("/proc/self"), Path("/sys/kernel")):
        if candidate.is_dir():
            return candidate
    pytest.skip("no folder that refuses files to root on this system")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["parent-is-a-file", "folder-refuses-files"])
def test_an_outbox_that_cannot_be_written_stops_the_send_with_exit_2_instead_of_deferring_everything(
        world, tmp_path, kind):
    if kind == "parent-is-a-file":
        (tmp_path / "plain-file").write_text("not a folder")
        outbox = tmp_path / "plain-file" / "outbox"
    else:
        outbox = refusing_folder(tmp_path)
    try:
        assert_refused_before_claiming(world, tmp_path, "DIGEST_OUTBOX", DIGEST_MAILER="file", DIGEST_OUTBOX=str(outbox))
    finally:
        if outbox.is_relative_to(tmp_path) and outbox.is_dir():
            outbox.chmod(0o755)  # so that pytest can remove it


class RevokingServer(PostmarkServer):
    """Accepts `allow` messages, then answers every request 401 (the token was revoked mid-run)."""

    def __init__(self, allow: int):
        super().__init__()
        self.allow = allow

    def reply(self, headers, payload):
        if len(self.received) >= self.allow:
            self.token = "revoked"
        return super().reply(headers, payload)


@pytest.mark.parametrize("connections", [1, 4])
def test_a_configuration_error_after_claiming_releases_every_claim_not_taken_by_the_server(
        engine, db_url, tmp_path, connections):
    load_articles(engine, tmp_path, [make_article(i, company="xAI") for i in range(4)])
    add_people(engine, [{"email": f"reader{i:02d}@example.com", "name": f"Reader {i}", "companies": ["xAI"]}
                        for i in range(READERS)])
    with RevokingServer(allow=5) as server:
        settings = Settings(database_url=db_url, secret_key="k", mailer="postmark", postmark_token=TOKEN,
                            postmark_url=server.url, postmark_connections=connections,
                            from_address="AMW Digest <digest@amw.example>")
        pipeline = Pipeline(engine, settings)
        with pytest.raises(ConfigError, match="DIGEST_POSTMARK_TOKEN"):
            with get_mailer("postmark", settings) as mailer:
                pipeline.send_due(mailer, RUN)
        delivered = {p["payload"]["To"].rsplit("<", 1)[-1].rstrip(">") for p in server.received}
    with Session(engine) as session:
        rows = session.exec(select(Digest)).all()
    assert len(delivered) == 5
    assert {r.state for r in rows if r.state != "planned"} == {"sent"}
    assert sum(r.state == "sent" for r in rows) == 5
    # Refused or never handed over: back to planned exactly as before the claim.
    assert {(r.attempts, r.lease_owner, r.last_error) for r in rows if r.state == "planned"} == {(0, None, None)}
