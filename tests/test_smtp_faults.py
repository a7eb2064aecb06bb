"""The SMTP mailer against a real aiosmtpd on loopback that injects faults, one recipient at a time."""

from __future__ import annotations

import ssl
from dataclasses import replace

import pytest

from digest.errors import ConfigError
from digest.mailers.smtp import SMTPMailer, classify
from digest.types import Outcome
from smtp_helpers import SMTPServer, free_port, make_certificate
from smtp_sink import MinimalSMTP, ThreadedSink
from test_mailers import outgoing

DEFERRED, FAILED, REJECTED, SENT, UNKNOWN = Outcome.DEFERRED, Outcome.FAILED, Outcome.REJECTED, Outcome.SENT, Outcome.UNKNOWN


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def server(request):
    with SMTPServer(stall_seconds=2.0, pipelining=request.param) as srv:
        yield srv


def mailer_for(srv, **options) -> SMTPMailer:
    options.setdefault("timeout", 5.0)
    return SMTPMailer("127.0.0.1", srv.port, **options)


def statuses(results):
    return [r.status for r in results]


def test_451_defers_and_a_later_run_delivers_exactly_once(server):
    mailer = mailer_for(server)
    first = mailer.send_messages([outgoing("tempfail@example.com", "1")])
    assert first[0].status == DEFERRED and (first[0].code, first[0].enhanced) == (451, "4.3.0")
    assert server.handler.to("tempfail@example.com") == []
    assert statuses(mailer.send_messages([outgoing("tempfail@example.com", "1")])) == [SENT]
    assert len(server.handler.to("tempfail@example.com")) == 1


@pytest.mark.parametrize("connections", [1, 3])
def test_550_5_1_1_is_a_hard_bounce_and_the_other_recipients_still_get_theirs(server, connections):
    results = mailer_for(server, connections=connections).send_messages(
        [outgoing("a@example.com", "1"), outgoing("nouser@example.com", "2"), outgoing("b@example.com", "3")]
    )
    assert statuses(results) == [SENT, REJECTED, SENT]
    assert (results[1].code, results[1].enhanced) == (550, "5.1.1")
    assert {m.rcpt_tos[0] for m in server.messages} == {"a@example.com", "b@example.com"}


def test_550_5_7_1_policy_rejection_fails_the_message_without_calling_it_a_bounce(server):
    results = mailer_for(server).send_messages([outgoing("policy@example.com", "1"), outgoing("a@example.com", "2")])
    assert statuses(results) == [FAILED, SENT]
    assert results[0].enhanced == "5.7.1"


def test_connection_dropped_after_data_before_the_reply_defers_and_the_next_message_goes_on_a_new_connection(server):
    results = mailer_for(server).send_messages([outgoing("drop@example.com", "1"), outgoing("a@example.com", "2")])
    assert statuses(results) == [DEFERRED, SENT]
    assert "connection lost" in results[0].detail


def test_no_final_reply_within_the_data_timeout_is_unknown_not_deferred_and_the_rest_are_delivered(server):
    # The server stalls 2 s after the data, then accepts: exactly the copy a retry would double.
    results = mailer_for(server, timeout=0.5, data_timeout=0.5).send_messages(
        [outgoing("stall@example.com", "1"), outgoing("a@example.com", "2")])
    assert statuses(results) == [UNKNOWN, SENT]
    assert not results[0].accepted and "may have accepted it" in results[0].detail
    assert server.handler.to("a@example.com")


def test_a_final_reply_slower_than_the_command_timeout_but_within_the_data_timeout_is_sent_once(server):
    # 2 s of silence after the data: four command timeouts, well inside the data timeout.
    results = mailer_for(server, timeout=0.5, data_timeout=30.0).send_messages([outgoing("stall@example.com", "1")])
    assert statuses(results) == [SENT]
    assert len(server.handler.to("stall@example.com")) == 1


def test_without_smtputf8_only_the_non_ascii_recipient_fails_with_a_clear_reason():
    with SMTPServer(smtputf8=False) as srv:
        results = mailer_for(srv).send_messages([outgoing("jösé@example.com", "1"), outgoing("jose@example.com", "2")])
        assert statuses(results) == [FAILED, SENT]
        assert "SMTPUTF8" in results[0].detail
        assert [m.rcpt_tos for m in srv.messages] == [["jose@example.com"]]


