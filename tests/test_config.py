"""Settings are checked when they load: a value that cannot work stops every command with exit 2 and
a message naming the variable (or file and key) and what a valid value looks like; nothing is sent."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import RULES, Settings, load_settings
from digest.errors import ConfigError
from tests.conftest import ROOT

AS_OF = "2026-11-23T20:00:00Z"  # after every Monday 08:00 slot of the seed subscribers


def digest(env, *args, cwd):
    return subprocess.run([sys.executable, "-m", "digest", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A SQLite database with the seed articles and subscribers and an empty ledger (made once: every
    test here must leave the ledger empty, and asserts that it did)."""
    home = tmp_path_factory.mktemp("config")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=f"sqlite:///{home / 'digest.db'}", DIGEST_OUTBOX=str(home / "outbox"),
               DIGEST_SECRET_KEY="k", DIGEST_MAILER="file", DIGEST_GRACE_HOURS="48")
    for args in (["init"], ["ingest", str(ROOT / "seeds/articles.jsonl")],
                 ["subscribers", "import", str(ROOT / "seeds/subscribers.csv")]):
        proc = digest(env, *args, cwd=home)
        assert proc.returncode == 0, proc.stderr
    proc = digest(env, "send", "--dry-run", "--as-of", AS_OF, "--json", cwd=home)
    assert json.loads(proc.stdout)["due"] > 10  # the refused sends below would have sent mail
    return env, home


def ledger_rows(home: Path) -> int:
    with sqlite3.connect(home / "digest.db") as conn:
        return conn.execute("SELECT count(*) FROM digest").fetchone()[0]


def refused_send(seeded, extra_env: dict, *, cwd: Path | None = None, process: bool = False):
    """Run `digest send` with the extra settings (in a subprocess, or through click's runner, which is
    quicker); assert exit 2, no mail, no ledger row; return stderr."""
    env, home = seeded
    if process:
        proc = digest({**env, **extra_env}, "send", "--due", "--as-of", AS_OF, cwd=cwd or home)
        code, stderr = proc.returncode, proc.stderr
    else:
        environ = {k: None for k in os.environ if k.startswith("DIGEST_")} | env | extra_env
        previous = Path.cwd()
        os.chdir(cwd or home)
        try:
            result = CliRunner().invoke(main, ["send", "--due", "--as-of", AS_OF], env=environ, catch_exceptions=False)
        finally:
            os.chdir(previous)
        code, stderr = result.exit_code, result.stderr
    assert code == 2, (code, stderr)
    assert "Traceback" not in stderr
    assert ledger_rows(home) == 0
    assert not list((home / "outbox").glob("*.eml"))
    return stderr


# The cases, then one per kind of rule: (settings, what the message must say).
REFUSED = [
    ({"DIGEST_MAILER": "smtp", "DIGEST_SMTP_TIMEOUT": "-1"},
     "DIGEST_SMTP_TIMEOUT must be a number of seconds greater than 0 and at most 86400, like 30, not '-1'"),
    ({"DIGEST_MAX_ATTEMPTS": "0"}, "DIGEST_MAX_ATTEMPTS must be a whole number from 1 to 20, not '0'"),
    ({"DIGEST_SMTP_PORT": "70000"}, "DIGEST_SMTP_PORT must be a port from 1 to 65535, not '70000'"),
    ({"DIGEST_WEIGHT_NOVELTY": "nan"}, "DIGEST_WEIGHT_NOVELTY must be a number from 0 to 1000"),
    ({"DIGEST_FROM": "AMW <digest@amw.example>\r\nBcc: all@example.com"},
     "DIGEST_FROM must be one address on a single line (no line breaks or control characters)"),
    ({"DIGEST_FROM": "a@amw.example, b@amw.example"}, "DIGEST_FROM must be one address like"),
    ({"DIGEST_SMTP_TIMEOUT": "inf"}, "DIGEST_SMTP_TIMEOUT must be a number of seconds greater than 0"),
    # Past these, sockets, timedelta or datetime overflow (a timeval; a backoff beyond the year 9999).
    ({"DIGEST_SMTP_TIMEOUT": "1e20"},
     "DIGEST_SMTP_TIMEOUT must be a number of seconds greater than 0 and at most 86400"),
    ({"DIGEST_MAX_ATTEMPTS": "40"}, "DIGEST_MAX_ATTEMPTS must be a whole number from 1 to 20, not '40'"),
    ({"DIGEST_SMTP_RATE_LIMIT": "-5"}, "DIGEST_SMTP_RATE_LIMIT must be a number of messages per second, 0 or more"),
    ({"DIGEST_SMTP_CONNECTIONS": "0"}, "DIGEST_SMTP_CONNECTIONS must be a whole number of at least 1"),
    ({"DIGEST_LOOKBACK_DAYS": "0"}, "DIGEST_LOOKBACK_DAYS must be a whole number of days from 1 to 3650"),
    ({"DIGEST_LOOKBACK_DAYS": "1000000"}, "DIGEST_LOOKBACK_DAYS must be a whole number of days from 1 to 3650"),
    ({"DIGEST_GRACE_HOURS": "-1"}, "DIGEST_GRACE_HOURS must be a whole number of hours from 0 to 8760"),
    ({"DIGEST_WEIGHT_NOVELTY": "0", "DIGEST_WEIGHT_SIGNIFICANCE": "0"},
     "DIGEST_WEIGHT_NOVELTY and DIGEST_WEIGHT_SIGNIFICANCE are both 0"),
    ({"DIGEST_BASE_URL": "javascript:alert(1)"}, "DIGEST_BASE_URL must be an http:// or https:// URL with a host"),
    ({"DIGEST_BASE_URL": "https://digest.example.com/\r\nX: y"}, "DIGEST_BASE_URL must be a single line"),
    ({"DIGEST_EXECUTOR": "celery"}, "DIGEST_EXECUTOR must be inline or queue, not 'celery'"),
    ({"DIGEST_SMTP_SECURITY": "tls"}, "DIGEST_SMTP_SECURITY must be none, starttls or ssl, not 'tls'"),
    ({"DIGEST_UNSUBSCRIBE_MAILTO": "Unsub <u@amw.example>"}, "DIGEST_UNSUBSCRIBE_MAILTO must be a bare address"),
    ({"DIGEST_COMPANY_URL": "https://amw.example/{company}"}, "DIGEST_COMPANY_URL must be a URL whose only "
                                                              "placeholder is {slug}"),
    ({"DIGEST_WORKER_BATCH": "two"}, "DIGEST_WORKER_BATCH must be a whole number, not 'two'"),
    ({"DIGEST_DB_BUSY_TIMEOUT": "0"}, "DIGEST_DB_BUSY_TIMEOUT must be a number of seconds greater than 0"),
]


