"""POST /webhooks/postmark (issue 17, item 3) against the running app, with Postmark's documented
request bodies, wrong credentials and replays; the bounce policy behind it (item 4); and the 406
"inactive recipient" answer of the postmark mailer suppressing the address."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from digest.bounces import Policy, Report, apply_once, apply_report
from digest.db import make_engine
from digest.mailers import get_mailer
from digest.models import DeliveryEvent, Subscriber, Suppression, utcnow
from digest.pipeline import Pipeline
from digest.web import create_app
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.postmark_server import TOKEN, PostmarkServer
from tests.web_helpers import build_seeded, copy_seeded, remote_client, settings_for

ANA, MINJUN, SEOYEON = "ana@example.com", "minjun.kim@example.com", "seoyeon.lee@example.org"
USER, PASSWORD = "postmark", "a-long-webhook-password"
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def bounce(email=ANA, *, id=4323372036854775807, type="HardBounce", type_code=1, inactive=True, metadata=None):
    """A Bounce webhook body as Postmark documents it."""
    return {
        "RecordType": "Bounce", "MessageStream": "broadcast", "ID": id, "Type": type, "TypeCode": type_code,
        "Name": "Hard bounce", "Tag": "digest", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": metadata or {}, "ServerID": 23, "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email, "From": "digest@amw.example", "BouncedAt": "2026-11-23T16:33:54.9070259Z",
        "DumpAvailable": True, "Inactive": inactive, "CanActivate": True, "Subject": "Your AMW Digest",
        "Content": "Return-Path: <>\r\n...",
    }


def complaint(email=ANA, *, id=42):
    return {
        "RecordType": "SpamComplaint", "MessageStream": "broadcast", "ID": id, "Type": "SpamComplaint",
        "TypeCode": 512, "Name": "Spam complaint", "Tag": "digest", "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {}, "ServerID": 1234, "Description": "", "Details": "Test spam complaint details",
        "Email": email, "From": "digest@amw.example", "BouncedAt": "2026-11-23T16:33:54Z", "DumpAvailable": True,
        "Inactive": True, "CanActivate": False, "Subject": "Your AMW Digest", "Content": "<Abuse report dump>",
    }


def subscription_change(email=ANA, *, suppress=True, reason="ManualSuppression", at="2026-11-23T10:53:34.416071Z"):
    return {
        "RecordType": "SubscriptionChange", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "ServerID": 123456,
        "MessageStream": "broadcast", "ChangedAt": at, "Recipient": email, "Origin": "Recipient",
        "SuppressSending": suppress, "SuppressionReason": reason if suppress else None, "Tag": "digest",
        "Metadata": {},
    }


def basic(user=USER, password=PASSWORD) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


def world(seeded, tmp_path, **changes):
    url = copy_seeded(seeded, tmp_path)
    settings = settings_for(url, tmp_path, **changes)
    engine = make_engine(url)
    app = create_app(settings, engine)
    return SimpleNamespace(engine=engine, settings=settings, client=remote_client(app))


@pytest.fixture
def web(seeded, tmp_path):
    w = world(seeded, tmp_path, webhook_username=USER, webhook_password=PASSWORD)
    yield w
    w.engine.dispose()


def post(web, body, headers=None, **kwargs):
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return web.client.post("/webhooks/postmark", content=content,
                           headers={"Content-Type": "application/json", **(basic() if headers is None else headers)},
                           **kwargs)


def state(engine):
    """(subscriber status by email for the three, suppressions, event count)."""
    with Session(engine) as session:
        statuses = {s.email: s.status for s in session.exec(select(Subscriber).where(
            Subscriber.email.in_([ANA, MINJUN, SEOYEON])))}
        suppressions = {s.email_key: (s.reason, s.source, s.status_code, s.detail)
                        for s in session.exec(select(Suppression))}
        events = len(session.exec(select(DeliveryEvent)).all())
    return statuses, suppressions, events


def test_a_hard_bounce_suppresses_with_its_evidence_and_a_replay_changes_nothing(web):
    before = state(web.engine)
    assert before[0][ANA] == "active" and not before[1] and before[2] == 0
    reply = post(web, bounce())
    assert reply.status_code == 200 and reply.json() == {"result": "suppressed", "kind": "hard_bounce"}
    statuses, suppressions, events = state(web.engine)
    assert statuses[ANA] == "bounced" and statuses[MINJUN] == "active" and events == 1
    assert suppressions[ANA] == ("bounced", "webhook", "HardBounce",
                                 "smtp;550 5.1.1 The email account that you tried to reach does not exist.")
    replay = post(web, bounce())
    assert replay.status_code == 200 and replay.json()["result"] == "duplicate"
    assert state(web.engine) == (statuses, suppressions, events)


def test_a_complaint_and_a_subscription_change_suppress_with_their_reasons(web):
    assert post(web, complaint(MINJUN)).json()["result"] == "suppressed"
    assert post(web, subscription_change(SEOYEON)).json()["result"] == "suppressed"
    assert post(web, subscription_change(SEOYEON)).json()["result"] == "duplicate"
    statuses, suppressions, events = state(web.engine)
    assert statuses == {ANA: "active", MINJUN: "complained", SEOYEON: "unsubscribed"} and events == 2
    assert suppressions[MINJUN][:3] == ("complained", "webhook", "SpamComplaint")
    assert suppressions[SEOYEON][:3] == ("unsubscribed", "webhook", "ManualSuppression")
    # A reactivation at Postmark is recorded, and lifts nothing here (staff unsuppress does).
    reply = post(web, subscription_change(SEOYEON, suppress=False, at="2026-11-24T10:00:00Z"))
    assert reply.json() == {"result": "recorded", "kind": "ignored"}
    assert state(web.engine)[0][SEOYEON] == "unsubscribed"


def test_soft_bounces_suppress_only_at_the_limit(web):
    for n in (1, 2):
        reply = post(web, bounce(id=n, type="SoftBounce", type_code=4096, inactive=False))
        assert reply.json() == {"result": "counted", "kind": "soft_bounce"}
        assert state(web.engine)[0][ANA] == "active"
    assert post(web, bounce(id=2, type="SoftBounce", type_code=4096, inactive=False)).json()["result"] == "duplicate"
    assert state(web.engine)[0][ANA] == "active"  # a replay is not a third bounce
    assert post(web, bounce(id=3, type="SoftBounce", type_code=4096, inactive=False)).json()["result"] == "suppressed"
    statuses, suppressions, _ = state(web.engine)
    assert statuses[ANA] == "bounced" and suppressions[ANA][3].startswith("3 soft bounces within 30 days")
    # An auto-reply says nothing about the address.
    assert post(web, bounce(MINJUN, id=9, type="AutoResponder", type_code=64, inactive=False)).json()["result"] == "recorded"
    assert state(web.engine)[0][MINJUN] == "active"


@pytest.mark.parametrize("headers", [
    {},  # no credentials
    basic(password="wrong-password"),
    basic(user="someone", password=PASSWORD),
    basic(user=USER + ":" + PASSWORD, password=""),
    {"Authorization": "Basic not-base64!"},
    {"Authorization": "Bearer " + PASSWORD},
])
def test_wrong_or_missing_credentials_get_401_and_change_nothing(web, headers):
    before = state(web.engine)
    reply = post(web, bounce(), headers=headers)
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")
    assert state(web.engine) == before


@pytest.mark.parametrize("body, status", [
    (b"not json", 400),
    (b"\xff\xfe", 400),
    ([bounce()], 422),
    ({**bounce(), "RecordType": "Opened"}, 422),
    ({**bounce(), "RecordType": None}, 422),
    ({k: v for k, v in bounce().items() if k != "Email"}, 422),
    ({**bounce(), "Email": "not an address"}, 422),
    ({**bounce(), "ID": "12"}, 422),
    ({**subscription_change(), "SuppressionReason": "Whatever"}, 422),
    ({**subscription_change(), "SuppressSending": "yes"}, 422),
])
def test_bad_bodies_get_4xx_and_change_nothing(web, body, status):
    before = state(web.engine)
    reply = post(web, body)
    assert reply.status_code == status and "error" in reply.json()
    assert state(web.engine) == before


@pytest.mark.parametrize("record_type", ["Delivery", "Open", "Click"])
def test_postmarks_other_events_are_acknowledged_and_change_nothing(web, record_type):
    # An operator who points every Postmark webhook at this route must not see them retried as failures.
    before = state(web.engine)
    reply = post(web, {**bounce(), "RecordType": record_type})
    assert reply.status_code == 200 and reply.json() == {"result": "ignored", "kind": record_type}
    assert state(web.engine) == before


def test_without_configured_credentials_the_route_does_not_exist(seeded, tmp_path):
    w = world(seeded, tmp_path)
    try:
        before = state(w.engine)
        assert post(w, bounce()).status_code == 404
        assert post(w, bounce(), headers={}).status_code == 404
        assert state(w.engine) == before
    finally:
        w.engine.dispose()


def test_the_digest_token_in_the_metadata_names_the_row_only_when_it_verifies(web):
    from digest.tokens import Signer

    signer = Signer([web.settings.secret_key])
    post(web, bounce(id=1, type="SoftBounce", inactive=False, metadata={"digest": signer.make_compact("bounce", 77)}))
    post(web, bounce(id=2, type="SoftBounce", inactive=False, metadata={"digest": "77-aaaaaaaaaaaaaaaa"}))
    with Session(web.engine) as session:
        rows = {e.event_key: e.digest_id for e in session.exec(select(DeliveryEvent))}
    assert rows == {"postmark:Bounce:1": 77, "postmark:Bounce:2": None}


def test_soft_bounces_older_than_the_window_do_not_count(engine, tmp_path):
    load_articles(engine, tmp_path, [make_article(1)])
    add_people(engine, [{"email": ANA, "name": "Ana", "companies": ["xAI"]}])
    policy, now = Policy(soft_limit=3, soft_days=30), utcnow()
    with Session(engine) as session:
        for n, days_ago in enumerate((45, 33, 2, 1)):
            result = apply_report(session, Report("soft_bounce", ANA, "webhook", event_key=f"k{n}", status_code="4.2.2"),
                                  policy, now=now - timedelta(days=days_ago))
            assert result == "counted"
        assert apply_report(session, Report("soft_bounce", ANA, "dsn", event_key="k9"), policy, now=now) == "suppressed"
        session.commit()
        assert session.exec(select(Subscriber.status)).one() == "bounced"


@sqlite_only
def test_a_406_inactive_recipient_from_the_postmark_mailer_suppresses_the_address(engine, settings, tmp_path):
    load_articles(engine, tmp_path, [make_article(i) for i in range(3)])
    add_people(engine, [{"email": a, "name": "R", "companies": ["xAI"]} for a in ("inactive@example.com", ANA)])
    with PostmarkServer() as server:
        settings = settings.replace(mailer="postmark", postmark_token=TOKEN, postmark_url=server.url)
        counts = Pipeline(engine, settings).send_due(get_mailer("postmark", settings), SLOT + timedelta(minutes=5))
        assert (counts.sent, counts.failed) == (1, 1)
        # The provider gets the row's token as Metadata, for its bounce webhooks to name the row.
        assert server.received[0]["payload"]["Metadata"]["digest"].split("-")[0].isdigit()
    with Session(engine) as session:
        row = session.get(Suppression, "inactive@example.com")
        assert row is not None and row.reason == "bounced" and row.source == "smtp" and "406" in row.detail
        assert session.exec(select(Subscriber.status).where(Subscriber.email == ANA)).one() == "active"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_deliveries_of_one_event_at_the_same_moment_apply_it_once(engine, tmp_path):
    # Postmark retries a delivery it thinks failed while the first may still be running. On
    # PostgreSQL both can pass the "seen?" check; the unique event_key makes the second a duplicate.
    load_articles(engine, tmp_path, [make_article(1)])
    add_people(engine, [{"email": ANA, "name": "Ana", "companies": ["xAI"]}])
    policy = Policy(soft_limit=2, soft_days=30)
    report = Report("soft_bounce", ANA, "webhook", event_key="postmark:Bounce:7", status_code="SoftBounce")
    first = Session(engine)
    assert apply_report(first, report, policy) == "counted"  # inserted, not yet committed
    results = []

    def second():
        with Session(engine) as session:
            results.append(apply_once(session, report, policy))

    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the second waits on the first's row lock
        with engine.connect() as conn:
            if conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                    "AND datname = current_database()").scalar():
                break
    first.commit()
    first.close()
    thread.join(20)
    assert results == ["duplicate"]
    with Session(engine) as session:
        assert len(session.exec(select(DeliveryEvent)).all()) == 1
        assert session.exec(select(Subscriber.status)).one() == "active"  # one soft bounce, not two
