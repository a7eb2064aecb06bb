"""HTTP tests of the web app: every route, every token case, the staff gate and the security headers."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import logging
import re
from datetime import date
from email import policy
from html import unescape
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.db import make_engine
from digest.mailers.memory import MemoryMailer
from digest.models import Digest, Subscriber, Suppression
from digest.pipeline import Pipeline
from digest.types import Rendered
from digest.web import create_app, feedback_links
from digest.web.security import RedactAccessLog, redact_path
from subscribers.tokens import Signer
from tests.web_helpers import (AS_OF, AS_OF_TEXT, SECRET, STAFF_TOKEN, build_seeded, copy_seeded, local_client, mark_sent,
                               remote_client, settings_for, subscriber_id)

ANA = "ana@example.com"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


def _world(url, tmp_path, **changes):
    settings = settings_for(url, tmp_path, **changes)
    engine = make_engine(url)
    app = create_app(settings, engine)
    MemoryMailer.reset()
    return SimpleNamespace(app=app, engine=engine, settings=settings, pipeline=Pipeline(engine, settings),
                           local=local_client(app), remote=remote_client(app))


@pytest.fixture
def web(seeded, tmp_path):
    world = _world(copy_seeded(seeded, tmp_path), tmp_path)
    yield world
    world.engine.dispose()


@pytest.fixture
def staffed(seeded, tmp_path):
    """The app as deployed on the network: a staff token is configured."""
    world = _world(copy_seeded(seeded, tmp_path), tmp_path, staff_token=STAFF_TOKEN)
    yield world
    world.engine.dispose()


def token(web, purpose, email=ANA, **extra):
    return web.pipeline.signer.make(purpose, subscriber_id(web.engine, email), extra=extra or None)


def subscriber(web, email=ANA) -> Subscriber:
    with Session(web.engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email_key == email)).one()


def follows(web, email=ANA) -> dict[str, set[str]]:
    from subscribers.follows import follow_names

    with Session(web.engine) as session:
        companies, segments = follow_names(session, [subscriber_id(web.engine, email)])[subscriber_id(web.engine, email)]
    return {"companies": set(companies), "segments": set(segments)}


def without_nonce(text: str) -> str:
    return re.sub(r'nonce="[^"]*"', "", text)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


ONE_CLICK = {"List-Unsubscribe": "One-Click"}


# -- one-click unsubscribe (RFC 8058) -----------------------------------------------------------

def test_one_click_post_form_encoded_unsubscribes_with_200_and_no_redirect(web):
    response = web.remote.post(f"/unsubscribe/{token(web, 'unsubscribe')}", data=ONE_CLICK, follow_redirects=False)
    assert response.status_code == 200
    assert "location" not in response.headers and "set-cookie" not in response.headers
    assert "unsubscribed" in response.text
    assert subscriber(web).status == "unsubscribed"
    with Session(web.engine) as session:
        assert session.get(Suppression, ANA).reason == "unsubscribed"


def test_one_click_post_multipart_unsubscribes(web):
    boundary = "----amwtest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
            f"--{boundary}--\r\n").encode()
    response = web.remote.post(f"/unsubscribe/{token(web, 'unsubscribe')}", content=body,
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 200
    assert subscriber(web).status == "unsubscribed"


def test_repeated_one_click_post_is_a_200_no_op(web):
    url = f"/unsubscribe/{token(web, 'unsubscribe')}"
    assert web.remote.post(url, data=ONE_CLICK).status_code == 200
    first = subscriber(web).updated_at
    again = web.remote.post(url, data=ONE_CLICK)
    assert again.status_code == 200 and "unsubscribed" in again.text
    assert subscriber(web).updated_at == first and subscriber(web).status == "unsubscribed"


def test_get_of_the_unsubscribe_link_changes_nothing_and_shows_a_button(web):
    response = web.remote.get(f"/unsubscribe/{token(web, 'unsubscribe')}")
    assert response.status_code == 200
    assert re.search(r'<form method="post">', response.text) and 'id="unsubscribe"' in response.text
    assert ANA not in response.text  # the address is masked: URLs get forwarded
    assert subscriber(web).status == "active"
    with Session(web.engine) as session:
        assert session.get(Suppression, ANA) is None


def test_one_click_post_taken_from_a_real_sent_message_unsubscribes(web):
    web.pipeline.send_due(MemoryMailer(), AS_OF)
    sent = next(m for m in MemoryMailer.outbox if m.recipient == ANA)
    message = email.message_from_bytes(sent.data, policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"]).group(1)
    path = url.removeprefix(web.settings.base_url)
    assert path.startswith("/unsubscribe/")
    # What a mailbox provider sends: a POST with exactly this body, no cookies, no referrer.
    response = web.remote.post(path, content=b"List-Unsubscribe=One-Click",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert subscriber(web).status == "unsubscribed"


def _bad_tokens(web):
    good = token(web, "unsubscribe")
    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    return {
        "flipped": flipped,
        "truncated": good[: len(good) // 2],
        "other_purpose": token(web, "preferences"),
        "other_key": Signer(["some-other-key"]).make("unsubscribe", subscriber_id(web.engine, ANA)),
        "unknown_id": web.pipeline.signer.make("unsubscribe", 987654),
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_or_unknown_unsubscribe_tokens_get_one_neutral_400_page_and_change_nothing(web, method):
    bodies = set()
    for name, bad in _bad_tokens(web).items():
        response = getattr(web.remote, method)(f"/unsubscribe/{bad}", **({"data": ONE_CLICK} if method == "post" else {}))
        assert response.status_code == 400, name
        assert ANA not in response.text and "a***" not in response.text
        bodies.add(without_nonce(response.text))
    assert len(bodies) == 1  # an unknown subscriber and a forged token look exactly alike
    assert subscriber(web).status == "active"


def test_one_click_unsubscribe_works_on_each_database(db_url, tmp_path):
    from digest.ingest import ingest_files
    from subscribers import import_csv
    from tests.web_helpers import ROOT

    world = _world(db_url, tmp_path)
    try:
        with Session(world.engine) as session:
            ingest_files(session, [ROOT / "seeds" / "articles.jsonl"])
            import_csv(session, ROOT / "seeds" / "subscribers.csv")
            session.commit()
        url = f"/unsubscribe/{token(world, 'unsubscribe')}"
        assert world.remote.post(url, data=ONE_CLICK).status_code == 200
        assert world.remote.post(url, data=ONE_CLICK).status_code == 200
        assert subscriber(world).status == "unsubscribed"
    finally:
        world.engine.dispose()


# -- headers --------------------------------------------------------------------------------------

def test_pages_forbid_framing_referrers_and_scripts(web):
    response = web.remote.get(f"/unsubscribe/{token(web, 'unsubscribe')}")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<style nonce="{nonce}">' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_email_html_for_the_preview_frames_is_sandboxed_and_frameable_only_by_the_app(web):
    response = web.local.get("/preview/email", params={"email": ANA, "as_of": AS_OF_TEXT})
    assert response.status_code == 200 and "<html" in response.text.lower()
    csp = response.headers["content-security-policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and "script" not in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_unknown_path_is_an_html_404_page(web):
    response = web.remote.get("/no/such/page")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


def test_a_large_body_is_refused_before_it_is_parsed(web):
    response = web.remote.post(f"/unsubscribe/{token(web, 'unsubscribe')}", content=b"x" * 300_000,
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and subscriber(web).status == "active"


# -- staff preview: who may see it ------------------------------------------------------------------

def test_staff_pages_refuse_a_remote_visitor_when_no_staff_token_is_configured(web):
    for path in ("/", f"/preview?email={ANA}", f"/preview/email?email={ANA}"):
        response = web.remote.get(path)
        assert response.status_code == 403, path
        assert ANA not in response.text and "DIGEST_STAFF_TOKEN" in response.text
    assert web.remote.post("/preview/send-test", data={"email": ANA, "to": "x@amw.example"}).status_code == 403
    assert MemoryMailer.outbox == []


@pytest.mark.parametrize("headers", [{"host": "evil.example"}, {"x-forwarded-for": "198.51.100.9"},
                                     {"forwarded": "for=198.51.100.9"}])
def test_a_loopback_request_through_a_proxy_or_a_rebound_host_name_is_not_staff(web, headers):
    response = web.local.get("/", headers=headers)
    assert response.status_code == 403 and ANA not in response.text


def test_a_local_browser_sees_the_staff_index_with_every_subscriber(web):
    response = web.local.get("/")
    assert response.status_code == 200
    assert ANA in response.text and "juergen.weiss@example.net" in response.text


def test_the_staff_token_in_a_header_opens_the_preview_from_elsewhere(staffed):
    assert staffed.remote.get("/").status_code == 401
    assert staffed.remote.get("/", headers={"authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    assert staffed.remote.get("/", headers={"authorization": f"Bearer {STAFF_TOKEN}"}).status_code == 200
    assert staffed.remote.get("/", headers={"x-staff-token": STAFF_TOKEN}).status_code == 200


def test_signing_in_sets_a_strict_http_only_cookie_that_opens_the_preview(staffed):
    refused = staffed.remote.post("/login", data={"token": "not-the-token"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    response = staffed.remote.post("/login", data={"token": STAFF_TOKEN})
    cookie = response.headers["set-cookie"]
    assert response.status_code == 200 and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    assert STAFF_TOKEN not in cookie  # the cookie holds a derived value, not the token
    assert staffed.remote.get("/").status_code == 200


def test_sign_in_is_off_without_a_staff_token(web):
    assert web.remote.post("/login", data={"token": "anything-at-all-here"}).status_code == 401
    assert web.remote.get("/login").status_code == 404


# -- staff preview: what it shows -------------------------------------------------------------------

def test_preview_shows_subject_preheader_size_text_and_why_each_article_was_chosen(web):
    built = web.pipeline.preview(ANA, AS_OF)
    response = web.local.get("/preview", params={"email": ANA, "as_of": AS_OF_TEXT})
    assert response.status_code == 200
    page = response.text
    import html as html_lib
    assert html_lib.escape(built.rendered.subject, quote=False) in page
    assert html_lib.escape(built.rendered.preheader, quote=False) in page
    assert f"{len(built.rendered.html.encode()) / 1000:.1f} KB" in page
    assert html_lib.escape(built.rendered.text.splitlines()[0], quote=False) in page
    rows = re.findall(r"<tr>.*?</tr>", page.split("<tbody>")[1].split("</tbody>")[0], re.S)
    assert len(rows) == len(built.issue.choices) > 0
    for row, choice in zip(rows, built.issue.choices):
        assert html_lib.escape(choice.article.title, quote=False) in row
        assert all(html_lib.escape(reason, quote=False) in row for reason in choice.reasons)
        assert f"{choice.article.novelty}/3" in row and f"{choice.article.significance}/3" in row
    assert page.count('sandbox="allow-popups allow-popups-to-escape-sandbox"') == 2  # desktop and phone


def test_preview_warns_when_gmail_would_clip_the_html(web, monkeypatch):
    built = web.pipeline.preview(ANA, AS_OF)
    big = Rendered(built.rendered.subject, built.rendered.preheader, built.rendered.html + "<!--" + "x" * 110_000 + "-->",
                   built.rendered.text, built.rendered.article_count)
    monkeypatch.setattr(Pipeline, "preview", lambda self, e, when: type(built)(built.issue, built.selection, big,
                                                                                 built.message))
    page = web.local.get("/preview", params={"email": ANA, "as_of": AS_OF_TEXT}).text
    assert 'id="clip-warning"' in page and "Gmail will clip" in page


def test_a_normal_preview_has_no_clipping_warning(web):
    page = web.local.get("/preview", params={"email": ANA, "as_of": AS_OF_TEXT}).text
    assert 'id="clip-warning"' not in page


def test_preview_says_why_nothing_would_be_sent(web):
    response = web.local.get("/preview", params={"email": ANA, "as_of": "2030-01-07T20:00"})
    assert response.status_code == 200 and 'id="nothing"' in response.text


@pytest.mark.parametrize("params, status", [({"email": "nobody@example.com"}, 404),
                                            ({"email": "not an address"}, 404),
                                            ({"email": ANA, "as_of": "yesterday"}, 400),
                                            ({"email": ANA, "as_of": "0001-01-01T00:00"}, 400)])
def test_preview_of_a_bad_subscriber_or_time_is_an_error_page_not_a_crash(web, params, status):
    response = web.local.get("/preview", params=params)
    assert response.status_code == status and 'id="error"' in response.text


def test_switching_the_preview_to_another_subscriber_shows_their_issue(web):
    other = "juergen.weiss@example.net"
    built = web.pipeline.preview(other, AS_OF)
    page = web.local.get("/preview", params={"email": other, "as_of": AS_OF_TEXT}).text
    import html as html_lib
    assert html_lib.escape(built.rendered.subject, quote=False) in page
    assert re.search(rf'<option value="{re.escape(other)}" selected>', page)


# -- staff test send ------------------------------------------------------------------------------

def test_send_test_goes_to_the_staff_address_through_the_mailer_and_leaves_the_ledger_alone(web):
    page = web.local.get("/preview", params={"email": ANA, "as_of": AS_OF_TEXT}).text
    response = web.local.post("/preview/send-test", data={"email": ANA, "as_of": AS_OF_TEXT, "to": "staff@amw.example",
                                                           "csrf": csrf_of(page)})
    assert response.status_code == 200 and "Test to staff@amw.example: sent" in response.text
    assert [m.recipient for m in MemoryMailer.outbox] == ["staff@amw.example"]
    message = email.message_from_bytes(MemoryMailer.outbox[0].data, policy=policy.default)
    assert message["Subject"].startswith("[Test] ") and message["To"] == "staff@amw.example"
    body = MemoryMailer.outbox[0].data.decode("utf-8", "replace")
    # Nobody who gets a test copy can unsubscribe or reconfigure the real subscriber from it.
    assert "/unsubscribe/" not in body and "/preferences/" not in body and "/test-link" in body
    with Session(web.engine) as session:
        assert session.exec(select(Digest)).all() == []


@pytest.mark.parametrize("extra", [{}, {"csrf": "forged.0000"}])
def test_send_test_without_a_valid_form_token_sends_nothing(web, extra):
    response = web.local.post("/preview/send-test", data={"email": ANA, "as_of": AS_OF_TEXT,
                                                           "to": "attacker@evil.example", **extra})
    assert response.status_code == 403 and MemoryMailer.outbox == []


def test_send_test_from_another_origin_sends_nothing_even_with_a_form_token(web):
    page = web.local.get("/preview", params={"email": ANA, "as_of": AS_OF_TEXT}).text
    response = web.local.post("/preview/send-test", headers={"origin": "https://evil.example"},
                              data={"email": ANA, "as_of": AS_OF_TEXT, "to": "x@evil.example", "csrf": csrf_of(page)})
    assert response.status_code == 403 and MemoryMailer.outbox == []


def test_send_test_to_an_invalid_address_is_reported_and_sends_nothing(web):
    page = web.local.get("/preview", params={"email": ANA, "as_of": AS_OF_TEXT}).text
    response = web.local.post("/preview/send-test", data={"email": ANA, "as_of": AS_OF_TEXT, "to": "not-an-address",
                                                           "csrf": csrf_of(page)})
    assert response.status_code == 400 and "Test not sent" in response.text and MemoryMailer.outbox == []


# -- preferences -----------------------------------------------------------------------------------

def _preferences_form(web, **changes):
    return {"token": token(web, "preferences"), "follows_shown": "1", "companies": ["OpenAI", "xAI"],
            "add_companies": "", "segments": ["Data & IP"], "timezone": "Asia/Seoul", "send_day": "mon",
            "send_hour": "8", "frequency": "weekly", "paused_until": "", "min_significance": "1",
            "max_articles": "8", **changes}


def test_preferences_page_shows_the_current_settings_behind_the_token(web):
    response = web.remote.get(f"/preferences/{token(web, 'preferences')}")
    assert response.status_code == 200
    assert 'value="OpenAI" checked' in response.text and 'value="Data &amp; IP" checked' in response.text
    assert 'value="Asia/Seoul"' in response.text


def test_saving_preferences_changes_follows_and_schedule_for_the_next_digest(web):
    url = f"/preferences/{token(web, 'preferences')}"
    form = _preferences_form(web, companies=["OpenAI"], add_companies="Nvidia, Mistral AI",
                             segments=["Compute · Chips"], timezone="europe/berlin", send_day="fri", send_hour="17",
                             min_significance="2", max_articles="5", paused_until="2026-12-31")
    response = web.remote.post(url, data=form)
    assert response.status_code == 200 and 'id="saved"' in response.text
    person = subscriber(web)
    assert (person.timezone, person.send_day, person.send_hour) == ("Europe/Berlin", 4, 17)
    assert (person.min_significance, person.max_articles, person.paused_until) == (2, 5, date(2026, 12, 31))
    assert follows(web) == {"companies": {"OpenAI", "Nvidia", "Mistral AI"}, "segments": {"Compute · Chips"}}
    reader = web.pipeline.preview(ANA, AS_OF).issue.reader
    assert reader.companies == {"OpenAI", "Nvidia", "Mistral AI"} and reader.max_articles == 5


def test_pausing_in_preferences_stops_the_next_digest(web):
    web.remote.post(f"/preferences/{token(web, 'preferences')}", data=_preferences_form(web, paused_until="2027-01-31"))
    web.pipeline.send_due(MemoryMailer(), AS_OF)
    recipients = {m.recipient for m in MemoryMailer.outbox}
    assert ANA not in recipients and recipients  # others still get theirs


def test_invalid_preferences_are_reported_and_nothing_changes(web):
    before = follows(web)
    response = web.remote.post(f"/preferences/{token(web, 'preferences')}",
                               data=_preferences_form(web, timezone="Mars/Olympus", send_hour="25",
                                                      add_companies="No Such Company Ltd"))
    assert response.status_code == 400
    assert "Mars/Olympus" in response.text and "send_hour" in response.text
    person = subscriber(web)
    assert (person.timezone, person.send_hour) == ("Asia/Seoul", 8) and follows(web) == before


def test_preferences_post_without_the_form_token_changes_nothing(web):
    form = _preferences_form(web, send_hour="5")
    del form["token"]
    response = web.remote.post(f"/preferences/{token(web, 'preferences')}", data=form)
    assert response.status_code == 400 and subscriber(web).send_hour == 8


def test_preferences_post_without_follow_fields_leaves_follows_alone(web):
    before = follows(web)
    response = web.remote.post(f"/preferences/{token(web, 'preferences')}",
                               data={"token": token(web, "preferences"), "send_hour": "6"})
    assert response.status_code == 200 and subscriber(web).send_hour == 6 and follows(web) == before


def test_tampered_preferences_token_gets_the_neutral_page(web):
    bad = token(web, "preferences")[:-2] + "xx"
    assert web.remote.get(f"/preferences/{bad}").status_code == 400
    response = web.remote.post(f"/preferences/{bad}", data={"token": bad, "send_hour": "3"})
    assert response.status_code == 400 and subscriber(web).send_hour == 8


# -- relevance feedback -----------------------------------------------------------------------------

def test_feedback_links_offer_only_changes_that_would_do_something(web):
    built = web.pipeline.preview(ANA, AS_OF)
    reader = built.issue.reader
    for choice in built.issue.choices:
        links = feedback_links(web.pipeline.signer, "https://amw.example/", reader, choice.article)
        if links["more"]:  # never "More on X" for an X the reader follows
            assert links["more"]["name"] not in reader.companies | reader.segments
            assert links["more"]["url"].startswith("https://amw.example/feedback/")
        assert links["less"] is not None
        sid, extra = web.pipeline.signer.read("feedback", links["less"]["url"].rsplit("/", 1)[1])
        assert sid == reader.id and extra["d"] == "mute" and extra["n"] == links["less"]["name"]
        assert (extra["k"], extra["n"]) not in {("company", c) for c in reader.companies}


def test_feedback_get_changes_nothing_and_the_confirming_post_follows_the_company(web):
    fb = token(web, "feedback", k="company", n="Nvidia", d="more")
    page = web.remote.get(f"/feedback/{fb}")
    assert page.status_code == 200 and "Nvidia" in page.text and "Nvidia" not in follows(web)["companies"]
    response = web.remote.post(f"/feedback/{fb}", data={"token": fb})
    assert response.status_code == 200 and "You now follow Nvidia" in response.text
    assert "Nvidia" in follows(web)["companies"]
    assert "already follow" in web.remote.post(f"/feedback/{fb}", data={"token": fb}).text


def test_less_of_a_followed_company_unfollows_it(web):
    fb = token(web, "feedback", k="company", n="xAI", d="less")
    assert web.remote.post(f"/feedback/{fb}", data={"token": fb}).status_code == 200
    assert follows(web)["companies"] == {"OpenAI"}


def test_less_of_a_company_reached_through_a_segment_changes_nothing_and_says_so(web):
    fb = token(web, "feedback", k="company", n="Udio", d="less")
    before = follows(web)
    response = web.remote.post(f"/feedback/{fb}", data={"token": fb})
    assert response.status_code == 200 and "don&#39;t follow Udio" in response.text and follows(web) == before


def test_less_of_a_segment_followed_through_its_parent_keeps_the_siblings(web):
    reader = "jihoon.park@example.net"  # follows the whole of Compute
    fb = token(web, "feedback", email=reader, k="segment", n="Compute · Chips", d="less")
    response = web.remote.post(f"/feedback/{fb}", data={"token": fb})
    assert response.status_code == 200
    assert follows(web, reader)["segments"] == {"Compute · Cloud Deals", "Compute · Data Centers"}


def test_feedback_post_without_the_form_token_or_with_a_tampered_token_changes_nothing(web):
    fb = token(web, "feedback", k="company", n="Nvidia", d="more")
    assert web.remote.post(f"/feedback/{fb}", data={}).status_code == 400
    assert web.remote.post(f"/feedback/{fb[:-2]}zz", data={"token": f"{fb[:-2]}zz"}).status_code == 400
    odd = token(web, "feedback", k="person", n="Nvidia", d="more")  # signed, but not a request we know
    assert web.remote.get(f"/feedback/{odd}").status_code == 400
    assert "Nvidia" not in follows(web)["companies"]


def test_feedback_for_a_name_no_longer_known_is_a_400_page(web):
    fb = token(web, "feedback", k="company", n="Defunct Corp", d="more")
    assert web.remote.post(f"/feedback/{fb}", data={"token": fb}).status_code == 400


# -- web version ------------------------------------------------------------------------------------

def test_web_version_of_a_sent_issue_is_the_html_that_was_sent(web):
    web.pipeline.send_due(MemoryMailer(), AS_OF)
    sent = next(m for m in MemoryMailer.outbox if m.recipient == ANA)
    html_part = email.message_from_bytes(sent.data, policy=policy.default).get_body(("html",)).get_content()
    link = re.search(r'href="(http://127\.0\.0\.1:8000/web/[^"]+)"', html_part).group(1)
    response = web.remote.get(link.removeprefix(web.settings.base_url))
    assert response.status_code == 200
    # The same document: the mail carries non-ASCII text as character references (&#8230;).
    assert unescape(response.text.replace("\r\n", "\n")) == unescape(html_part.replace("\r\n", "\n"))
    assert "&#" in html_part and "sandbox" in response.headers["content-security-policy"]


def test_web_version_of_a_period_never_sent_is_a_404(web):
    mark_sent(web.engine, web.pipeline, ANA)
    assert web.remote.get(f"/web/{token(web, 'web', p='2026-W01')}").status_code == 404


def test_web_version_with_a_tampered_token_or_no_period_is_the_neutral_page(web):
    row = mark_sent(web.engine, web.pipeline, ANA)
    good = token(web, "web", p=row.period)
    assert web.remote.get(f"/web/{good}").status_code == 200
    assert web.remote.get(f"/web/{good[:-2]}zz").status_code == 400
    assert web.remote.get(f"/web/{token(web, 'web')}").status_code == 400


# -- double opt-in ----------------------------------------------------------------------------------

def test_confirm_link_activates_a_pending_subscriber_only_on_post(web):
    from subscribers.records import add_subscriber

    with Session(web.engine) as session:
        person = add_subscriber(session, email="new@example.com", double_opt_in=True)
        session.commit()
        sid = person.id
    link = f"/confirm/{web.pipeline.signer.make('confirm', sid)}"
    assert web.remote.get(link).status_code == 200 and subscriber(web, "new@example.com").status == "pending"
    assert web.remote.post(link).status_code == 200 and subscriber(web, "new@example.com").status == "active"
    assert web.remote.post(link[:-2] + "zz").status_code == 400


def test_test_send_links_do_nothing(web):
    assert web.remote.post("/test-link", data=ONE_CLICK).status_code == 200


# -- logs -------------------------------------------------------------------------------------------

def test_access_log_lines_carry_no_tokens_addresses_or_subscriber_ips():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("198.51.100.4:5000", "POST", "/unsubscribe/eyJhbGci.abc-def_1", "1.1", 200), None)
    RedactAccessLog().filter(record)
    line = record.getMessage()
    assert "eyJhbGci" not in line and "198.51.100.4" not in line and "/unsubscribe/<token>" in line
    assert redact_path("/preview?email=ana@example.com") == "/preview?<query>"
    assert redact_path("/web/abc.def") == "/web/<token>"


# -- digest serve -----------------------------------------------------------------------------------

def _serve(tmp_path, *args, **env):
    from digest.cli import main

    environ = {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "DIGEST_SECRET_KEY": "k",
               "DIGEST_STAFF_TOKEN": "", **env}
    return CliRunner().invoke(main, ["serve", *args], env=environ)


def test_serve_refuses_a_public_address_without_a_staff_token(tmp_path):
    result = _serve(tmp_path, "--host", "0.0.0.0")
    assert result.exit_code == 2 and "DIGEST_STAFF_TOKEN" in result.output


def test_serve_refuses_a_short_staff_token(tmp_path):
    result = _serve(tmp_path, "--host", "0.0.0.0", DIGEST_STAFF_TOKEN="short")
    assert result.exit_code == 2 and "at least 16" in result.output


def test_serve_refuses_a_database_without_schema(tmp_path):
    result = _serve(tmp_path)
    assert result.exit_code == 2 and "digest init" in result.output


def test_an_unreadable_spool_folder_does_not_stop_a_one_click_unsubscribe_but_stops_a_send(seeded, tmp_path):
    # DIGEST_SPOOL_DIR names something that is not a readable folder (a file here: the tests run as root,
    # which no permission bit stops).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    world = _world(copy_seeded(seeded, tmp_path), tmp_path, spool_dir=str(blocker))
    try:
        response = world.remote.post(f"/unsubscribe/{token(world, 'unsubscribe')}", data=ONE_CLICK)
        assert response.status_code == 200 and subscriber(world).status == "unsubscribed"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(DIGEST_DATABASE_URL=world.settings.database_url, DIGEST_SECRET_KEY=SECRET,
                   DIGEST_OUTBOX=str(tmp_path / "outbox"), DIGEST_SPOOL_DIR=str(blocker))
        send = subprocess.run([sys.executable, "-m", "digest", "send", "--due", "--as-of", AS_OF_TEXT, "--json"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert send.returncode == 2 and "DIGEST_SPOOL_DIR" in json.loads(send.stdout)["error"]
        assert not list(tmp_path.glob("outbox/**/*.eml"))
        with Session(world.engine) as session:
            assert session.exec(select(Digest).where(Digest.state == "sent")).first() is None
    finally:
        world.engine.dispose()