@pytest.mark.parametrize("extra_env, message", REFUSED, ids=[next(iter(e)) + "=" + repr(e[next(iter(e))])[:20]
                                                             for e, _ in REFUSED])
def test_send_with_an_unusable_setting_exits_2_names_it_and_records_nothing(seeded, extra_env, message):
    assert message in refused_send(seeded, extra_env)


@pytest.mark.parametrize("extra_env, message", [REFUSED[0], REFUSED[4]], ids=["smtp-timeout", "from-line-break"])
def test_the_real_command_refuses_the_reported_settings_with_exit_2(seeded, extra_env, message):
    # Before: the timeout marked every digest `failed`; the line break ended in exit 1 per digest.
    assert message in refused_send(seeded, extra_env, process=True)


def test_a_digest_config_that_names_a_missing_file_is_refused_instead_of_running_on_defaults(seeded, tmp_path):
    # Before: the send ran on the defaults (the file mailer) and recorded every digest as sent.
    stderr = refused_send(seeded, {"DIGEST_CONFIG": str(tmp_path / "prod.toml")}, process=True)
    assert f"DIGEST_CONFIG={tmp_path / 'prod.toml'}: no such file" in stderr


def test_a_digest_config_that_names_a_folder_or_an_unreadable_file_is_refused(seeded, tmp_path):
    assert "not a file" in refused_send(seeded, {"DIGEST_CONFIG": str(tmp_path)})
    unreadable = tmp_path / "digest.toml"
    unreadable.write_bytes(b'mailer = "smtp"\nfrom = "\xff\xfe"\n')
    assert f"{unreadable}: not UTF-8 text" in refused_send(seeded, {"DIGEST_CONFIG": str(unreadable)})


def test_a_toml_key_of_the_wrong_type_names_the_file_and_the_key(seeded, tmp_path):
    (tmp_path / "digest.toml").write_text('smtp_port = "25"\n', encoding="utf-8")
    stderr = refused_send(seeded, {}, cwd=tmp_path)  # the implicit ./digest.toml
    assert "digest.toml: smtp_port must be a whole number, not '25'" in stderr
    config = tmp_path / "other.toml"
    config.write_text('max_attempts = 2.5\n', encoding="utf-8")
    stderr = refused_send(seeded, {"DIGEST_CONFIG": str(config)})
    assert f"{config}: max_attempts must be a whole number, not 2.5" in stderr


def test_a_toml_value_in_range_is_checked_like_the_environment_and_names_the_file(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('smtp_timeout = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{config}: smtp_timeout must be a number of seconds greater than 0"):
        load_settings({}, config)


def test_a_missing_implicit_digest_toml_is_fine_and_the_defaults_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}) == Settings()


def test_the_valid_values_operators_use_keep_working(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('smtp_timeout = 10\nfrom = "Büro Digest <büro@amw.example>"\nexecutor = "Queue"\n',
                      encoding="utf-8")
    settings = load_settings({"DIGEST_CONFIG": str(config), "DIGEST_SMTP_PORT": "587", "DIGEST_WEIGHT_NOVELTY": "0",
                              "DIGEST_GRACE_HOURS": "0", "DIGEST_SMTP_RATE_LIMIT": "0",
                              "DIGEST_STAFF_ADDRESSES": "a@amw.example, b@amw.example",
                              "DIGEST_BASE_URL": "https://digest.amw.example/app"})
    assert (settings.smtp_timeout, settings.smtp_port) == (10.0, 587)
    assert (settings.weight_novelty, settings.grace_hours) == (0, 0)
    assert settings.from_address == "Büro Digest <büro@amw.example>" and settings.executor == "queue"
    assert load_settings({"DIGEST_DB_BUSY_TIMEOUT": "1.5"}).db_busy_timeout == 1.5


def test_every_numeric_setting_has_a_range_rule():
    numeric = {f.name for f in fields(Settings) if any(k in str(f.type) for k in ("int", "float"))}
    assert numeric - set(RULES) == set()
    assert set(RULES) <= {f.name for f in fields(Settings)}
