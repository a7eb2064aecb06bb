"""Helpers for the signup and archive tests: a seeded app, the confirmation emails the memory
mailer kept, and the link inside one."""

from __future__ import annotations

import email
import re
from email import policy
from types import SimpleNamespace

from sqlmodel import Session, select

from digest.db import make_engine
from digest.mailers.memory import MemoryMailer
from digest.models import Subscriber
from digest.web import create_app
from tests.web_helpers import remote_client, settings_for

ACCEPTED = {"status": "accepted", "message": "If this address can receive the AMW Digest, an email is on its way to it."}


def world(url, folder, **changes):
    settings = settings_for(url, folder, **changes)
    engine = make_engine(url)
    app = create_app(settings, engine)
    MemoryMailer.reset()
    return SimpleNamespace(app=app, engine=engine, settings=settings, remote=remote_client(app))


def parsed(outgoing) -> email.message.EmailMessage:
    return email.message_from_bytes(outgoing.data, policy=policy.default)


def text_part(outgoing) -> str:
    return parsed(outgoing).get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_part(outgoing) -> str:
    return parsed(outgoing).get_body(("html",)).get_content()


def mails_to(address: str) -> list:
    return [m for m in MemoryMailer.outbox if m.recipient == address]


def link_in(outgoing, path: str) -> str:
    """The first link to `path` (like /confirm/) in the text part."""
    match = re.search(r"(https?://\S+" + re.escape(path) + r"\S+)", text_part(outgoing))
    assert match, text_part(outgoing)
    return match.group(1)


def subscriber(engine, address: str) -> Subscriber | None:
    with Session(engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email_key == address.casefold())).first()