def test_with_smtputf8_a_non_ascii_recipient_is_delivered_using_the_extension(server):
    results = mailer_for(server).send_messages([outgoing("jösé@example.com", "1")])
    assert statuses(results) == [SENT]
    received = server.handler.to("jösé@example.com")
    assert len(received) == 1 and "SMTPUTF8" in received[0].mail_options


def test_one_connection_is_reused_for_many_messages_and_bytes_arrive_unchanged(server):
    messages = [outgoing(f"r{i}@example.com", str(i)) for i in range(10)]
    with mailer_for(server) as mailer:
        assert statuses(mailer.send_messages(messages[:5])) == [SENT] * 5
        assert statuses(mailer.send_messages(messages[5:])) == [SENT] * 5
    assert len(server.handler.sessions) == 1
    assert sorted(m.data for m in server.messages) == sorted(m.data for m in messages)


def test_n_connections_send_in_parallel_over_n_sessions(server):
    messages = [outgoing(f"r{i}@example.com", str(i)) for i in range(24)]
    results = mailer_for(server, connections=3).send_messages(messages)
    assert statuses(results) == [SENT] * 24
    assert len(server.handler.sessions) == 3
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(m.recipient for m in messages)


def test_a_server_that_closed_a_reused_connection_gets_a_fresh_one_without_losing_the_message(server):
    results = mailer_for(server).send_messages([outgoing("bye@example.com", "1"), outgoing("a@example.com", "2"), outgoing("b@example.com", "3")])
    assert statuses(results) == [SENT, SENT, SENT]
    assert len(server.messages) == 3


def test_an_unreachable_server_defers_every_message_quickly_instead_of_failing_them():
    mailer = SMTPMailer("127.0.0.1", free_port(), timeout=2.0)
    results = mailer.send_messages([outgoing(f"r{i}@example.com", str(i)) for i in range(5)])
    assert statuses(results) == [DEFERRED] * 5
    assert "cannot connect" in results[0].detail
    assert "not tried" in results[-1].detail  # the lane stopped knocking after repeated refusals


def test_login_succeeds_with_the_right_password_and_a_wrong_one_is_a_config_error():
    with SMTPServer(login=("digest", "s3cret")) as srv:
        assert statuses(mailer_for(srv, username="digest", password="s3cret").send_messages([outgoing("a@example.com", "1")])) == [SENT]
        with pytest.raises(ConfigError, match="login"):
            mailer_for(srv, username="digest", password="wrong").send_messages([outgoing("b@example.com", "2")])
        assert [m.rcpt_tos for m in srv.messages] == [["a@example.com"]]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _server_context(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_starttls_upgrades_the_connection_and_an_untrusted_certificate_is_a_config_error(certificate):
    with SMTPServer(tls_context=_server_context(certificate)) as srv:
        mailer = mailer_for(srv, security="starttls", cafile=str(certificate[0]))
        assert statuses(mailer.send_messages([outgoing("a@example.com", "1")])) == [SENT]
        # Without trusting the certificate, the same server is refused (the operator's to fix),
        # never used in clear.
        untrusting = mailer_for(srv, security="starttls")
        with pytest.raises(ConfigError, match="certificate"):
            untrusting.send_messages([outgoing("b@example.com", "2")])
        assert len(srv.messages) == 1


def test_implicit_tls_sends_over_ssl(certificate):
    with SMTPServer(implicit_tls_context=_server_context(certificate)) as srv:
        mailer = mailer_for(srv, security="ssl", cafile=str(certificate[0]))
        assert statuses(mailer.send_messages([outgoing("a@example.com", "1")])) == [SENT]
        assert len(srv.messages) == 1


def test_starttls_required_but_not_offered_is_a_config_error(server):
    with pytest.raises(ConfigError, match="STARTTLS"):
        mailer_for(server, security="starttls").send_messages([outgoing("a@example.com", "1")])


def test_an_unknown_security_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="SECURITY"):
        SMTPMailer("127.0.0.1", 25, security="tls13")


@pytest.mark.parametrize(
    "code, reply, recipient_stage, status",
    [
        (451, b"4.3.0 later", True, DEFERRED),
        (421, b"4.4.2 closing", False, DEFERRED),
        (550, b"5.1.1 no such user", True, REJECTED),
        (550, b"5.1.10 null MX", True, REJECTED),
        (553, b"5.1.3 bad syntax", True, REJECTED),
        (550, b"5.1.7 bad sender", True, FAILED),  # the sender's fault: nobody to suppress
        (550, b"5.1.1 no such user", False, FAILED),  # not about the recipient at MAIL time
        (550, b"5.7.1 policy", True, FAILED),
        (554, b"transaction failed", True, FAILED),
    ],
)
def test_reply_codes_map_to_the_fixed_statuses(code, reply, recipient_stage, status):
    assert classify(code, reply, recipient_stage=recipient_stage).status == status


