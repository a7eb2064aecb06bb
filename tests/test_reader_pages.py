"""The reader's pages as the reader reads them (issue 15): the unsubscribe page's way back and
contact address. Each test sends real digests through the due pass and follows the links of the
built message."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlmodel import Session

from digest.config import load_settings
from digest.errors import ConfigError
from digest.models import Subscriber, Suppression
from digest.suppression import suppress
from digest.ingest import ingest_files
from tests.test_reader_email import RUN, send, story, world  # noqa: F401 (world is a fixture)
from tests.web_helpers import local_client, subscriber_id

CONTACT = "readers@amw.example"


def client_for(world, **changes):
    from digest.web import create_app

    settings = world.settings.replace(**changes)
    return local_client(create_app(settings, world.engine))


def add_story(world, article: dict) -> None:
    path = world.tmp_path / f"more-{article['url'].rsplit('/', 1)[1]}.jsonl"
    path.write_text(json.dumps(article), encoding="utf-8")
    with Session(world.engine) as session:
        assert not ingest_files(session, [path]).rejected
        session.commit()


def unsubscribe_path(world, message) -> str:
    """The unsubscribe link of the text part; the HTML part carries the same one."""
    link = re.search(r"Unsubscribe: (\S+)", message.text).group(1)
    assert link in message.html
    return link.removeprefix(world.settings.base_url)


def undo_form(page: str) -> tuple[str, str]:
    """(action, hidden token) of the "Changed your mind?" form."""
    form = re.search(r'<form method="post" action="([^"]+)" id="undo">(.*?)</form>', page, re.S)
    assert form, page
    token = re.search(r'name="token" value="([^"]+)"', form.group(2)).group(1)
    return form.group(1), token


def state(world, address: str) -> tuple[str, str | None]:
    with Session(world.engine) as session:
        subscriber = session.get(Subscriber, subscriber_id(world.engine, address))
        row = session.get(Suppression, subscriber.email_key)
        return subscriber.status, row.reason if row else None


def test_changed_your_mind_subscribes_the_reader_again_and_the_next_issue_reaches_them(world):
    client = client_for(world, contact_address=CONTACT)
    _, sent = send(world)
    path = unsubscribe_path(world, sent["dana@example.com"])
    done = client.post(path, data={"List-Unsubscribe": "One-Click"}).text
    assert "You're unsubscribed" in done and "Changed your mind?" in done
    assert "Contact us and we will add you back" not in done
    assert f'<a href="mailto:{CONTACT}">{CONTACT}</a>' in done
    action, token = undo_form(done)
    assert action == f"{path}/undo" and token == path.rsplit("/", 1)[1]  # the same signed token
    assert state(world, "dana@example.com") == ("unsubscribed", "unsubscribed")

    again = client.get(path).text  # the link opened again later: the way back is still offered
    assert "You're already unsubscribed" in again and undo_form(again) == (action, token)

    back = client.post(action, data={"token": token}).text
    assert "You're subscribed again" in back and "will receive the daily AMW Digest again" in back
    assert state(world, "dana@example.com") == ("active", None)  # the suppression row is lifted
    add_story(world, story(7, "OpenAI opens a Berlin office", hours=-12))  # in Dana's next day
    _, sent = send(world, RUN + timedelta(days=1))
    assert "Berlin office" in sent["dana@example.com"].text


def test_the_way_back_needs_the_form_token_so_another_site_cannot_post_it(world):
    client = client_for(world)
    _, sent = send(world)
    path = unsubscribe_path(world, sent["wes@example.com"])
    client.post(path, data={"List-Unsubscribe": "One-Click"})
    for data in ({}, {"token": "forged"}):
        page = client.post(f"{path}/undo", data=data)
        assert "subscribed again" not in page.text and "mailto:" not in page.text
        assert state(world, "wes@example.com") == ("unsubscribed", "unsubscribed")


@pytest.mark.parametrize("reason", ["bounced", "complained"])
def test_a_reader_stopped_by_a_bounce_or_complaint_is_offered_no_way_back_and_cannot_force_one(world, reason):
    client = client_for(world, contact_address=CONTACT)
    _, sent = send(world)
    path = unsubscribe_path(world, sent["wes@example.com"])
    with Session(world.engine) as session:
        suppress(session, "wes@example.com", reason, "test")
        session.commit()
    page = client.get(path).text
    assert "You're already unsubscribed" in page and "Changed your mind?" not in page
    assert f"mailto:{CONTACT}" in page  # a person can still help
    token = path.rsplit("/", 1)[1]
    forced = client.post(f"{path}/undo", data={"token": token}).text
    assert "subscribed again" not in forced
    assert state(world, "wes@example.com") == (reason, reason)


def test_a_spooled_unsubscribe_is_applied_before_the_way_back(world):
    client = client_for(world)
    _, sent = send(world)
    path = unsubscribe_path(world, sent["max@example.com"])
    client.app.state.spool.put(subscriber_id(world.engine, "max@example.com"), "one-click")  # the database was busy
    client.post(f"{path}/undo", data={"token": path.rsplit("/", 1)[1]})
    assert not client.app.state.spool.pending()
    assert state(world, "max@example.com") == ("active", None)  # not unsubscribed after the way back


def test_without_a_contact_address_the_page_names_none_and_a_bad_one_is_refused():
    page_settings = load_settings({})
    assert page_settings.contact_address is None
    assert load_settings({"DIGEST_CONTACT_ADDRESS": " readers@amw.example "}).contact_address == CONTACT
    for bad, why in (("not an address", "one address like"), ("Readers <r@amw.example>", "a bare address like")):
        with pytest.raises(ConfigError, match=f"DIGEST_CONTACT_ADDRESS must be {why}"):
            load_settings({"DIGEST_CONTACT_ADDRESS": bad})
