"""Web writes under a database lock held by another process: nothing is lost, nothing answers 500.

A second process (sqlite3 in a subprocess) holds BEGIN EXCLUSIVE on the real database file, as a
`digest send` writing does; the app must wait DIGEST_WEB_WRITE_WAIT, then spool an unsubscribe
(and say it is done) or answer 503 with Retry-After for any other write.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from digest.config import load_settings
from digest.db import make_engine, sqlite_path
from digest.errors import ConfigError
from digest.mailers.memory import MemoryMailer
from digest.models import Digest, Subscriber, Suppression
from digest.pipeline import Pipeline
from digest.web import create_app
from digest.worker import DigestJob, run_inline
from subscribers import add_subscriber
from digest.spool import Spool, spool_folder
from tests.web_helpers import AS_OF, STAFF_TOKEN, LiveServer, build_seeded, copy_seeded, remote_client, settings_for

ANA = "ana@example.com"
ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"content-type": "application/x-www-form-urlencoded"}
READERS = 50

_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
if sys.argv[2] == "wait":
    sys.stdin.readline()
    conn.execute("ROLLBACK")
else:  # write and commit after a while, as a sending process does
    time.sleep(float(sys.argv[2]))
    conn.execute("UPDATE subscriber SET name = name")
    conn.execute("COMMIT")
"""


