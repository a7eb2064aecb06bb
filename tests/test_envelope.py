"""Traceable messages (issue 17, item 1): the VERP envelope sender and the DSN ENVID name the
ledger row and verify back to it, RET=HDRS/ENVID/NOTIFY only where the server offers DSN, the
EHLO name, the signed mailto: of List-Unsubscribe; forged tokens are refused. Real aiosmtpd."""

from __future__ import annotations

import email
import logging
import re
from email import policy
from html import unescape

import pytest
from sqlmodel import Session, select

from digest.config import BOUNCE_LOCAL_MAX, Settings, load_settings
from digest.envelope import Envelope, digest_for, digest_id_of, helo_name, subscriber_of_mailto, unxtext, xtext
from digest.errors import ConfigError, TokenError
from digest.mailers import get_mailer
from digest.models import Digest, Subscriber
from digest.pipeline import Pipeline
from digest.tokens import Signer
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.smtp_helpers import SMTPServer

RUN = SLOT.replace(minute=5)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def articles(engine, tmp_path):
    load_articles(engine, tmp_path, [make_article(i, company="xAI") for i in range(4)])


def send(engine, settings, srv, *addresses, **changes):
    add_people(engine, [{"email": a, "name": "Reader", "companies": ["xAI"]} for a in addresses])
    settings = settings.replace(mailer="smtp", smtp_host="127.0.0.1", smtp_port=srv.port, smtp_timeout=5.0,
                                from_address="AMW Digest <digest@amw.example>", **changes)
    pipeline = Pipeline(engine, settings)
    counts = pipeline.send_due(get_mailer("smtp", settings), RUN)
    assert counts.sent == len(addresses)
    return pipeline


def row_of(session, address) -> Digest:
    return session.exec(select(Digest).join(Subscriber, Subscriber.id == Digest.subscriber_id)
                        .where(Subscriber.email == address)).one()


def option(options, name):
    found = [o.split("=", 1)[1] for o in options if o.upper().startswith(name + "=")]
    return found[0] if found else None


@pytest.mark.parametrize("pipelining", [True, False])
def test_with_dsn_offered_mail_from_names_the_row_and_carries_ret_hdrs_envid_and_notify(
        engine, settings, articles, pipelining):
    with SMTPServer(dsn=True, pipelining=pipelining) as srv:
        pipeline = send(engine, settings, srv, "ana@example.com", "bo@example.com")
    assert len(srv.messages) == 2
    with Session(engine) as session:
        for received in srv.messages:
            (recipient,) = received.rcpt_tos
            row = row_of(session, recipient)
            local, _, domain = received.mail_from.rpartition("@")
            assert domain == "amw.example" and local.startswith("bounces+") and len(local) <= 64
            assert received.mail_from == received.mail_from.lower()
            assert digest_for(session, pipeline.signer, received.mail_from).id == row.id
            # aiosmtpd upper-cases the parameters, as a case-folding MTA may: the token still reads.
            assert option(received.mail_options, "RET") == "HDRS"
            envid = option(received.mail_options, "ENVID")
            assert envid == envid.upper() and digest_id_of(pipeline.signer, envid) == row.id
            assert "NOTIFY=FAILURE,DELAY" in received.rcpt_options
            # Return-Path is the receiver's to add; the From header is unchanged.
            parsed = email.message_from_bytes(received.data, policy=policy.default)
            assert parsed["From"].addresses[0].addr_spec == "digest@amw.example"
    # Two readers, two rows, two different senders.
    assert len({m.mail_from for m in srv.messages}) == 2
    assert srv.handler.ehlo_names and set(srv.handler.ehlo_names) == {"amw.example"}


@sqlite_only
def test_without_dsn_offered_no_dsn_parameter_is_sent_and_the_sender_is_still_traceable(engine, settings, articles):
    with SMTPServer(dsn=False) as srv:
        pipeline = send(engine, settings, srv, "ana@example.com")
    (received,) = srv.messages
    assert not any(o.upper().startswith(("RET=", "ENVID=")) for o in received.mail_options)
    assert received.rcpt_options == []
    with Session(engine) as session:
        assert digest_for(session, pipeline.signer, f"<{received.mail_from}>").id == row_of(session, "ana@example.com").id


@sqlite_only
def test_a_configured_helo_name_and_bounce_address_are_used(engine, settings, articles):
    with SMTPServer(dsn=True) as srv:
        send(engine, settings, srv, "ana@example.com", smtp_helo="mx1.amw.example", bounce_local="rp",
             bounce_domain="Bounce.AMW.example")
    assert set(srv.handler.ehlo_names) == {"mx1.amw.example"}
    assert srv.messages[0].mail_from.startswith("rp+") and srv.messages[0].mail_from.endswith("@bounce.amw.example")


def test_the_helo_name_is_never_localhost_without_a_warning(caplog):
    base = Settings(secret_key="k")
    assert helo_name(base.replace(from_address="D <d@amw.example>"), lambda: "localhost") == "amw.example"
    assert helo_name(base.replace(smtp_helo="mx.amw.example"), lambda: "localhost") == "mx.amw.example"
    with caplog.at_level(logging.WARNING, logger="digest.envelope"):
        assert helo_name(base, lambda: "host.amw.example") == "host.amw.example"  # From is @localhost
        assert not caplog.records
        assert helo_name(base, lambda: "localhost") == "localhost"
    assert "DIGEST_SMTP_HELO" in caplog.text


