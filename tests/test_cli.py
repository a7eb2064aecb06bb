"""The operator contract through the real `digest` command: JSON output, exit codes, idempotent sends."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email import policy

import pytest

from tests.conftest import ROOT

AS_OF = "2026-11-23T20:00:00Z"  # after every Monday 08:00 slot of the seed subscribers


def digest(env, *args, check=None, timeout=120):
    proc = subprocess.run([sys.executable, "-m", "digest", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=env["_CWD"])
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def env(tmp_path, db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_OUTBOX=str(tmp_path / "outbox"), DIGEST_SECRET_KEY="k",
               DIGEST_MAILER="file", DIGEST_GRACE_HOURS="48", _CWD=str(tmp_path))
    return env


@pytest.fixture
def seeded(env):
    digest(env, "init", check=0)
    digest(env, "ingest", str(ROOT / "seeds/articles.jsonl"), check=0)
    digest(env, "subscribers", "import", str(ROOT / "seeds/subscribers.csv"), check=0)
    return env


def test_ingest_json_reports_counts_and_rejects_with_exit_1(env, tmp_path):
    digest(env, "init", check=0)
    bad = tmp_path / "bad.jsonl"
    good = json.loads((ROOT / "seeds/articles.jsonl").read_text(encoding="utf-8").splitlines()[0])
    bad.write_text(json.dumps(good) + "\n" + json.dumps({**good, "url": "https://amw.example/x", "scores": {}}) + "\n")
    proc = digest(env, "ingest", "--json", str(bad), check=1)
    result = json.loads(proc.stdout)
    assert result["stored"] == 1 and result["updated"] == 0
    assert result["rejected"] == [{"file": str(bad), "line": 2, "error": result["rejected"][0]["error"]}]
    assert result["rejected"][0]["error"].startswith("scores.novelty:")
    assert f"{bad}:2: scores.novelty:" in proc.stderr


def test_bad_configuration_exits_2_with_what_to_fix(env):
    proc = digest({**env, "DIGEST_SMTP_SECURITY": "tls"}, "send")
    assert proc.returncode == 2 and "DIGEST_SMTP_SECURITY must be none, starttls or ssl" in proc.stderr
    # With --json the same error is the command's one JSON object, as for errors found later.
    proc = digest({**env, "DIGEST_SMTP_SECURITY": "tls"}, "send", "--json")
    assert proc.returncode == 2
    assert "DIGEST_SMTP_SECURITY must be none, starttls or ssl" in json.loads(proc.stdout)["error"]


def test_send_twice_at_the_same_time_sends_each_digest_once(seeded, tmp_path):
    first = json.loads(digest(seeded, "send", "--due", "--as-of", AS_OF, "--json", check=0).stdout)
    second = json.loads(digest(seeded, "send", "--due", "--as-of", AS_OF, "--json", check=0).stdout)
    assert first["sent"] > 10
    assert second == {"due": 0, "sent": 0, "skipped": 0, "failed": 0, "deferred": 0}
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == first["sent"]
    recipients = [email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
                  for f in files]
    assert len(recipients) == len(set(recipients))


def test_two_overlapping_send_processes_never_send_one_digest_twice(seeded, tmp_path):
    cmd = [sys.executable, "-m", "digest", "send", "--due", "--as-of", AS_OF, "--json"]
    procs = [subprocess.Popen(cmd, env=seeded, cwd=seeded["_CWD"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert sum(r["sent"] for r in results) == len(files) > 10
    recipients = [email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
                  for f in files]
    assert len(recipients) == len(set(recipients))


def test_preview_writes_the_eml_and_sends_nothing(seeded, tmp_path):
    out = tmp_path / "ana.eml"
    proc = digest(seeded, "preview", "ana@example.com", "--as-of", AS_OF, "--format", "eml", "--out", str(out),
                  "--json", check=0)
    summary = json.loads(proc.stdout)
    msg = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    html = msg.get_body(("html",)).get_content()
    assert summary["articles"] >= 1
    for choice in summary["choices"]:
        assert choice["url"] in html
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))


def test_preview_of_an_unknown_address_exits_2(seeded):
    proc = digest(seeded, "preview", "nobody@example.com", "--as-of", AS_OF)
    assert proc.returncode == 2 and "no subscriber" in proc.stderr


def test_an_as_of_outside_the_years_2000_to_2100_exits_2_on_every_command_and_records_nothing(seeded, tmp_path):
    # Before: an OverflowError traceback from the slot arithmetic (or from the conversion to UTC).
    cases = [(["send", "--due"], "9999-12-31T20:00Z"), (["send", "--due"], "9999-12-31T20:00-05:00"),
             (["send", "--due"], "1970-01-01T00:00Z"), (["preview", "ana@example.com"], "9999-12-31T20:00Z"),
             (["scheduler", "--once"], "9999-12-31T20:00Z")]
    for command, as_of in cases:
        proc = digest(seeded, *command, "--as-of", as_of)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (command, proc.stderr)
        assert f"--as-of {as_of!r} is outside the years 2000 to 2100" in proc.stderr
    planned = json.loads(digest(seeded, "send", "--dry-run", "--as-of", AS_OF, "--json", check=0).stdout)
    assert planned["due"] > 10 and not (tmp_path / "outbox").exists()  # nothing was planned or sent


def test_an_as_of_at_the_edges_of_the_range_works(seeded):
    for as_of in ("2000-01-01T00:00:00+14:00", "2100-12-31T23:59:59-12:00"):
        proc = digest(seeded, "send", "--dry-run", "--as-of", as_of, "--json", check=0)
        assert json.loads(proc.stdout)["dry_run"] is True


def test_subscriber_commands_refuse_the_host_dependent_time_zone_localtime(seeded, tmp_path):
    # `localtime` is whatever zone the server is set to: the reader's send hour would move with the host.
    # (posixrules and Factory are refused by the same list: tests/test_schedule.py)
    name = "localtime"
    proc = digest(seeded, "subscribers", "add", "zed@example.com", "--timezone", name, check=1)
    assert f"timezone: unknown IANA time zone {name!r}" in proc.stderr
    proc = digest(seeded, "subscribers", "set", "ana@example.com", "--timezone", name, check=1)
    assert f"timezone: unknown IANA time zone {name!r}" in proc.stderr
    csv = tmp_path / "people.csv"
    csv.write_text("email,timezone\nzed@example.com," + name + "\n", encoding="utf-8")
    proc = digest(seeded, "subscribers", "import", str(csv), check=1)
    assert f"{csv}:2: timezone: unknown IANA time zone {name!r}" in proc.stderr
    shown = json.loads(digest(seeded, "subscribers", "show", "ana@example.com", "--json", check=0).stdout)
    assert shown["subscriber"]["timezone"] == "Asia/Seoul"
    assert digest(seeded, "subscribers", "show", "zed@example.com").returncode == 2
