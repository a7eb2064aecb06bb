"""Staff pages that manage, through the app: find a subscriber by address, name, company or segment;
edit, unsubscribe, unsuppress with the evidence shown; the period's articles with pin and pull
buttons and the editor's note; feeds; the send dashboard. A form without its CSRF token changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from digest.dashboard import send_dashboard
from digest.db import make_engine
from digest.models import Digest, EditorialControl, Feed, Subscriber, Suppression, utcnow
from digest.pipeline import Pipeline
from digest.selection.editorial import EDITORS_PICK
from digest.suppression import suppress
from digest.web import create_app
from tests.pipeline_helpers import add_people
from tests.web_helpers import AS_OF, AS_OF_TEXT, build_seeded, copy_seeded, local_client, mark_sent, settings_for

ANA, JIHOON = "ana@example.com", "jihoon.park@example.net"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def site(seeded, tmp_path):
    url = copy_seeded(seeded, tmp_path)
    engine = make_engine(url)
    settings = settings_for(url, tmp_path)
    app = create_app(settings, engine, spool_thread=False)
    yield SimpleNamespace(client=local_client(app), engine=engine, pipeline=Pipeline(engine, settings))
    engine.dispose()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def subscriber(engine, email: str) -> Subscriber:
    with Session(engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email_key == email)).one()


def found(site, q: str) -> list[str]:
    page = site.client.get("/staff/subscribers", params={"q": q})
    assert page.status_code == 200
    table = page.text.split('id="results"', 1)[1]
    return re.findall(r'<span class="muted">([^<]+@[^<]+)</span>', table)


def test_subscribers_are_found_by_address_name_company_and_segment(site):
    assert ANA in found(site, "OpenAI")  # a company Ana follows
    assert ANA in found(site, "openai")
    assert JIHOON in found(site, "Compute") and ANA not in found(site, "Compute")  # a segment
    assert found(site, "minjun") == ["minjun.kim@example.com"]  # part of an address
    assert found(site, "김민준") == ["minjun.kim@example.com"]  # a name
    assert found(site, "100%_") == []  # LIKE wildcards are taken literally


def test_a_staff_member_unsubscribes_a_reader_from_the_page_and_without_csrf_nothing_changes(site):
    ana = subscriber(site.engine, ANA)
    page = site.client.get(f"/staff/subscribers/{ana.id}")
    assert page.status_code == 200 and ANA in page.text
    for data in ({}, {"csrf": "forged.0000"}):
        refused = site.client.post(f"/staff/subscribers/{ana.id}/unsubscribe", data=data)
        assert refused.status_code == 403
        assert subscriber(site.engine, ANA).status == "active"
    done = site.client.post(f"/staff/subscribers/{ana.id}/unsubscribe", data={"csrf": csrf_of(page.text)},
                            follow_redirects=False)
    assert done.status_code == 303
    assert subscriber(site.engine, ANA).status == "unsubscribed"
    with Session(site.engine) as session:
        row = session.get(Suppression, ANA)
        assert (row.reason, row.source) == ("unsubscribed", "staff") and "staff:local" in row.detail
    shown = site.client.get(f"/staff/subscribers/{ana.id}").text
    assert 'id="state">unsubscribed' in shown and "staff:local" in shown


def test_edit_and_unsuppress_with_the_evidence_shown(site):
    ana = subscriber(site.engine, ANA)
    with Session(site.engine) as session:
        suppress(session, ANA, "bounced", "550 5.1.1 mailbox unknown", source="dsn", status_code="5.1.1")
        session.commit()
    page = site.client.get(f"/staff/subscribers/{ana.id}").text
    assert "bounced" in page and "550 5.1.1 mailbox unknown" in page and "dsn" in page
    token = csrf_of(page)
    saved = site.client.post(f"/staff/subscribers/{ana.id}/edit", data={"csrf": token, "name": "Ana K.",
                                                                        "send_hour": "9"})
    assert saved.status_code == 200 and subscriber(site.engine, ANA).name == "Ana K."
    assert subscriber(site.engine, ANA).send_hour == 9
    bad = site.client.post(f"/staff/subscribers/{ana.id}/edit", data={"csrf": token, "send_hour": "25"})
    assert bad.status_code == 400 and "Not saved" in bad.text and subscriber(site.engine, ANA).send_hour == 9
    assert site.client.post(f"/staff/subscribers/{ana.id}/unsuppress", data={"reason": "fixed"}).status_code == 403
    lifted = site.client.post(f"/staff/subscribers/{ana.id}/unsuppress", data={"csrf": token, "reason": "fixed"})
    assert lifted.status_code == 200
    with Session(site.engine) as session:
        assert session.get(Suppression, ANA) is None
    assert subscriber(site.engine, ANA).status == "active"


def test_articles_page_pins_and_pulls_and_the_preview_shows_it(site):
    page = site.client.get("/staff/articles", params={"as_of": AS_OF_TEXT})
    assert page.status_code == 200
    urls = re.findall(r'<tr data-url="([^"]+)">', page.text)
    assert urls, "the seed week's articles are listed"
    before = site.pipeline.preview(JIHOON, AS_OF)
    target = next(u for u in urls if u not in {c.article.url for c in before.issue.choices})
    token = csrf_of(page.text)
    assert site.client.post("/staff/editorial", data={"kind": "pin", "url": target}).status_code == 403
    start = (AS_OF.replace(day=20)).strftime("%Y-%m-%dT%H:%M")
    pinned = site.client.post("/staff/editorial", data={"csrf": token, "kind": "pin", "url": target,
                                                       "segment": "Compute", "start": start}, follow_redirects=False)
    assert pinned.status_code == 303
    note = site.client.post("/staff/editorial", data={"csrf": token, "kind": "note", "text": "**Hello** readers",
                                                     "start": start})
    assert note.status_code == 200
    with Session(site.engine) as session:
        rows = session.exec(select(EditorialControl).order_by(EditorialControl.id)).all()
    assert [(r.kind, r.created_by, r.target_name) for r in rows] == [("pin", "staff:local", "Compute"),
                                                                     ("note", "staff:local", None)]
    site.pipeline.editorial.invalidate()
    after = site.pipeline.preview(JIHOON, AS_OF)
    assert after.issue.choices[0].article.url == target and after.issue.choices[0].reasons == (EDITORS_PICK,)
    assert after.issue.note == "**Hello** readers"
    preview = site.client.get("/preview/email", params={"email": JIHOON, "as_of": AS_OF_TEXT})
    # Jihoon reads Korean (the seeds): the reason in his language, the editor's note as written.
    assert "편집자 추천" in preview.text and "<b>Hello</b> readers" in preview.text
    listed = site.client.get("/staff/articles", params={"as_of": AS_OF_TEXT}).text
    assert "pinned" in listed and "staff:local" in listed
    pulled = site.client.post("/staff/editorial", data={"csrf": token, "kind": "pull", "url": target, "start": start})
    assert pulled.status_code == 200
    site.pipeline.editorial.invalidate()
    assert target not in {c.article.url for c in site.pipeline.preview(JIHOON, AS_OF).issue.choices}
    removed = site.client.post(f"/staff/editorial/{rows[1].id}/remove", data={"csrf": token})
    assert removed.status_code == 200
    site.pipeline.editorial.invalidate()
    assert site.pipeline.preview(JIHOON, AS_OF).issue.note == ""
    bad = site.client.post("/staff/editorial", data={"csrf": token, "kind": "pin", "url": "https://amw.example/none"})
    assert bad.status_code == 400 and "Not recorded" in bad.text


def test_feeds_and_the_send_dashboard(site):
    with Session(site.engine) as session:
        session.add(Feed(url="https://amw.example/feed.json", last_status="failed", last_error="HTTP 503",
                         last_polled_at=utcnow()))
        session.commit()
    feeds = site.client.get("/staff/feeds").text
    assert "https://amw.example/feed.json" in feeds and "HTTP 503" in feeds
    mark_sent(site.engine, site.pipeline, ANA)
    with Session(site.engine) as session:
        jihoon = session.exec(select(Subscriber).where(Subscriber.email_key == JIHOON)).one()
        session.add(Digest(subscriber_id=jihoon.id, period="2026-11-23", scheduled_for=AS_OF, state="skipped",
                           skip_reason="paused"))
        session.commit()
    board = site.client.get("/staff/sends", params={"as_of": AS_OF_TEXT, "days": 7}).text
    numbers = dict(re.findall(r'data-key="(\w+)"><b>(\d+)</b>', board))
    assert numbers["sent"] == "1" and numbers["failed"] == "0"
    assert "paused" in board and re.search(r"<td>2026-11-\d\dT\d\d:00</td><td>1</td>", board)


def test_the_send_dashboard_counts_per_hour_on_sqlite_and_postgresql(engine):
    ids = add_people(engine, [{"email": f"p{i}@example.com"} for i in range(4)])
    with Session(engine) as session:
        for i, (sid, state) in enumerate(zip(ids, ("sent", "sent", "failed", "skipped"))):
            session.add(Digest(subscriber_id=sid, period="2026-W48", scheduled_for=AS_OF, state=state,
                               sent_at=AS_OF + timedelta(minutes=30 * i) if state == "sent" else None,
                               skip_reason="nothing new" if state == "skipped" else None))
        session.commit()
        board = send_dashboard(session, AS_OF - timedelta(days=1), AS_OF + timedelta(days=1))
    assert (board["sent"], board["failed"], board["due"]) == (2, 1, 0)
    assert board["skipped"] == [{"reason": "nothing new", "count": 1}]
    assert board["per_hour"] == [{"hour": "2026-11-23T20:00", "sent": 2}]
