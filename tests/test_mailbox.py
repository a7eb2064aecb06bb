"""The bounce mailbox read over IMAP (issue 17, item 2): `digest mailbox poll` against a real
dovecot on loopback, with DSNs, a plain-text bounce, an ARF complaint, an out-of-office reply and
mailto unsubscribes (one forged) delivered into its maildir. Real `digest` subprocesses, both
databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from sqlmodel import Session, select

from digest.cli.common import App
from digest.cli.ops import _jobs
from digest.config import Settings
from digest.envelope import Envelope
from digest.mailbox import connect, poll
from digest.models import DeliveryEvent, Digest, Subscriber, Suppression
from digest.tokens import signer_from_settings
from tests.imap_server import imap_server  # noqa: F401 (the fixture)
from tests.pipeline_helpers import add_people

ANA, BO, CY, DI, EV, FAY, GUS = (f"{n}@example.com" for n in ("ana", "bo", "cy", "di", "ev", "fay", "gus"))
SETTINGS = Settings(secret_key="k")
SIGNER = signer_from_settings(SETTINGS)
ENVELOPE = Envelope(SIGNER, local="bounces", domain="amw.example", mailto_address="unsubscribe@amw.example")
DATE = "Sun, 06 Dec 2026 03:00:00 +0000"


def dsn(mid: str, to: str, recipient: str, action: str, status: str, envid: str | None = None) -> bytes:
    envid_line = f"Original-Envelope-Id: {envid}\n" if envid else ""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {to}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{mid}@mx.example.net>
Date: {DATE}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.net. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
{envid_line}Arrival-Date: {DATE}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {'550 5.1.1 user unknown' if status.startswith('5') else '451 4.4.1 no answer from host'}

--B
Content-Type: text/rfc822-headers

From: AMW Digest <digest@amw.example>
To: {recipient}
Subject: Your weekly digest

--B--
""".replace("\n", "\r\n").encode()


def message(headers: dict, body: str) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Date": DATE, **headers}.items())
    return (head + "\r\n" + body.replace("\n", "\r\n")).encode()


