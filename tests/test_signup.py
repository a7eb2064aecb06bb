"""POST /subscribe and /manage over HTTP: one answer for every well-formed request, 422 naming the
field, the confirmation email sent once, CORS, the honeypot and the limits kept in the database."""

from __future__ import annotations

import re
import threading
from html import unescape
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from digest.mailers.memory import MemoryMailer
from digest.models import Follow, SignupMail, Subscriber, utcnow
from digest.pipeline import Pipeline
from digest.report import status
from digest.types import Outcome, SendResult
from subscribers.records import add_subscriber, unsubscribe
from tests.signup_helpers import ACCEPTED, html_part, link_in, mails_to, parsed, subscriber, text_part, world
from tests.web_helpers import build_seeded, copy_seeded, local_client

ANA = "ana@example.com"  # active in the seeds


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def web(seeded, tmp_path):
    w = world(copy_seeded(seeded, tmp_path), tmp_path, cors_origins="https://amw.example")
    yield w
    w.engine.dispose()


def post(web, body, **headers):
    return web.remote.post("/subscribe", json=body, headers=headers)


def test_a_new_address_becomes_pending_and_gets_one_confirmation_email(web):
    answer = post(web, {"email": "New.Reader@example.org", "name": "Nia", "companies": ["OpenAI", "xAI"],
                        "segments": ["Data & IP"], "timezone": "Europe/Berlin", "language": "en",
                        "frequency": "weekly", "send_day": "tue", "send_hour": 7})
    assert answer.status_code == 202 and answer.json() == ACCEPTED
    person = subscriber(web.engine, "new.reader@example.org")
    assert person.status == "pending" and person.timezone == "Europe/Berlin" and person.send_day == 1
    assert person.send_hour == 7 and person.name == "Nia"
    with Session(web.engine) as session:
        kinds = sorted(f.kind for f in session.exec(select(Follow).where(Follow.subscriber_id == person.id)))
    assert kinds == ["company", "company", "segment"]
    [mail] = mails_to("New.Reader@example.org")
    message = parsed(mail)
    assert message["Subject"] == "Confirm your AMW Digest subscription"
    text = text_part(mail)
    assert text.startswith("Hi Nia,\n\nPlease confirm that you want to receive the weekly AMW Digest at\n"
                           "New.Reader@example.org.\n")
    assert "If you did not ask for this, ignore this email: you will receive nothing." in text
    link = link_in(mail, "/confirm/")
    assert link in html_part(mail).replace("&amp;", "&")
    assert message["List-Unsubscribe"] and "Confirm my subscription" in html_part(mail)
    with Session(web.engine) as session:
        [claim] = session.exec(select(SignupMail)).all()
    assert claim.state == "sent" and claim.kind == "confirm" and claim.message_id == message["Message-ID"]


def test_a_korean_signup_gets_its_confirmation_in_korean(web):
    assert post(web, {"email": "seoyeon@example.org", "name": "서연", "companies": ["OpenAI"],
                      "timezone": "Asia/Seoul", "language": "ko"}).status_code == 202
    assert subscriber(web.engine, "seoyeon@example.org").language == "ko"
    [mail] = mails_to("seoyeon@example.org")
    assert parsed(mail)["Subject"] == "AMW 다이제스트 구독을 확인해 주세요"
    # The HTML part carries non-ASCII text as character references (message.py): compare what it shows.
    text, html = text_part(mail), unescape(html_part(mail))
    assert text.startswith("서연님, 안녕하세요.") and "AMW 다이제스트를 매주 받으시려면" in text
    assert re.search(r'<html\s+lang="ko"', html) and "Apple SD Gothic Neo" in html and "구독 확인하기" in html
    for english in ("Confirm", "Please", "If you did not ask", "Never email me again"):
        assert english not in text and english not in html


