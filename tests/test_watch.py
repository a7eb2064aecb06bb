"""What operators watch: /metrics against the ledger after a real send, /healthz and /readyz, JSON log
lines without addresses, and DIGEST_METRICS_PORT on a running `digest scheduler`."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from digest.cli import main
from digest.config import Settings
from digest.db import make_engine
from digest.logs import JsonFormatter, address_mark
from digest.mailers.file import FileMailer
from digest.mailers.memory import MemoryMailer
from digest.models import Digest
from digest.pipeline import Pipeline
from digest.types import Outcome, SendResult
from digest.web.app import create_app
from tests.conftest import ROOT
from digest.executors import enqueue_due
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.smtp_helpers import SMTPServer
from tests.test_workers import ledger, pg_url, settings_for, start_worker, worker_env  # noqa: F401 (pg_url: a fixture)
from tests.web_helpers import free_port, local_client
from tests.worker_helpers import AS_OF, build_world

UTC = timezone.utc


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels...): value} from the exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


def total(found: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, *pairs), v in found.items() if n == name and want <= set(pairs))


def ledger_states(engine) -> dict[str, int]:
    with Session(engine) as session:
        states = [row.state for row in session.exec(select(Digest)).all()]
    return {state: states.count(state) for state in set(states)}


def test_metrics_after_a_send_match_the_ledger(engine, settings, tmp_path):
    articles = [make_article(i, company=c) for i, c in enumerate(["xAI", "OpenAI", "Nvidia"] * 3)]
    articles.append(make_article(50, company="Mistral", days_before=20))  # known, but out of the window
    load_articles(engine, tmp_path, articles)
    add_people(engine, [
        {"email": "ana@example.com", "name": "Ana", "companies": ["xAI"]},
        {"email": "bo@example.com", "name": "Bo", "companies": ["OpenAI"]},
        {"email": "cy@example.com", "name": "Cy", "companies": ["Mistral"], "segments": []},  # nothing: skipped
        {"email": "di@example.com", "name": "Di", "companies": ["Nvidia"]},  # refused with a 550
    ])
    MemoryMailer.reset()
    MemoryMailer.scripted["di@example.com"] = [SendResult(Outcome.REJECTED, "550 5.1.1 <di@example.com> unknown",
                                                          code=550, enhanced="5.1.1")]
    client = local_client(create_app(settings, engine, spool_thread=False))
    before = samples(client.get("/metrics").text)

    Pipeline(engine, settings).send_due(MemoryMailer(), SLOT + timedelta(minutes=5))

    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    ledger = ledger_states(engine)
    assert ledger == {"sent": 2, "skipped": 1, "failed": 1}
    for state in ("sent", "skipped", "failed"):
        assert total(after, "digest_digests_total", state=state) - total(before, "digest_digests_total", state=state) \
            == ledger[state]
        assert after[("digest_ledger_digests", ("state", state))] == ledger[state]
    assert after[("digest_ledger_digests", ("state", "planned"))] == 0
    # The reason label is a short reason, never the server's reply (which quoted the address).
    assert total(after, "digest_digests_total", state="failed", reason="mail server reply") >= 1
    assert "example.com" not in response.text
    assert total(after, "digest_mailer_errors_total", code="550") - total(before, "digest_mailer_errors_total",
                                                                          code="550") == 1
    sends = total(after, "digest_send_seconds_count") - total(before, "digest_send_seconds_count")
    renders = total(after, "digest_render_seconds_count") - total(before, "digest_render_seconds_count")
    assert sends == 3 and renders == 3  # three messages built and handed over; the skipped one never rendered
    assert after[("digest_ledger_oldest_due_age_seconds",)] == 0  # nothing left due
    assert after[("digest_ledger_up",)] == 1


def test_the_oldest_due_digest_is_measured_from_its_slot(engine, settings, tmp_path):
    load_articles(engine, tmp_path, [make_article(1)])
    add_people(engine, [{"email": "ana@example.com", "name": "Ana", "companies": ["xAI"]}])
    pipeline = Pipeline(engine, settings)
    with Session(engine) as session:
        assert pipeline.plan_due(session, SLOT + timedelta(minutes=5)) == 1
        assert session.exec(select(Digest)).one().scheduled_for.replace(tzinfo=UTC) == SLOT
    found = samples(local_client(create_app(settings, engine, spool_thread=False)).get("/metrics").text)
    age = found[("digest_ledger_oldest_due_age_seconds",)]
    expected = (datetime.now(UTC) - SLOT).total_seconds()
    assert found[("digest_ledger_digests", ("state", "planned"))] == 1
    assert expected - 60 < age <= expected


def test_readyz_refuses_an_unmigrated_database_until_digest_init(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    settings = Settings(database_url=url, secret_key="k", outbox=str(tmp_path / "outbox"))
    engine = make_engine(url)
    try:
        client = local_client(create_app(settings, engine, spool_thread=False))
        assert client.get("/healthz").text == "ok"
        missing = client.get("/readyz")
        assert missing.status_code == 503 and "database not reachable" in missing.text
        with engine.begin() as conn:  # the file exists now, without the schema
            conn.exec_driver_sql("CREATE TABLE unrelated (id INTEGER)")
        unmigrated = client.get("/readyz")
        assert unmigrated.status_code == 503 and "migrations not current" in unmigrated.text
        assert str(tmp_path) not in unmigrated.text
        monkeypatch.setenv("DIGEST_DATABASE_URL", url)
        monkeypatch.setenv("DIGEST_SECRET_KEY", "k")
        result = CliRunner().invoke(main, ["init"])
        assert result.exit_code == 0, result.output
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.text == "ready"
        assert client.get("/healthz").status_code == 200
    finally:
        engine.dispose()


def test_json_log_lines_parse_and_carry_no_address():
    formatter = JsonFormatter(b"secret")
    try:
        raise ValueError("server said: 550 <Ana.Kim+news@Example.COM> unknown")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("digest.mailers", logging.WARNING, __file__, 1,
                               "send %s to %s failed; cc bo@b\u00fccher.example", ("k1", "ana.kim+news@example.com"),
                               exc_info)
    line = formatter.format(record)
    entry = json.loads(line)
    assert "\n" not in line and entry["level"] == "warning" and entry["logger"] == "digest.mailers"
    assert "@" not in line
    mark = address_mark(b"secret", "ana.kim+news@example.com")
    assert re.fullmatch(r"<addr:[0-9a-f]{12}>", mark)
    # The same address (any case) gets the same mark; another key, another mark.
    assert entry["message"].startswith(f"send k1 to {mark} failed") and mark in entry["exception"]
    assert address_mark(b"other", "ana.kim+news@example.com") != mark


class RefusingMailer(FileMailer):
    """Refuses every reader with a reply that quotes the address, as real servers do."""

    def send_one(self, message):
        return SendResult(Outcome.REJECTED, f"550 5.1.1 <{message.recipient}>: no such user", code=550,
                          enhanced="5.1.1")


def due_now(engine, tmp_path, readers: int) -> None:
    """Articles of the last days and `readers` daily readers whose send hour passed an hour ago (UTC)."""
    now = datetime.now(UTC)
    articles = [make_article(i) for i in range(3)]
    for i, article in enumerate(articles):
        article["published_at"] = (now - timedelta(hours=3 + i)).isoformat()
    load_articles(engine, tmp_path, articles)
    add_people(engine, [{"email": f"r{i}@example.com", "name": f"R{i}", "timezone": "UTC", "frequency": "daily",
                         "send_hour": (now - timedelta(hours=1)).hour, "companies": ["xAI"]} for i in range(readers)])


def command_env(url: str, tmp_path, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "PROMETHEUS_"))}
    env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET_KEY="k", DIGEST_OUTBOX=str(tmp_path / "outbox"),
               PYTHONPATH=str(ROOT), **settings)
    return env


def test_the_cli_logs_json_lines_without_the_addresses_a_server_quoted(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    due_now(engine, tmp_path, 2)
    engine.dispose()
    env = command_env(sqlite_url, tmp_path, DIGEST_LOG_FORMAT="json",
                      DIGEST_MAILER="tests.test_watch:RefusingMailer")
    proc = subprocess.run([sys.executable, "-m", "digest", "send", "--due", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout)["failed"] == 2, proc.stderr
    entries = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    refused = [e for e in entries if "no such user" in e["message"]]
    assert len(refused) == 2 and all(e["level"] == "warning" for e in refused)
    assert "@" not in proc.stderr
    marks = {re.search(r"<addr:[0-9a-f]{12}>", e["message"]).group(0) for e in refused}
    assert len(marks) == 2  # one mark per address: still tells them apart
    text = subprocess.run([sys.executable, "-m", "digest", "subscribers", "list"], capture_output=True, text=True,
                          env={**env, "DIGEST_LOG_FORMAT": "yaml"}, cwd=tmp_path, timeout=60)
    assert text.returncode == 2 and "DIGEST_LOG_FORMAT" in text.stderr


def test_text_log_lines_carry_no_address_either(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    due_now(engine, tmp_path, 2)
    engine.dispose()
    env = command_env(sqlite_url, tmp_path, DIGEST_MAILER="tests.test_watch:RefusingMailer")
    proc = subprocess.run([sys.executable, "-m", "digest", "-vv", "send", "--due", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout)["failed"] == 2, proc.stderr
    # -vv: the debug lines (the mailer's, naming each recipient) are scrubbed too.
    assert any(line.startswith("DEBUG digest.mailers: send ") for line in proc.stderr.splitlines())
    refused = [line for line in proc.stderr.splitlines() if line.startswith("WARNING ") and "no such user" in line]
    assert len(refused) == 2
    assert "@example.com" not in proc.stderr  # the readers' addresses (message ids are not addresses)
    assert len({re.search(r"<addr:[0-9a-f]{12}>", line).group(0) for line in refused}) == 2


def test_digest_serve_logs_json_lines_too(sqlite_url, tmp_path):
    port = free_port()
    env = command_env(sqlite_url, tmp_path, DIGEST_LOG_FORMAT="json")
    server = subprocess.Popen([sys.executable, "-m", "digest", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).text == "ready"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        server.terminate()
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    # uvicorn writes its access log to stdout, the rest to stderr.
    entries = [json.loads(line) for line in (out + err).splitlines() if line.startswith("{")]
    assert any("GET /readyz" in e["message"] and e["logger"] == "uvicorn.access" for e in entries), err
    assert any(e["logger"] == "uvicorn.error" for e in entries)
    # Only the command's own notice ("serving on ...") is not a log line.
    assert [line for line in (out + err).splitlines() if not line.startswith("{")] == \
        [line for line in err.splitlines() if line.startswith("serving on")]


def test_digest_scheduler_serves_metrics_on_its_port(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    due_now(engine, tmp_path, 4)
    port = free_port()
    env = command_env(sqlite_url, tmp_path, DIGEST_MAILER="file", DIGEST_METRICS_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "digest", "scheduler", "--json"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        found, deadline = {}, time.monotonic() + 60
        while time.monotonic() < deadline and not found.get(("digest_due_pass_last_timestamp_seconds",)):
            try:
                found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    ledger = ledger_states(engine)
    engine.dispose()
    assert found.get(("digest_due_pass_last_timestamp_seconds",)), err
    assert ledger.get("sent", 0) >= 1
    for state, count in ledger.items():
        assert total(found, "digest_digests_total", state=state) == count
        assert found[("digest_ledger_digests", ("state", state))] == count
    assert found[("digest_due_pass_duration_seconds",)] > 0
    assert total(found, "digest_render_seconds_count") == ledger["sent"]
    with pytest.raises(httpx.TransportError):  # stopped with the process
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


@pytest.mark.postgres
def test_a_worker_of_two_processes_serves_their_metrics_added_up(pg_url):
    engine = make_engine(pg_url)
    build_world(engine, subscribers=30)
    assert enqueue_due(Pipeline(engine, settings_for(pg_url, worker_batch=3)), AS_OF)["enqueued"] == 30
    port = free_port()
    with SMTPServer() as server:
        env = {k: v for k, v in worker_env(pg_url, server.port, DIGEST_METRICS_PORT=str(port)).items()
               if k != "PROMETHEUS_MULTIPROC_DIR"}
        worker = start_worker(env, "--processes", "2")
        try:
            found, deadline = {}, time.monotonic() + 120
            while time.monotonic() < deadline and total(found, "digest_digests_total", state="sent") < 30:
                try:
                    found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            worker.terminate()
            _out, err = worker.communicate(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == 0, err[-2000:]
    states = [row.state for row in ledger(pg_url)]
    engine.dispose()
    assert states.count("sent") == 30
    assert total(found, "digest_digests_total", state="sent") == 30
    assert total(found, "digest_send_seconds_count") == 30 == total(found, "digest_render_seconds_count")
    assert found[("digest_ledger_digests", ("state", "sent"))] == 30


def test_a_metrics_port_already_taken_is_a_configuration_error(sqlite_url, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = command_env(sqlite_url, tmp_path, DIGEST_MAILER="file", DIGEST_METRICS_PORT=str(port))
        proc = subprocess.run([sys.executable, "-m", "digest", "scheduler"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"DIGEST_METRICS_PORT {port}: cannot listen on 127.0.0.1:{port}" in proc.stderr
