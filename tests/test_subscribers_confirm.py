"""`digest subscribers add|import` with double opt-in mail the web signup's confirmation notice
through the configured mailer (the file mailer into the test's outbox, or aiosmtpd on loopback),
keep a subscriber whose confirmation failed pending with the link printed, and send nothing with
--no-confirmation-mail."""

from __future__ import annotations

import dataclasses
import json
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.cli.subscribers import subscribers_group
from digest.models import SignupMail, Subscriber
from digest.web import create_app
from subscribers.records import confirm
from subscribers.tokens import Signer
from tests.signup_helpers import html_part, link_in, parsed, text_part
from tests.smtp_helpers import SMTPServer, free_port
from tests.web_helpers import remote_client

from subscribers_helpers import SECRET, cli_obj, engine, _pg_database, _sqlite_template  # noqa: F401

HEADER = "email,name,companies,segments,timezone,send_day,send_hour,frequency,max_articles,language\n"


def invoke(obj, *args):
    return CliRunner().invoke(subscribers_group, list(args), obj=obj, catch_exceptions=False)


def as_json(result, code=0):
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def outbox(obj) -> list[SimpleNamespace]:
    """The messages the file mailer wrote, as the signup helpers read them (`.data`)."""
    folder = Path(obj.settings.outbox)
    return [SimpleNamespace(data=p.read_bytes()) for p in sorted(folder.glob("*.eml"))] if folder.is_dir() else []


def person(engine, address: str) -> Subscriber:
    with Session(engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email_key == address.casefold())).one()


def claims(engine) -> list[SignupMail]:
    with Session(engine) as session:
        return list(session.exec(select(SignupMail).order_by(SignupMail.id)))


def with_settings(obj, **changes):
    return SimpleNamespace(settings=dataclasses.replace(obj.settings, **changes), engine=obj.engine)