@pytest.fixture
def world(engine, db_url, tmp_path, imap_server):  # noqa: F811
    ids = add_people(engine, [{"email": a, "name": "Reader"} for a in (ANA, BO, CY, DI, EV,
                                                                                             FAY, GUS)])
    rows = {}
    with Session(engine) as session:
        for address, sid in zip((ANA, BO, CY, DI, EV, FAY, GUS), ids):
            row = Digest(subscriber_id=sid, period="2026-W49", state="sent",
                         scheduled_for=datetime(2026, 12, 1, tzinfo=timezone.utc))
            session.add(row)
            session.flush()
            rows[address] = row.id
        session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k", DIGEST_MAILBOX_HOST="127.0.0.1",
               DIGEST_MAILBOX_PORT=str(imap_server.port), DIGEST_MAILBOX_SECURITY="none",
               DIGEST_MAILBOX_USERNAME=imap_server.username, DIGEST_MAILBOX_PASSWORD=imap_server.password,
               DIGEST_UNSUBSCRIBE_MAILTO="unsubscribe@amw.example")

    def poll(code=0):
        proc = subprocess.run([sys.executable, "-m", "digest", "mailbox", "poll", "--json"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == code, (proc.stdout, proc.stderr)
        return json.loads(proc.stdout)
    return {"ids": dict(zip((ANA, BO, CY, DI, EV, FAY, GUS), ids)), "rows": rows, "poll": poll,
            "imap": imap_server}


def statuses(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.status for s in session.exec(select(Subscriber))}


def suppressions(engine) -> dict[str, tuple]:
    with Session(engine) as session:
        return {s.email_key: (s.reason, s.source, s.status_code) for s in session.exec(select(Suppression))}


def deliver_all(world) -> None:
    imap, rows, ids = world["imap"], world["rows"], world["ids"]
    verp = {a: ENVELOPE.sender(rows[a]) for a in rows}
    imap.deliver(dsn("hard1", verp[ANA], ANA, "failed", "5.1.1"))
    for n in (1, 2):  # identified by the ENVID only: sent to the plain From address
        imap.deliver(dsn(f"soft{n}", "digest@amw.example", BO, "delayed", "4.4.1", envid=ENVELOPE.token(rows[BO])))
    imap.deliver(message({"From": "MAILER-DAEMON@legacy.example", "To": verp[CY], "Subject": "failure notice",
                          "Message-ID": "<plain1@legacy.example>"},
                         "Hi. This is the qmail-send program.\nI'm afraid I wasn't able to deliver your message.\n"
                         f"<{CY}>:\nRemote host said: 550 5.1.1 mailbox unavailable\n"))
    imap.deliver(arf(verp[DI], DI))
    imap.deliver(message({"From": EV, "To": verp[EV], "Subject": "Out of office: Your weekly digest",
                          "Auto-Submitted": "auto-replied", "X-Autoreply": "yes", "Message-ID": "<ooo1@example.com>"},
                         "I am away until Monday. 550 5.1.1 is not a bounce.\n"))
    imap.deliver(message({"From": FAY, "To": "unsubscribe@amw.example", "Message-ID": "<un1@example.com>",
                          "Subject": ENVELOPE.mailto(ids[FAY]).partition("subject=")[2].replace("%20", " ")}, "\n"))
    forged = ENVELOPE.mailto(ids[FAY]).partition("subject=")[2].replace("%20", " ")
    forged = forged.replace(f"unsubscribe {ids[FAY]}-", f"unsubscribe {ids[GUS]}-")
    imap.deliver(message({"From": GUS, "To": "unsubscribe@amw.example", "Message-ID": "<un2@example.com>",
                          "Subject": forged}, "\n"))


def arf(verp: str, reader: str) -> bytes:
    return f"""From: Feedback Loop <fbl@isp.example>
To: abuse@amw.example
Subject: Complaint about a message from amw.example
Message-ID: <arf1@isp.example>
Date: {DATE}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report for a message received from amw.example.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1
Original-Mail-From: <{verp}>
Arrival-Date: {DATE}

--F
Content-Type: message/rfc822
Content-Disposition: inline

Return-Path: <{verp}>
From: AMW Digest <digest@amw.example>
To: redacted@isp.example
Subject: Your weekly digest
Message-ID: <digest-1@amw.example>

The digest.

--F--
""".replace("\n", "\r\n").encode()


def test_a_poll_applies_each_report_once_and_moves_what_it_read(world, engine):
    deliver_all(world)
    counts = world["poll"]()
    assert counts == {"processed": 7, "hard_bounces": 2, "soft_bounces": 2, "complaints": 1, "unsubscribes": 1,
                      "ignored": 1, "unknown": 1}
    assert statuses(engine) == {ANA: "bounced", BO: "active", CY: "bounced", DI: "complained", EV: "active",
                                FAY: "unsubscribed", GUS: "active"}
    assert suppressions(engine) == {ANA: ("bounced", "dsn", "5.1.1"), CY: ("bounced", "dsn", "5.1.1"),
                                    DI: ("complained", "arf", "abuse"), FAY: ("unsubscribed", "mailto", None)}
    rows = world["rows"]
    with Session(engine) as session:  # each report names its row: VERP, ENVID, the attached original
        named = {(e.email_key, e.kind, e.digest_id) for e in session.exec(select(DeliveryEvent))}
    assert named == {(ANA, "hard_bounce", rows[ANA]), (BO, "soft_bounce", rows[BO]), (CY, "hard_bounce", rows[CY]),
                     (DI, "complaint", rows[DI]), (FAY, "unsubscribe", None)}
    imap = world["imap"]
    assert imap.count("Processed") == 7 and imap.count() == 1  # the forged unsubscribe stays for staff

    with Session(engine) as session:
        events = len(session.exec(select(DeliveryEvent)).all())
    assert world["poll"]() == {"processed": 0, "hard_bounces": 0, "soft_bounces": 0, "complaints": 0,
                               "unsubscribes": 0, "ignored": 0, "unknown": 1}
    # The same DSN delivered again (a poll that died after its commit, before the move): moved, not repeated.
    imap.deliver(dsn("soft1", "digest@amw.example", BO, "delayed", "4.4.1",
                     envid=ENVELOPE.token(world["rows"][BO])))
    assert world["poll"]()["processed"] == 1
    with Session(engine) as session:
        assert len(session.exec(select(DeliveryEvent)).all()) == events
    assert statuses(engine)[BO] == "active"

    # The third soft bounce within the days reaches DIGEST_SOFT_BOUNCE_LIMIT (3).
    imap.deliver(dsn("soft3", "digest@amw.example", BO, "delayed", "4.4.1", envid=ENVELOPE.token(world["rows"][BO])))
    assert world["poll"]()["soft_bounces"] == 1
    assert statuses(engine)[BO] == "bounced"
    assert suppressions(engine)[BO] == ("bounced", "dsn", "4.4.1")


def test_a_bounce_with_a_forged_token_changes_nothing(world, engine):
    rows = world["rows"]
    forged = ENVELOPE.sender(rows[ANA]).replace(f"+{rows[ANA]}-", f"+{rows[BO]}-")
    world["imap"].deliver(message({"From": "MAILER-DAEMON@legacy.example", "To": forged, "Subject": "failure",
                                   "Message-ID": "<forged@legacy.example>"}, "550 5.1.1 mailbox unavailable\n"))
    assert world["poll"]()["unknown"] == 1
    assert set(statuses(engine).values()) == {"active"} and suppressions(engine) == {}


def test_a_report_with_a_forged_token_changes_nothing_even_naming_a_real_reader(world, engine):
    rows = world["rows"]
    # Tokens of our shape that do not verify: a DSN whose Final-Recipient is a real reader, a DSN whose
    # ENVID is altered, and a complaint whose original's Return-Path is forged.
    forged = ENVELOPE.sender(rows[ANA]).replace(f"+{rows[ANA]}-", f"+{rows[BO]}-")
    world["imap"].deliver(dsn("forged-dsn", forged, BO, "failed", "5.1.1"))
    bad_envid = ENVELOPE.token(rows[CY])[:-1] + ("0" if ENVELOPE.token(rows[CY])[-1] != "0" else "1")
    world["imap"].deliver(dsn("forged-envid", "digest@amw.example", CY, "failed", "5.1.1", envid=bad_envid))
    world["imap"].deliver(arf(forged, BO).replace(b"<arf1@", b"<arf-forged@"))
    counts = world["poll"]()
    assert counts["unknown"] == 3 and counts["processed"] == 0
    assert set(statuses(engine).values()) == {"active"} and suppressions(engine) == {}
    assert world["imap"].count() == 3  # kept for staff


def test_a_qmail_bounce_without_a_status_code_is_recognized_by_its_format(world, engine):
    rows = world["rows"]
    world["imap"].deliver(message(
        {"From": "MAILER-DAEMON@old.example", "To": ENVELOPE.sender(rows[CY]), "Subject": "failure notice",
         "Message-ID": "<qmail1@old.example>"},
        "Hi. This is the qmail-send program at old.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{CY}>:\nSorry, no mailbox here by that name.\n\n--- Below this line is a copy of the message.\n"))
    counts = world["poll"]()
    assert counts["hard_bounces"] == 1 and counts["processed"] == 1
    assert statuses(engine)[CY] == "bounced"
    reason, source, code = suppressions(engine)[CY]
    assert (reason, source, code) == ("bounced", "dsn", None)


def test_reports_in_other_wrappings_are_read_too(world, engine):
    rows = world["rows"]
    # RFC 6533's global DSN (what a server sends for an internationalized address), and an RFC 3464 report
    # that a gateway wrapped in multipart/mixed without report-type.
    global_dsn = dsn("global1", ENVELOPE.sender(rows[ANA]), ANA, "failed", "5.1.1")
    global_dsn = global_dsn.replace(b"report-type=delivery-status", b"report-type=global-delivery-status")
    global_dsn = global_dsn.replace(b"Content-Type: message/delivery-status",
                                    b"Content-Type: message/global-delivery-status")
    global_dsn = global_dsn.replace(b"Final-Recipient: rfc822;", b"Final-Recipient: utf-8;")
    global_dsn = global_dsn.replace(b"Content-Type: text/rfc822-headers", b"Content-Type: message/global-headers")
    world["imap"].deliver(global_dsn)
    wrapped = dsn("wrapped1", ENVELOPE.sender(rows[CY]), CY, "failed", "5.1.1")
    wrapped = wrapped.replace(b"multipart/report; report-type=delivery-status;", b"multipart/mixed;")
    world["imap"].deliver(wrapped)
    counts = world["poll"]()
    assert counts["hard_bounces"] == 2 and counts["processed"] == 2 and counts["unknown"] == 0
    with Session(engine) as session:  # read as reports: the evidence is each group's Diagnostic-Code
        for address in (ANA, CY):
            row = session.get(Suppression, address)
            assert (row.reason, row.source, row.status_code) == ("bounced", "dsn", "5.1.1")
            assert "550 5.1.1 user unknown" in row.detail


class DiesOnMove:
    """An IMAP client that dies at its first MOVE: the poll was killed after a commit, before the move."""

    def __init__(self, client):
        self.client, self.died = client, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def uid(self, command, *args):
        if command == "MOVE" and not self.died:
            self.died = True
            raise ConnectionResetError("killed mid-poll")
        return self.client.uid(command, *args)


def test_a_poll_that_dies_after_a_commit_loses_nothing_and_repeats_nothing(world, engine, db_url):
    imap, rows = world["imap"], world["rows"]
    for n in (1, 2, 3):
        imap.deliver(dsn(f"soft{n}", "digest@amw.example", BO, "delayed", "4.4.1", envid=ENVELOPE.token(rows[BO])))
    settings = Settings(database_url=db_url, secret_key="k", mailbox_host="127.0.0.1", mailbox_port=imap.port,
                        mailbox_security="none", mailbox_username=imap.username, mailbox_password=imap.password)
    client = DiesOnMove(connect(settings))
    with pytest.raises(ConnectionResetError):
        poll(engine, settings, SIGNER, client=client)
    client.logout()
    assert imap.count() == 3 and statuses(engine)[BO] == "active"
    with Session(engine) as session:  # the first message's effect was committed before its move was tried
        assert len(session.exec(select(DeliveryEvent)).all()) == 1
    assert poll(engine, settings, SIGNER)["processed"] == 3
    assert imap.count() == 0 and imap.count("Processed") == 3
    with Session(engine) as session:  # three soft bounces, each once: exactly the limit
        assert len(session.exec(select(DeliveryEvent)).all()) == 3
    assert statuses(engine)[BO] == "bounced"


def test_a_message_that_cannot_be_read_stays_and_is_reported(world, engine):
    world["imap"].deliver(dsn("bad1", "digest@amw.example", "not an address", "failed", "5.1.1"))
    assert world["poll"]() == {"processed": 0, "hard_bounces": 0, "soft_bounces": 0, "complaints": 0,
                               "unsubscribes": 0, "ignored": 0, "unknown": 1}
    assert world["imap"].count() == 1 and world["imap"].count("Processed") == 0


def test_a_wrong_password_is_an_error_that_names_the_setting(world, engine, db_url, tmp_path):
    imap = world["imap"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=db_url, DIGEST_SECRET_KEY="k", DIGEST_MAILBOX_HOST="127.0.0.1",
               DIGEST_MAILBOX_PORT=str(imap.port), DIGEST_MAILBOX_SECURITY="none",
               DIGEST_MAILBOX_USERNAME=imap.username, DIGEST_MAILBOX_PASSWORD="wrong")
    proc = subprocess.run([sys.executable, "-m", "digest", "mailbox", "poll", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "DIGEST_MAILBOX_PASSWORD" in json.loads(proc.stdout)["error"]


def test_the_scheduler_polls_the_mailbox_every_digest_mailbox_interval(world, engine, db_url):
    imap, rows = world["imap"], world["rows"]
    imap.deliver(dsn("sched1", ENVELOPE.sender(rows[ANA]), ANA, "failed", "5.1.1"))
    settings = Settings(database_url=db_url, secret_key="k", feed_interval=0, mailbox_host="127.0.0.1",
                        mailbox_port=imap.port, mailbox_security="none", mailbox_username=imap.username,
                        mailbox_password=imap.password, mailbox_interval=60)
    jobs = _jobs(App(settings))
    assert [(job.name, job.interval) for job in jobs] == [("mailbox poll", 60)]
    assert jobs[0].run()["hard_bounces"] == 1
    assert statuses(engine)[ANA] == "bounced" and imap.count("Processed") == 1
    # No mailbox configured, or the job turned off: no job.
    assert _jobs(App(settings.replace(mailbox_host=None))) == []
    assert _jobs(App(settings.replace(mailbox_interval=0))) == []