def test_forged_altered_or_foreign_tokens_name_no_row():
    signer, other = Signer(["key-1"]), Signer(["key-2"])
    envelope = Envelope(signer, local="bounces", domain="amw.example", mailto_address="u@amw.example")
    good = envelope.sender(42)
    assert digest_id_of(signer, good) == 42 and digest_id_of(signer, good.upper()) == 42
    token = envelope.token(42)
    number, mac = token.split("-")
    forged = [
        good.replace(f"+{number}-", "+43-"),  # another row, same MAC
        good.replace(mac, ("a" if mac[0] != "a" else "b") + mac[1:]),  # one character changed
        good.replace(mac, mac[:-1]),  # truncated
        Envelope(other, local="bounces", domain="amw.example", mailto_address="u").sender(42),  # another key
        f"bounces+{signer.make_compact('mailto', 42)}@amw.example",  # another purpose
        "bounces@amw.example", "bounces+@amw.example", "bounces+042-" + mac + "@amw.example", "", "x" * 600,
    ]
    for value in forged:
        with pytest.raises(TokenError):
            digest_id_of(signer, value)
    # An old key still verifies after rotation (mail sent before it bounces later).
    assert digest_id_of(Signer(["key-new", "key-1"]), good) == 42


def test_digest_for_refuses_a_forged_token_before_reading_the_database():
    class NoSession:
        def get(self, *args):
            raise AssertionError("read the database for a forged token")

    with pytest.raises(TokenError):
        digest_for(NoSession(), Signer(["k"]), "bounces+1-aaaaaaaaaaaaaaaa@amw.example")


def test_envid_is_xtext_and_reads_back():
    assert xtext("a+b=c d\u00e9") == "a+2Bb+3Dc+20d+C3+A9"
    assert unxtext(xtext("12-abc+=")) == "12-abc+="
    signer = Signer(["k"])
    assert digest_id_of(signer, xtext(signer.make_compact("bounce", 7))) == 7


def test_the_longest_possible_sender_fits_a_local_part():
    signer = Signer(["k"])
    local = "b" * BOUNCE_LOCAL_MAX
    address = Envelope(signer, local=local, domain="amw.example", mailto_address="u").sender(2**63 - 1)
    assert len(address.rpartition("@")[0]) <= 64 and digest_id_of(signer, address) == 2**63 - 1


def test_bounce_settings_are_checked():
    assert load_settings({"DIGEST_BOUNCE_LOCAL": "rp", "DIGEST_BOUNCE_DOMAIN": "B.amw.example."}).bounce_domain == "b.amw.example"
    for env in ({"DIGEST_BOUNCE_LOCAL": "a+b"}, {"DIGEST_BOUNCE_LOCAL": "x" * (BOUNCE_LOCAL_MAX + 1)},
                {"DIGEST_BOUNCE_DOMAIN": "not a domain"}, {"DIGEST_SOFT_BOUNCE_LIMIT": "0"}):
        with pytest.raises(ConfigError, match=next(iter(env))):
            load_settings(env)


@sqlite_only
def test_the_list_unsubscribe_mailto_names_the_reader_signed(engine, settings, articles):
    with SMTPServer() as srv:
        pipeline = send(engine, settings, srv, "ana@example.com", "bo@example.com")
    with Session(engine) as session:
        ids = {s.email: s.id for s in session.exec(select(Subscriber))}
    for received in srv.messages:
        header = email.message_from_bytes(received.data, policy=policy.default)["List-Unsubscribe"]
        mailto = [part.strip(" <>") for part in header.split(",") if "mailto:" in part][0]
        assert mailto.startswith("mailto:unsubscribe@amw.example?subject=unsubscribe%20")
        subject = "Re: " + mailto.partition("subject=")[2].replace("%20", " ")
        assert subscriber_of_mailto(pipeline.signer, subject) == ids[received.rcpt_tos[0]]
    with pytest.raises(TokenError):
        subscriber_of_mailto(pipeline.signer, "unsubscribe 1-aaaaaaaaaaaaaaaa")
    with pytest.raises(TokenError):
        subscriber_of_mailto(pipeline.signer, "unsubscribe")


URL = re.compile(r"https?://[^\s<>\"']+")


@sqlite_only
def test_the_text_part_carries_every_link_of_the_html_part_as_often(engine, settings, tmp_path):
    # rspamd's URI_COUNT_ODD scores a multipart/alternative message whose URL count is odd: the text
    # twin missing the company and feedback links, and the footer's web link, made it so.
    load_articles(engine, tmp_path, [make_article(1, company="xAI"), make_article(2, company="Mistral"),
                                     make_article(3, company="xAI", related=["https://amw.example/news/story-1"])])
    add_people(engine, [{"email": "ana@example.com", "name": "Ana", "companies": ["xAI"]}])
    built = Pipeline(engine, settings).preview("ana@example.com", RUN)
    parsed = email.message_from_bytes(built.message, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    hrefs = sorted(unescape(h) for h in re.findall(r'href="([^"]+)"', html) if h.startswith("http"))
    assert any("/feedback/" in h for h in hrefs) and any("/companies/" in h for h in hrefs)
    assert sorted(URL.findall(text)) == hrefs


def test_an_internationalized_from_domain_gives_an_ascii_envelope_sender():
    settings = Settings(secret_key="k", from_address="Büro <digest@bücher.example>")
    sender = Envelope.from_settings(settings, Signer(["k"])).sender(5)
    assert sender.isascii() and sender.endswith("@xn--bcher-kva.example")
