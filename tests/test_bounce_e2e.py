"""From `digest send` to `digest mailbox poll` through real MTAs: a private Postfix on loopback
accepts mail for readers it does not know, bounces it later with genuine DSNs (RET=HDRS, ENVID) to
each message's VERP address, and delivers those into the bounce mailbox (a real dovecot); one poll
suppresses exactly those readers, and the next send skips them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

from sqlmodel import Session, select

from digest.models import Subscriber, Suppression
from tests.imap_server import imap_server  # noqa: F401 (the fixture)
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.postfix_server import BOUNCING_DOMAIN, DELIVERING_DOMAIN, postfix_relay  # noqa: F401 (the fixture)

KNOWN = [f"reader{n}@{DELIVERING_DOMAIN}" for n in (1, 2)]
UNKNOWN = [f"gone-reader{n}@{BOUNCING_DOMAIN}" for n in (1, 2, 3)]


def test_genuine_dsns_from_a_real_relay_suppress_exactly_the_unknown_readers(postfix_relay, imap_server, engine,  # noqa: F811
                                                                             db_url, tmp_path):
    # Stories for this week's issue and for the next one's.
    load_articles(engine, tmp_path, [make_article(i) for i in range(4)] +
                  [make_article(i, days_before=-6) for i in range(10, 14)])
    add_people(engine, [{"email": a, "name": "Reader", "companies": ["xAI"]} for a in KNOWN + UNKNOWN])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k", DIGEST_FROM="AMW Digest <digest@amw.example>",
               DIGEST_MAILER="smtp", DIGEST_SMTP_HOST=postfix_relay.host, DIGEST_SMTP_PORT=str(postfix_relay.port),
               DIGEST_MAILBOX_HOST=imap_server.host, DIGEST_MAILBOX_PORT=str(imap_server.port),
               DIGEST_MAILBOX_SECURITY="none", DIGEST_MAILBOX_USERNAME=imap_server.username,
               DIGEST_MAILBOX_PASSWORD=imap_server.password)

    def digest(*args):
        proc = subprocess.run([sys.executable, "-m", "digest", *args, "--json"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        return json.loads(proc.stdout)

    sent = digest("send", "--due", "--as-of", SLOT.isoformat())
    assert sent["sent"] == 5, sent  # Postfix accepted all five at RCPT
    deadline = time.monotonic() + 60
    while (imap_server.count() < 3 or postfix_relay.delivered_count() < 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert imap_server.count() == 3 and postfix_relay.delivered_count() == 2, postfix_relay.log()

    # The bounces came back small (RET=HDRS: the headers, not the digest) and carry our ENVID.
    bounces = [p.read_bytes() for p in (imap_server.maildir / "new").iterdir()]
    assert all(len(b) < 8000 and b"Original-Envelope-Id:" in b and b"Status: 5.1.1" in b for b in bounces)

    assert digest("mailbox", "poll") == {"processed": 3, "hard_bounces": 3, "soft_bounces": 0, "complaints": 0,
                                         "unsubscribes": 0, "ignored": 0, "unknown": 0}
    with Session(engine) as session:
        status = {s.email: s.status for s in session.exec(select(Subscriber))}
        evidence = {s.email_key: (s.source, s.status_code) for s in session.exec(select(Suppression))}
    assert {a for a, st in status.items() if st == "bounced"} == set(UNKNOWN)
    assert evidence == {a: ("dsn", "5.1.1") for a in UNKNOWN}

    following = digest("send", "--due", "--as-of", (SLOT + timedelta(days=7)).isoformat())
    assert following["sent"] == 2, following
    deadline = time.monotonic() + 30
    while postfix_relay.delivered_count() < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert postfix_relay.delivered_count() == 4 and imap_server.count() == 0  # no new bounce: nobody dead was mailed