def test_add_mails_the_signup_confirmation_in_the_readers_language_and_its_link_confirms_on_the_web(cli_obj, engine):
    out = as_json(invoke(cli_obj, "add", "seoyeon@example.org", "--name", "서연", "--language", "ko",
                         "--double-opt-in", "--json"))
    assert out["subscriber"]["status"] == "pending" and out["confirmation"] == "sent"
    assert out["confirm_link"].startswith("https://digest.example/confirm/")  # the old field keeps working
    [mail] = outbox(cli_obj)
    message = parsed(mail)
    assert message["To"].endswith("<seoyeon@example.org>") and message["List-Unsubscribe"]
    assert message["Subject"] == "AMW 다이제스트 구독을 확인해 주세요"  # the web signup's notice, in Korean
    assert text_part(mail).startswith("서연님, 안녕하세요.") and "구독 확인하기" in unescape(html_part(mail))
    [claim] = claims(engine)  # recorded as the web's confirmations are: it counts against the day's cap
    assert (claim.kind, claim.state, claim.message_id) == ("confirm", "sent", message["Message-ID"])

    link = urlsplit(link_in(mail, "/confirm/")).path
    app = create_app(cli_obj.settings, engine, spool_thread=False)
    with remote_client(app) as web:
        assert web.get(link).status_code == 200 and person(engine, "seoyeon@example.org").status == "pending"
        done = web.post(link, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/preferences/")
    assert person(engine, "seoyeon@example.org").status == "active"


def test_add_says_in_text_that_the_confirmation_went_out(cli_obj):
    result = invoke(cli_obj, "add", "new@example.com", "--double-opt-in")
    assert result.exit_code == 0
    assert "confirmation email sent to new@example.com" in result.stdout
    assert "send it to the subscriber" not in result.stdout
    assert len(outbox(cli_obj)) == 1


def test_an_active_subscriber_gets_no_confirmation(cli_obj, engine):
    out = as_json(invoke(cli_obj, "add", "plain@example.com", "--json"))
    assert out["subscriber"]["status"] == "active" and "confirmation" not in out and "confirm_link" not in out
    assert outbox(cli_obj) == [] and claims(engine) == []


def test_no_confirmation_mail_keeps_the_print_only_behaviour_and_sends_nothing(cli_obj, engine):
    out = as_json(invoke(cli_obj, "add", "quiet@example.com", "--double-opt-in", "--no-confirmation-mail", "--json"))
    assert out["confirmation"] == "not sent" and out["subscriber"]["status"] == "pending"
    text = invoke(cli_obj, "add", "quiet2@example.com", "--double-opt-in", "--no-confirmation-mail")
    assert text.exit_code == 0
    assert "confirmation link (send it to the subscriber): https://digest.example/confirm/" in text.stdout
    assert outbox(cli_obj) == [] and claims(engine) == []
    with Session(engine) as session:  # the printed link is the way in, as before
        token = out["confirm_link"].rsplit("/", 1)[1]
        assert confirm(session, token, Signer([SECRET])).status == "active"


def test_a_refused_confirmation_keeps_the_subscriber_pending_reports_why_and_exits_1(cli_obj, engine):
    with SMTPServer() as server:
        obj = with_settings(cli_obj, mailer="smtp", smtp_host="127.0.0.1", smtp_port=server.port)
        out = as_json(invoke(obj, "add", "nouser@example.com", "--double-opt-in", "--json"), code=1)
        assert server.messages == []
    assert out["confirmation"].startswith("failed: ") and "550" in out["confirmation"]
    assert out["subscriber"]["status"] == "pending" and person(engine, "nouser@example.com").status == "pending"
    [claim] = claims(engine)
    assert claim.state == "failed" and "550" in claim.detail  # a failed email does not count against the cap
    with Session(engine) as session:  # the link in the payload still confirms
        assert confirm(session, out["confirm_link"].rsplit("/", 1)[1], Signer([SECRET])).status == "active"


def test_an_unreachable_mail_server_keeps_the_subscriber_and_prints_the_link_as_the_fallback(cli_obj, engine):
    obj = with_settings(cli_obj, mailer="smtp", smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=5)
    result = invoke(obj, "add", "far@example.com", "--double-opt-in")
    assert result.exit_code == 1, result.output
    assert "confirmation email to far@example.com failed: " in result.stdout
    assert "the subscriber stays pending" in result.stdout
    assert "confirmation link (send it to the subscriber): https://digest.example/confirm/" in result.stdout
    assert person(engine, "far@example.com").status == "pending"
    assert [c.state for c in claims(engine)] == ["failed"]


def test_add_respects_the_daily_confirmation_cap_and_prints_the_link_instead(cli_obj, engine):
    assert as_json(invoke(cli_obj, "add", "back@example.com", "--double-opt-in", "--json"))["confirmation"] == "sent"
    assert invoke(cli_obj, "unsubscribe", "back@example.com").exit_code == 0
    out = as_json(invoke(cli_obj, "add", "back@example.com", "--resubscribe", "--double-opt-in", "--json"))
    assert out["subscriber"]["status"] == "pending"
    assert out["confirmation"].startswith("not sent: ") and "DIGEST_SIGNUP_MAILS_PER_DAY" in out["confirmation"]
    assert len(outbox(cli_obj)) == 1 and len(claims(engine)) == 1


def test_import_mails_each_new_pending_subscriber_once_and_reports_a_refused_one(cli_obj, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "mina@example.com,미나,,,Asia/Seoul,mon,8,weekly,8,ko\n"
                    + "nouser@example.com,Nobody,,,UTC,mon,8,weekly,8,\n", encoding="utf-8")
    with SMTPServer() as server:
        obj = with_settings(cli_obj, mailer="smtp", smtp_host="127.0.0.1", smtp_port=server.port)
        report = as_json(invoke(obj, "import", str(path), "--double-opt-in", "--json"), code=1)
        mina, nobody = person(engine, "mina@example.com"), person(engine, "nouser@example.com")
        assert report["confirmations"][str(mina.id)] == "sent"
        assert report["confirmations"][str(nobody.id)].startswith("failed: ")
        assert set(report["confirm_links"]) == {str(mina.id), str(nobody.id)}  # the old field keeps working
        [received] = server.messages
        assert received.rcpt_tos == ["mina@example.com"]
        assert parsed(received)["Subject"] == "AMW 다이제스트 구독을 확인해 주세요"
        # Importing again changes nothing and mails nobody.
        again = as_json(invoke(obj, "import", str(path), "--double-opt-in", "--json"))
        assert again["unchanged"] == 2 and "confirmations" not in again and len(server.messages) == 1
    assert (mina.status, nobody.status) == ("pending", "pending")
    assert statuses_of(engine) == {"mina@example.com": "pending", "nouser@example.com": "pending"}


def test_import_text_names_a_failed_confirmation_with_its_link(cli_obj, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "far@example.com,Far,,,UTC,mon,8,weekly,8,\n", encoding="utf-8")
    obj = with_settings(cli_obj, mailer="smtp", smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=5)
    result = invoke(obj, "import", str(path), "--double-opt-in")
    assert result.exit_code == 1, result.output
    assert "1 pending confirmation: 0 confirmation email(s) sent, 1 failed" in result.stdout
    assert "far@example.com failed: " in result.stderr and "https://digest.example/confirm/" in result.stderr
    assert statuses_of(engine) == {"far@example.com": "pending"}


@pytest.mark.parametrize("flag", ["--no-confirmation-mail", "--dry-run"])
def test_import_without_confirmation_mail_or_as_a_dry_run_sends_nothing(cli_obj, engine, tmp_path, flag):
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "ana@example.com,Ana,,,UTC,mon,8,weekly,8,\n", encoding="utf-8")
    report = as_json(invoke(cli_obj, "import", str(path), "--double-opt-in", flag, "--json"))
    assert outbox(cli_obj) == [] and claims(engine) == []
    if flag == "--dry-run":
        assert "confirmations" not in report and statuses_of(engine) == {}
    else:
        assert list(report["confirmations"].values()) == ["not sent"] and len(report["confirm_links"]) == 1
        assert statuses_of(engine) == {"ana@example.com": "pending"}


def statuses_of(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.status for s in session.exec(select(Subscriber))}