def test_the_link_opens_a_page_that_confirms_only_on_post_then_shows_the_preferences(web):
    post(web, {"email": "reader@example.org"})
    link = urlsplit(link_in(mails_to("reader@example.org")[0], "/confirm/")).path
    page = web.remote.get(link)
    assert page.status_code == 200 and 'id="confirm"' in page.text and 'method="post"' in page.text
    assert subscriber(web.engine, "reader@example.org").status == "pending"  # a link scanner's GET changes nothing
    done = web.remote.post(link, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/preferences/")
    preferences = web.remote.get(done.headers["location"])
    assert "Subscription confirmed." in preferences.text and "Your AMW Digest" in preferences.text
    assert subscriber(web.engine, "reader@example.org").status == "active"


@pytest.mark.parametrize("case", ["pending", "active", "unsubscribed", "honeypot"])
def test_every_well_formed_request_gets_the_same_answer_and_changes_nothing_known(web, case):
    address = "again@example.org" if case != "active" else ANA
    if case == "pending":
        post(web, {"email": address})
    if case == "unsubscribed":
        with Session(web.engine) as session:
            add_subscriber(session, email=address, timezone="Asia/Seoul")
            unsubscribe(session, address)
            session.commit()
    before = subscriber(web.engine, address)
    sent_before = len(MemoryMailer.outbox)
    body = {"email": address, "timezone": "America/Chicago", "companies": ["OpenAI"]}
    if case == "honeypot":
        body["website"] = "http://spam.example"
        address = "bot@example.org"
        body["email"] = address
    answer = post(web, body)
    assert answer.status_code == 202 and answer.json() == ACCEPTED
    after = subscriber(web.engine, address)
    if case == "honeypot":
        assert after is None and len(MemoryMailer.outbox) == sent_before
        return
    assert (after.status, after.timezone) == (before.status, before.timezone)  # nothing changed
    if case == "pending":
        assert len(MemoryMailer.outbox) == sent_before  # the day's one confirmation went out already
    elif case == "active":
        [mail] = MemoryMailer.outbox[sent_before:]  # the reader gets their preferences link instead
        assert "/preferences/" in link_in(mail, "/preferences/")
    else:
        assert len(MemoryMailer.outbox) == sent_before


def test_the_html_form_gets_the_same_page_for_a_known_and_an_unknown_address(web):
    known = web.remote.post("/subscribe", data={"email": ANA, "follow": "OpenAI"})
    unknown = web.remote.post("/subscribe", data={"email": "fresh@example.org", "follow": "OpenAI, Data & IP"})
    strip = lambda html: html.split("<main>")[1]  # noqa: E731 (the head holds the per-response nonce)
    assert known.status_code == unknown.status_code == 202 and strip(known.text) == strip(unknown.text)
    assert "Check your inbox" in unknown.text
    with Session(web.engine) as session:
        person = session.exec(select(Subscriber).where(Subscriber.email_key == "fresh@example.org")).one()
        kinds = sorted(f.kind for f in session.exec(select(Follow).where(Follow.subscriber_id == person.id)))
    assert kinds == ["company", "segment"]  # the picker's free text resolves companies, then segments


@pytest.mark.parametrize("body, field", [
    ({"email": "not an address"}, "email"),
    ({"email": "a@example.org", "companies": ["No Such Company"]}, "companies"),
    ({"email": "a@example.org", "timezone": "Mars/Base"}, "timezone"),
    ({"email": "a@example.org", "language": "english please"}, "language"),
    ({"email": "a@example.org", "send_hour": 25}, "send_hour"),
    ({"email": "a@example.org", "frequency": "hourly"}, "frequency"),
    ({"email": "a@example.org", "favourite": "x"}, "favourite"),
    ({"email": "a@example.org", "companies": "OpenAI"}, None),  # a string of names is accepted too
    ({"name": "no address"}, "email"),
])
def test_a_malformed_request_is_422_naming_the_field(web, body, field):
    answer = post(web, body)
    if field is None:
        assert answer.status_code == 202
        return
    assert answer.status_code == 422 and answer.json()["field"] == field
    assert subscriber(web.engine, "a@example.org") is None


def test_a_body_that_is_not_a_json_object_is_422(web):
    for raw in (b"[1]", b"{", b"\xff"):
        answer = web.remote.post("/subscribe", content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422 and answer.json()["field"] == "body"


def test_the_language_is_checked_and_kept_only_where_subscribers_have_one(web):
    assert post(web, {"email": "lang@example.org", "language": "pt-BR"}).status_code == 202
    person = subscriber(web.engine, "lang@example.org")
    assert getattr(person, "language", "pt-BR") == "pt-BR"


def test_cors_answers_listed_origins_and_refuses_the_rest(web):
    allowed = web.remote.options("/subscribe", headers={"Origin": "https://amw.example",
                                                        "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == "https://amw.example"
    answer = post(web, {"email": "cors@example.org"}, Origin="https://amw.example")
    assert answer.status_code == 202 and answer.headers["access-control-allow-origin"] == "https://amw.example"
    refused = web.remote.options("/subscribe", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    forged = post(web, {"email": "victim@example.org"}, Origin="https://evil.example")
    assert forged.status_code == 403 and subscriber(web.engine, "victim@example.org") is None
    # An opaque origin is our own no-referrer form only when the browser says the post is same-origin.
    hidden = post(web, {"email": "victim@example.org"}, Origin="null", **{"Sec-Fetch-Site": "cross-site"})
    assert hidden.status_code == 403 and subscriber(web.engine, "victim@example.org") is None
    own = post(web, {"email": "own@example.org"}, Origin="null", **{"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 202 and "access-control-allow-origin" not in own.headers


def test_two_racing_signups_send_one_confirmation(web):
    answers = []

    def sign():
        answers.append(post(web, {"email": "race@example.org"}).status_code)

    threads = [threading.Thread(target=sign) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [202] * 4 and len(mails_to("race@example.org")) == 1


def test_the_per_address_limit_answers_429_with_retry_after(seeded, tmp_path):
    w = world(copy_seeded(seeded, tmp_path), tmp_path, signup_limit_address=2)
    try:
        codes = [w.remote.post("/subscribe", json={"email": "Many@example.org"}).status_code for _ in range(2)]
        refused = w.remote.post("/subscribe", json={"email": "many@EXAMPLE.org"})
        assert codes == [202, 202] and refused.status_code == 429
        assert 3500 <= int(refused.headers["retry-after"]) <= 3600
        assert w.remote.post("/subscribe", json={"email": "other@example.org"}).status_code == 202
    finally:
        w.engine.dispose()


def test_the_per_client_limit_answers_429_for_every_route_of_the_form(seeded, tmp_path):
    w = world(copy_seeded(seeded, tmp_path), tmp_path, signup_limit_ip=3)
    try:
        codes = [w.remote.post("/subscribe", json={"email": f"p{i}@example.org"}).status_code for i in range(4)]
        assert codes == [202, 202, 202, 429]
        page = w.remote.post("/subscribe", data={"email": "form@example.org"})
        assert page.status_code == 429 and "Too many requests" in page.text and page.headers["retry-after"]
    finally:
        w.engine.dispose()


def test_manage_sends_the_preferences_link_and_answers_alike_for_unknown_addresses(web):
    known = web.remote.post("/manage", data={"email": ANA})
    unknown = web.remote.post("/manage", data={"email": "nobody@example.org"})
    junk = web.remote.post("/manage", data={"email": "not an address"})
    strip = lambda html: html.split("<main>")[1]  # noqa: E731
    assert known.status_code == unknown.status_code == junk.status_code == 200
    assert strip(known.text) == strip(unknown.text) == strip(junk.text)
    [mail] = MemoryMailer.outbox
    assert mail.recipient == ANA and parsed(mail)["Subject"] == "Your link to your AMW Digest preferences"
    link = urlsplit(link_in(mail, "/preferences/")).path
    assert "Your AMW Digest" in web.remote.get(link).text
    web.remote.post("/manage", data={"email": ANA})
    assert len(MemoryMailer.outbox) == 1  # one a day


def test_a_mail_the_mailer_refused_does_not_use_up_the_day(web):
    MemoryMailer.scripted["retry@example.org"] = [SendResult(Outcome.FAILED, "refused")]
    post(web, {"email": "retry@example.org"})
    assert mails_to("retry@example.org") == []
    post(web, {"email": "retry@example.org"})
    assert len(mails_to("retry@example.org")) == 1


def test_staff_and_digest_status_count_pending_confirmed_and_expired_signups(web):
    for address in ("p1@example.org", "p2@example.org", "old@example.org"):
        post(web, {"email": address})
    with Session(web.engine) as session:
        old = session.exec(select(Subscriber).where(Subscriber.email_key == "old@example.org")).one()
        old.created_at = utcnow() - timedelta(days=8)
        session.add(old)
        session.commit()
    web.remote.post(urlsplit(link_in(mails_to("p2@example.org")[0], "/confirm/")).path)
    assert status(web.engine, timedelta(days=1))["signups"] == {"pending": 1, "confirmed": 1, "expired": 1}
    page = local_client(web.app).get("/")
    assert 'id="signups"' in page.text and "Pending confirmation <strong>1</strong>" in page.text


def test_a_confirmed_stranger_receives_the_next_digest_at_their_local_send_hour(web):
    post(web, {"email": "late@example.org", "companies": ["OpenAI"], "timezone": "Asia/Seoul",
               "send_day": "mon", "send_hour": 8})
    pipeline = Pipeline(web.engine, web.settings)
    monday_8_seoul = datetime(2026, 11, 22, 23, 5, tzinfo=timezone.utc)  # Monday 08:05 in Seoul
    pipeline.send_due(MemoryMailer(), monday_8_seoul)
    assert [parsed(m)["Subject"] for m in mails_to("late@example.org")] == ["Confirm your AMW Digest subscription"]
    web.remote.post(urlsplit(link_in(mails_to("late@example.org")[0], "/confirm/")).path)
    pipeline.send_due(MemoryMailer(), datetime(2026, 11, 22, 22, 55, tzinfo=timezone.utc))  # 07:55 there
    assert len(mails_to("late@example.org")) == 1
    pipeline.send_due(MemoryMailer(), monday_8_seoul)
    confirmation, digest = mails_to("late@example.org")
    assert "OpenAI" in text_part(digest) and "/unsubscribe/" in parsed(digest)["List-Unsubscribe"]


def test_a_malformed_form_shows_the_form_again_with_the_field_named_and_the_values_kept(web):
    page = web.remote.post("/subscribe", data={"email": "keep@example.org", "follow": "No Such Company",
                                               "timezone": "Asia/Seoul"})
    assert page.status_code == 422 and 'id="error"' in page.text
    assert "no company or segment is called &#39;No Such Company&#39;" in page.text
    assert 'value="keep@example.org"' in page.text and '<option value="Asia/Seoul" selected>' in page.text
    assert subscriber(web.engine, "keep@example.org") is None


def test_the_form_offers_every_catalog_language_by_its_own_name_preselecting_the_pages(web):
    korean = web.remote.get("/subscribe", headers={"Accept-Language": "ko"}).text
    assert '<option value="ko" selected>한국어</option>' in korean
    assert '<option value="ja">日本語</option>' in korean and '<option value="en">English</option>' in korean
    assert '<option value="en" selected>English</option>' in web.remote.get("/subscribe").text
