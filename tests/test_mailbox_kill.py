"""`digest mailbox poll` killed with SIGKILL in the middle of a mailbox, then run again: every
message's effect is applied exactly once and every message ends in the done folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sqlmodel import Session, func, select

from digest.models import DeliveryEvent, Suppression
from tests.imap_server import imap_server  # noqa: F401 (the fixture)
from tests.test_mailbox import dsn

MESSAGES = 400


def test_a_poll_killed_mid_mailbox_and_rerun_applies_every_message_exactly_once(imap_server, engine, db_url,  # noqa: F811
                                                                                  tmp_path):
    for n in range(MESSAGES):
        imap_server.deliver(dsn(f"kill{n}", "digest@amw.example", f"gone{n}@example.com", "failed", "5.1.1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k", DIGEST_MAILBOX_HOST="127.0.0.1",
               DIGEST_MAILBOX_PORT=str(imap_server.port), DIGEST_MAILBOX_SECURITY="none",
               DIGEST_MAILBOX_USERNAME=imap_server.username, DIGEST_MAILBOX_PASSWORD=imap_server.password)
    command = [sys.executable, "-m", "digest", "mailbox", "poll", "--json"]
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while imap_server.count("Processed") < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    moved = imap_server.count("Processed")
    assert 0 < moved < MESSAGES, f"the kill should land mid-mailbox, {moved} of {MESSAGES} were moved"

    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads(rerun.stdout)
    # The rerun reads what was left, including a message whose effect was committed just before the kill
    # but not yet moved: it is moved now, and its event key (already in) keeps it from applying twice.
    assert counts["processed"] == MESSAGES - moved
    assert imap_server.count() == 0 and imap_server.count("Processed") == MESSAGES
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(DeliveryEvent)).one() == MESSAGES
        assert session.exec(select(func.count()).select_from(Suppression)).one() == MESSAGES
        assert {s.email_key for s in session.exec(select(Suppression))} == \
            {f"gone{n}@example.com" for n in range(MESSAGES)}
