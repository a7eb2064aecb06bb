"""A database a command cannot work on (missing, without the schema or with an older one, unreachable,
locked) stops it with exit 2 and what to do, before it does anything; only `digest init` creates one."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest.db import alembic_config, schema_revisions, upgrade
from tests.conftest import (POSTGRES_ADMIN_URL, ROOT, create_postgres_database, drop_postgres_database,
                            require_postgres)

AS_OF = "2026-11-23T20:00:00Z"


def digest(env, *args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "digest", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def environment(url: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=url, DIGEST_OUTBOX=str(home / "outbox"), DIGEST_SECRET_KEY="k",
               DIGEST_MAILER="file", DIGEST_GRACE_HOURS="48")
    return env


def refused(env, *args, cwd) -> str:
    proc = digest(env, *args, cwd=cwd)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stderr


def seed(env, home) -> None:
    for args in (["init"], ["ingest", str(ROOT / "seeds/articles.jsonl")],
                 ["subscribers", "import", str(ROOT / "seeds/subscribers.csv")]):
        proc = digest(env, *args, cwd=home)
        assert proc.returncode == 0, proc.stderr


def ledger_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM digest").fetchone()[0]


@pytest.mark.parametrize("command", [["send", "--due", "--as-of", AS_OF], ["subscribers", "list"],
                                     ["preview", "ana@example.com", "--as-of", AS_OF], ["companies", "list"]])
def test_a_sqlite_file_in_a_missing_folder_is_not_created_and_the_command_says_run_init(tmp_path, command):
    # Before: the folder and an empty database were created, then "no such table" as a traceback.
    path = tmp_path / "typo" / "digest.db"
    stderr = refused(environment(f"sqlite:///{path}", tmp_path), *command, cwd=tmp_path)
    assert f"the database {path} does not exist: run `digest init` to create it" in stderr
    assert not path.parent.exists()


def test_init_still_creates_the_folder_and_the_database_and_then_commands_work(tmp_path):
    path = tmp_path / "var" / "digest.db"
    env = environment(f"sqlite:///{path}", tmp_path)
    assert digest(env, "init", cwd=tmp_path).returncode == 0
    proc = digest(env, "subscribers", "list", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_an_empty_sqlite_file_without_the_schema_says_run_init_and_stays_empty(tmp_path):
    path = tmp_path / "digest.db"
    path.touch()
    stderr = refused(environment(f"sqlite:///{path}", tmp_path), "send", "--as-of", AS_OF, cwd=tmp_path)
    assert "has no schema yet: run `digest init` first" in stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_a_file_that_is_not_a_database_is_named_as_such(tmp_path):
    path = tmp_path / "digest.db"
    path.write_text("these are notes, not a database\n" * 100)
    stderr = refused(environment(f"sqlite:///{path}", tmp_path), "subscribers", "list", cwd=tmp_path)
    assert "is not a SQLite database file" in stderr


def test_an_older_schema_revision_says_run_init_and_init_upgrades_it(tmp_path):
    from alembic import command

    path = tmp_path / "digest.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), schema_revisions()[0])
    env = environment(url, tmp_path)
    stderr = refused(env, "send", "--as-of", AS_OF, cwd=tmp_path)
    assert (f"has an older schema (revision {schema_revisions()[0]}, this version needs {schema_revisions()[-1]}): "
            "run `digest init` to upgrade it") in stderr
    assert digest(env, "init", cwd=tmp_path).returncode == 0
    assert digest(env, "send", "--as-of", AS_OF, cwd=tmp_path).returncode == 0


def test_a_schema_revision_this_version_does_not_know_is_refused(tmp_path):
    path = tmp_path / "digest.db"
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    stderr = refused(environment(f"sqlite:///{path}", tmp_path), "send", "--as-of", AS_OF, cwd=tmp_path)
    assert "schema revision 9999_from_the_future, which this version of digest does not know" in stderr


def test_the_schema_check_reads_the_same_revisions_as_alembic():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert schema_revisions() == tuple(reversed([r.revision for r in script.walk_revisions()]))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize("command", [["send", "--due", "--as-of", AS_OF], ["subscribers", "list"], ["init"]])
def test_an_unreachable_postgresql_says_so_without_the_password(tmp_path, command):
    url = f"postgresql://digest:s3cret-pw@127.0.0.1:{closed_port()}/digest"
    stderr = refused(environment(url, tmp_path), *command, cwd=tmp_path)
    assert "cannot reach the database at postgresql+psycopg://digest:***@127.0.0.1:" in stderr
    assert "Connection refused" in stderr and "s3cret-pw" not in stderr


@pytest.mark.postgres
def test_a_postgresql_database_without_the_schema_says_run_init(tmp_path):
    require_postgres()
    url = create_postgres_database()
    try:
        stderr = refused(environment(url, tmp_path), "send", "--as-of", AS_OF, cwd=tmp_path)
        assert "has no schema yet: run `digest init` first" in stderr
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        engine.dispose()
    finally:
        drop_postgres_database(url)


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes our stdin
conn.execute("ROLLBACK")
"""


def test_a_send_against_a_database_another_process_holds_locked_exits_2_and_records_nothing(tmp_path):
    path = tmp_path / "digest.db"
    env = environment(f"sqlite:///{path}", tmp_path)
    seed(env, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        stderr = refused({**env, "DIGEST_DB_BUSY_TIMEOUT": "1"}, "send", "--due", "--as-of", AS_OF, cwd=tmp_path)
        assert "the database is locked by another process (gave up after 1 s; DIGEST_DB_BUSY_TIMEOUT" in stderr
        stderr = refused({**env, "DIGEST_DB_BUSY_TIMEOUT": "1"}, "subscribers", "add", "new@example.com",
                         cwd=tmp_path)
        assert "the database is locked by another process" in stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert ledger_rows(path) == 0 and not list((tmp_path / "outbox").glob("*.eml"))
    # Once the lock is gone the same send goes through.
    assert digest(env, "send", "--due", "--as-of", AS_OF, cwd=tmp_path).returncode == 0
    assert ledger_rows(path) > 10


@pytest.mark.postgres
def test_a_postgresql_role_without_rights_on_the_schema_is_told_so_not_told_to_run_init(tmp_path):
    require_postgres()
    url = create_postgres_database()
    role = "digest_norights_" + sa.engine.make_url(url).database.rsplit("_", 1)[-1]
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    try:
        upgrade(url)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
            conn.exec_driver_sql(f'REVOKE ALL ON alembic_version FROM PUBLIC, "{role}"')
        as_role = sa.engine.make_url(url).set(username=role).render_as_string(hide_password=False)
        stderr = refused(environment(as_role, tmp_path), "subscribers", "list", cwd=tmp_path)
        assert "cannot read the schema revision of the database at" in stderr
        assert "permission denied" in stderr and "digest init" not in stderr
    finally:
        admin.dispose()
        drop_postgres_database(url)
        cleanup = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with cleanup.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        cleanup.dispose()