# -- PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, every reply checked


class _Recording(MinimalSMTP):
    extensions = (b"PIPELINING", b"8BITMIME", b"SIZE 100000000")
    received: list  # (recipients, body), set per test

    def message(self, recipients, body):
        self.received.append((list(recipients), body))
        return b"250 2.0.0 queued\r\n" if recipients else b"554 5.5.1 no valid recipients\r\n"


class _RepliesOnlyOnceDataArrives(_Recording):
    """Holds its replies to MAIL and RCPT until DATA has arrived too: a client that waited for
    each reply before sending the next command would wait forever."""

    def connection_made(self, transport):
        super().connection_made(transport)
        self.real, self.held, self.transport = transport, [], self

    def write(self, data: bytes) -> None:
        if data == b"250 ok\r\n":
            self.held.append(data)
            return
        self.real.write(b"".join(self.held) + data)
        self.held.clear()

    def close(self) -> None:
        self.real.close()


def _send_to(protocol, messages) -> tuple[list, list]:
    """(results, what the sink received) for messages sent over one connection to a `protocol` sink."""
    received: list = []
    with ThreadedSink(lambda: type("Session", (protocol,), {"received": received})()) as sink:
        results = SMTPMailer("127.0.0.1", sink.port, timeout=3.0).send_messages(messages)
    return results, received


def test_with_pipelining_mail_rcpt_and_data_go_out_in_one_write():
    messages = [outgoing(f"r{i}@example.com", str(i)) for i in range(3)]
    results, received = _send_to(_RepliesOnlyOnceDataArrives, messages)
    assert statuses(results) == [SENT] * 3
    assert received == [([m.recipient], m.data) for m in messages]


class _RefusesRecipientButTakesData(_Recording):
    """Refuses nouser@ at RCPT and answers DATA with 354 all the same (RFC 2920 allows it)."""

    def rcpt(self, address):
        return b"550 5.1.1 no such user\r\n" if address.startswith("nouser@") else b"250 ok\r\n"


def test_a_refused_recipient_whose_data_was_still_accepted_is_ended_with_a_lone_dot():
    results, received = _send_to(_RefusesRecipientButTakesData,
                                 [outgoing("nouser@example.com", "1"), outgoing("a@example.com", "2")])
    assert statuses(results) == [REJECTED, SENT]
    assert (results[0].code, results[0].enhanced) == (550, "5.1.1")
    # The refused message's transaction carried no data at all; the next one went whole.
    assert received[0] == ([], b"")
    assert received[1][0] == ["a@example.com"] and b"Hello 2" in received[1][1]


class _RefusesFirstSender(_Recording):
    """Refuses the first MAIL (5.1.8, about the sender); RCPT and DATA then get 503, as in Postfix."""

    def mail(self, line):
        self.refused = not getattr(self, "refused_once", False)
        self.refused_once = True
        return b"550 5.1.8 sender address rejected\r\n" if self.refused else b"250 ok\r\n"

    def rcpt(self, address):
        return b"503 5.5.1 need MAIL command\r\n" if self.refused else b"250 ok\r\n"

    def data(self):
        return b"503 5.5.1 no valid recipients\r\n" if self.refused else b"354 go ahead\r\n"


def test_a_refused_sender_fails_that_message_with_the_mail_reply_and_the_next_one_goes():
    results, received = _send_to(_RefusesFirstSender, [outgoing("a@example.com", "1"), outgoing("b@example.com", "2")])
    assert statuses(results) == [FAILED, SENT]
    assert (results[0].code, results[0].enhanced) == (550, "5.1.8")
    assert [r for r, _ in received] == [["b@example.com"]]


def test_an_address_with_a_line_break_is_refused_before_anything_is_written(server):
    bad = replace(outgoing("a@example.com", "1"), recipient="x@example.com>\r\nRCPT TO:<y@example.com")
    results = mailer_for(server).send_messages([bad, outgoing("b@example.com", "2")])
    assert statuses(results) == [FAILED, SENT]
    assert "line break" in results[0].detail
    assert [m.rcpt_tos for m in server.messages] == [["b@example.com"]]