@contextmanager
def held_lock(url: str, commit_after: float | None = None):
    """Another process holds the database's write lock until the block ends (or, with
    `commit_after`, until it commits a write that many seconds later)."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(sqlite_path(url)),
                               "wait" if commit_after is None else str(commit_after)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.stdin.write("\n")
            holder.stdin.flush()
        holder.wait(10)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def world(seeded, tmp_path):
    url = copy_seeded(seeded, tmp_path)
    engine = make_engine(url)
    MemoryMailer.reset()
    yield url, engine
    engine.dispose()


def statuses(engine, ids) -> dict[int, str]:
    with Session(engine) as session:
        return dict(session.exec(select(Subscriber.id, Subscriber.status).where(Subscriber.id.in_(ids))).all())


def add_readers(engine, count: int) -> list[int]:
    with Session(engine) as session:
        made = [add_subscriber(session, email=f"reader{i}@example.com", companies=["OpenAI"]) for i in range(count)]
        session.commit()
        return [s.id for s in made]


def test_fifty_one_click_posts_under_a_held_lock_all_answer_200_and_every_reader_ends_unsubscribed(world, tmp_path):
    url, engine = world
    ids = add_readers(engine, READERS)
    settings = settings_for(url, tmp_path)  # DIGEST_WEB_WRITE_WAIT: the default, 2 s
    pipeline = Pipeline(engine, settings)
    links = [f"/unsubscribe/{pipeline.signer.make('unsubscribe', i)}" for i in ids]
    app = create_app(settings, engine)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        with held_lock(url):
            with ThreadPoolExecutor(READERS) as pool:
                answers = list(pool.map(lambda link: client.post(link, content=ONE_CLICK, headers=FORM), links))
            assert [a.status_code for a in answers] == [200] * READERS
            assert all("unsubscribed" in a.text for a in answers)
            # Nothing could be written yet: every request waits in the spool.
            assert set(statuses(engine, ids).values()) == {"active"}
            assert len(Spool(spool_folder(settings)).pending()) == READERS
        deadline = time.monotonic() + 60  # the web app's applier takes them once the lock is gone
        while set(statuses(engine, ids).values()) != {"unsubscribed"} and time.monotonic() < deadline:
            time.sleep(0.1)
    assert statuses(engine, ids) == {i: "unsubscribed" for i in ids}
    assert Spool(spool_folder(settings)).pending() == []


def _spooled_unsubscribe(url, engine, tmp_path, email=ANA) -> tuple[Pipeline, int]:
    """A one-click POST for `email` while another process holds the lock; the app's own applier is
    off, so only a send pass can apply the spool."""
    settings = settings_for(url, tmp_path, web_write_wait=0.2)
    pipeline = Pipeline(engine, settings)
    with Session(engine) as session:
        reader_id = session.exec(select(Subscriber.id).where(Subscriber.email_key == email)).one()
    client = remote_client(create_app(settings, engine, spool_thread=False))
    with held_lock(url):
        answer = client.post(f"/unsubscribe/{pipeline.signer.make('unsubscribe', reader_id)}", content=ONE_CLICK,
                             headers=FORM)
    assert answer.status_code == 200 and "unsubscribed" in answer.text
    assert statuses(engine, [reader_id]) == {reader_id: "active"}
    return pipeline, reader_id


@pytest.mark.parametrize("executor", ["send_due", "run_inline", "queue_job"])
def test_a_send_after_a_spooled_unsubscribe_does_not_mail_that_reader(world, tmp_path, executor):
    url, engine = world
    pipeline, reader_id = _spooled_unsubscribe(url, engine, tmp_path)
    if executor == "send_due":
        counts = pipeline.send_due(MemoryMailer(), AS_OF)
    elif executor == "run_inline":
        counts = run_inline(pipeline, MemoryMailer, AS_OF, concurrency=2)
    else:  # what a `digest worker` job does with the digests a due pass planned
        with Session(engine) as session:
            pipeline.plan_due(session, AS_OF)
            session.commit()
            planned = list(session.exec(select(Digest.id)).all())
        job = DigestJob(pipeline, MemoryMailer)
        try:
            counts = job(planned, AS_OF)
        finally:
            job.close()
    recipients = {m.recipient for m in MemoryMailer.outbox}
    assert counts.sent > 0 and ANA not in recipients
    assert statuses(engine, [reader_id]) == {reader_id: "unsubscribed"}
    assert pipeline.spool.pending() == []


def test_the_spool_holds_the_subscriber_id_and_never_the_address(world, tmp_path):
    url, engine = world
    pipeline, reader_id = _spooled_unsubscribe(url, engine, tmp_path)
    (path,) = pipeline.spool.pending()
    data = path.read_bytes()
    assert json.loads(data)["subscriber_id"] == reader_id
    assert b"@" not in data and b"ana" not in data.lower()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_damaged_spool_file_is_set_aside_and_the_others_are_applied(world, tmp_path):
    url, engine = world
    pipeline, reader_id = _spooled_unsubscribe(url, engine, tmp_path)
    folder = pipeline.spool.folder
    (folder / "00000000000000000001-bad.unsubscribe").write_text("{not json")
    with Session(engine) as session:
        assert pipeline.apply_spool(session) == 1
    assert statuses(engine, [reader_id]) == {reader_id: "unsubscribed"}
    assert sorted(p.name for p in folder.iterdir()) == ["00000000000000000001-bad.bad"]
    with Session(engine) as session:  # the suppression says where it came from
        assert [s.source for s in session.exec(select(Suppression))] == ["web"]


def test_preferences_post_under_a_held_lock_answers_503_with_retry_after_and_changes_nothing(world, tmp_path):
    url, engine = world
    settings = settings_for(url, tmp_path, web_write_wait=0.5)
    pipeline = Pipeline(engine, settings)
    with Session(engine) as session:
        reader = session.exec(select(Subscriber).where(Subscriber.email_key == ANA)).one()
    token = pipeline.signer.make("preferences", reader.id)
    client = remote_client(create_app(settings, engine))
    with held_lock(url):
        answer = client.post(f"/preferences/{token}", data={"token": token, "send_hour": "5"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    with Session(engine) as session:
        assert session.get(Subscriber, reader.id).send_hour == reader.send_hour
    # Once the lock is gone, the same form goes through.
    assert client.post(f"/preferences/{token}", data={"token": token, "send_hour": "5"}).status_code == 200
    with Session(engine) as session:
        assert session.get(Subscriber, reader.id).send_hour == 5


def _other_write(name: str, signer, reader_id: int) -> tuple[str, dict]:
    """(path, form) of a web write other than an unsubscribe."""
    if name == "feedback":
        token = signer.make("feedback", reader_id, extra={"k": "company", "n": "Nvidia", "d": "more"})
        return f"/feedback/{token}", {"token": token}
    if name == "confirm":
        return f"/confirm/{signer.make('confirm', reader_id)}", {}
    return "/login", {"token": STAFF_TOKEN}


@pytest.mark.parametrize("name", ["feedback", "confirm", "login"])
def test_other_web_writes_under_a_held_lock_answer_503_with_retry_after(world, tmp_path, name):
    url, engine = world
    settings = settings_for(url, tmp_path, web_write_wait=0.3, staff_token=STAFF_TOKEN)
    pipeline = Pipeline(engine, settings)
    with Session(engine) as session:
        reader_id = session.exec(select(Subscriber.id).where(Subscriber.email_key == ANA)).one()
    path, form = _other_write(name, pipeline.signer, reader_id)
    client = remote_client(create_app(settings, engine))
    with held_lock(url):
        answer = client.post(path, data=form)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert "set-cookie" not in answer.headers
    assert client.post(path, data=form).status_code == 200  # and once the lock is gone, it goes through


def test_a_spool_left_by_a_stopped_web_app_is_applied_when_the_next_one_starts(world, tmp_path):
    url, engine = world
    pipeline, reader_id = _spooled_unsubscribe(url, engine, tmp_path)
    create_app(settings_for(url, tmp_path), engine)  # its applier starts at once
    deadline = time.monotonic() + 30
    while statuses(engine, [reader_id])[reader_id] != "unsubscribed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert statuses(engine, [reader_id]) == {reader_id: "unsubscribed"}
    assert pipeline.spool.pending() == []


def test_web_writes_wait_for_a_lock_released_within_the_wait_and_succeed(world, tmp_path):
    # A deferred transaction would read, then find the database changed under it when the other
    # process commits, and fail at once instead of waiting: the writes must begin as writes.
    url, engine = world
    settings = settings_for(url, tmp_path, web_write_wait=20)
    pipeline = Pipeline(engine, settings)
    with Session(engine) as session:
        reader_id = session.exec(select(Subscriber.id).where(Subscriber.email_key == ANA)).one()
    client = remote_client(create_app(settings, engine))
    token = pipeline.signer.make("preferences", reader_id)
    with held_lock(url, commit_after=1):
        saved = client.post(f"/preferences/{token}", data={"token": token, "send_hour": "5"})
    with held_lock(url, commit_after=1):
        left = client.post(f"/unsubscribe/{pipeline.signer.make('unsubscribe', reader_id)}", content=ONE_CLICK,
                           headers=FORM)
    assert saved.status_code == 200 and left.status_code == 200
    assert pipeline.spool.pending() == []  # committed in place, not spooled
    with Session(engine) as session:
        reader = session.get(Subscriber, reader_id)
        assert (reader.send_hour, reader.status) == (5, "unsubscribed")


def test_the_spool_folder_defaults_beside_the_sqlite_file_and_follows_the_setting(tmp_path):
    settings = settings_for(f"sqlite:///{tmp_path / 'data' / 'digest.db'}", tmp_path)
    assert spool_folder(settings) == tmp_path / "data" / "spool"
    assert spool_folder(settings.replace(database_url="postgresql://db/digest")) == Path("var") / "spool"
    assert spool_folder(settings.replace(spool_dir=str(tmp_path / "q"))) == tmp_path / "q"


@pytest.mark.parametrize("name, value, expected", [
    ("DIGEST_WEB_WRITE_WAIT", "61", "DIGEST_WEB_WRITE_WAIT must be a number of seconds from 0 to 60"),
    ("DIGEST_WEB_WRITE_WAIT", "-1", "DIGEST_WEB_WRITE_WAIT must be a number of seconds from 0 to 60"),
    ("DIGEST_WEB_WRITE_WAIT", "nan", "DIGEST_WEB_WRITE_WAIT must be a number of seconds from 0 to 60"),
    ("DIGEST_STAFF_SESSION_HOURS", "0", "DIGEST_STAFF_SESSION_HOURS must be a whole number of hours from 1 to 720"),
    ("DIGEST_STAFF_SESSION_HOURS", "721", "DIGEST_STAFF_SESSION_HOURS must be a whole number of hours from 1 to 720"),
    ("DIGEST_SPOOL_DIR", " ", "DIGEST_SPOOL_DIR must be set (it is empty)"),
])
def test_web_settings_out_of_range_are_refused_with_what_to_fix(name, value, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_settings({name: value})


def test_web_settings_in_range_are_read():
    settings = load_settings({"DIGEST_WEB_WRITE_WAIT": "0", "DIGEST_STAFF_SESSION_HOURS": "720",
                              "DIGEST_SPOOL_DIR": "/srv/digest/spool"})
    assert (settings.web_write_wait, settings.staff_session_hours, settings.spool_dir) == (0, 720, "/srv/digest/spool")
    assert load_settings({}).web_write_wait == 2.0 and load_settings({}).staff_session_hours == 12


# -- PostgreSQL: SET LOCAL lock_timeout ------------------------------------------------------------

_PG_HOLDER = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    conn.execute("SELECT id FROM subscriber WHERE id = %s FOR UPDATE", (int(sys.argv[2]),))
    print("locked", flush=True)
    sys.stdin.readline()
    conn.rollback()
"""


