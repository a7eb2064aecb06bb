"""Helpers for the web tests: a seeded database, app clients as local or remote visitors, a live server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlmodel import Session, select

from digest.config import Settings
from digest.db import make_engine, upgrade
from digest.models import Digest, Subscriber

ROOT = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)  # the seed week ends 2026-11-23
AS_OF_TEXT = "2026-11-23T20:00"
SECRET = "web-test-secret"
STAFF_TOKEN = "staff-token-for-tests-0123456789"


def build_seeded(folder: Path) -> Path:
    """A migrated SQLite file holding the seed articles and subscribers; returns its path."""
    from digest.ingest import ingest_files
    from subscribers import import_csv

    path = folder / "seeded.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        ingest_files(session, [ROOT / "seeds" / "articles.jsonl"])
        report = import_csv(session, ROOT / "seeds" / "subscribers.csv")
        assert not report.rejected, report.rejected
        session.commit()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def copy_seeded(template: Path, folder: Path) -> str:
    """A private copy of the seeded database (copying is much faster than seeding); returns its URL."""
    target = folder / "digest.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def settings_for(url: str, folder: Path, **changes) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, mailer="memory", outbox=str(folder / "outbox"),
                    base_url="http://127.0.0.1:8000", **changes)


def local_client(app, **kwargs):
    """A client that reaches the app as a browser on the same machine does."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 40000), **kwargs)


def remote_client(app, **kwargs):
    """A client from another machine (what a public deployment sees)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="https://digest.amw.example", client=("203.0.113.7", 40000), **kwargs)


def subscriber_id(engine, email: str) -> int:
    with Session(engine) as session:
        return session.exec(select(Subscriber.id).where(Subscriber.email_key == email.casefold())).one()


def mark_sent(engine, pipeline, email: str, when: datetime = AS_OF) -> Digest:
    """Record the subscriber's issue for `when` as sent (as a due pass would), without sending it."""
    sid = subscriber_id(engine, email)
    with Session(engine) as session:
        subscriber = session.get(Subscriber, sid)
        slot = pipeline.slot_for(subscriber, when)
        row = Digest(subscriber_id=sid, period=slot.period, scheduled_for=slot.scheduled_for, state="sent",
                     sent_at=slot.scheduled_for + timedelta(minutes=1))
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn serving the app on a free loopback port in a background thread."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False,
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