@pytest.mark.postgres
def test_on_postgresql_a_locked_row_spools_the_unsubscribe_and_503s_other_writes(tmp_path):
    from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres
    from tests.web_helpers import ROOT

    require_postgres()
    url = create_postgres_database()
    try:
        from digest.db import upgrade
        from digest.ingest import ingest_files
        from subscribers import import_csv

        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            ingest_files(session, [ROOT / "seeds" / "articles.jsonl"])
            import_csv(session, ROOT / "seeds" / "subscribers.csv")
            session.commit()
            reader_id = session.exec(select(Subscriber.id).where(Subscriber.email_key == ANA)).one()
        settings = settings_for(url, tmp_path, web_write_wait=0.5, spool_dir=str(tmp_path / "spool"))
        pipeline = Pipeline(engine, settings)
        client = remote_client(create_app(settings, engine, spool_thread=False))
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        holder = subprocess.Popen([sys.executable, "-c", _PG_HOLDER, libpq, str(reader_id)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            left = client.post(f"/unsubscribe/{pipeline.signer.make('unsubscribe', reader_id)}", content=ONE_CLICK,
                               headers=FORM)
            token = pipeline.signer.make("preferences", reader_id)
            busy = client.post(f"/preferences/{token}", data={"token": token, "send_hour": "5"})
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(10)
        assert left.status_code == 200 and len(pipeline.spool.pending()) == 1
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert statuses(engine, [reader_id]) == {reader_id: "active"}
        with Session(engine) as session:
            assert pipeline.apply_spool(session) == 1
        assert statuses(engine, [reader_id]) == {reader_id: "unsubscribed"}
        engine.dispose()
    finally:
        drop_postgres_database(url)
