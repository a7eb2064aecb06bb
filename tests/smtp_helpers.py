"""A real aiosmtpd server on loopback that records what it accepts and injects faults on request."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# Fault chosen by the recipient's local part (its prefix before an optional "+tag").
TEMPFAIL = "tempfail"  # 451 4.3.0 on the first try at RCPT, then accepted
NOUSER = "nouser"  # 550 5.1.1 at RCPT
POLICY = "policy"  # 550 5.7.1 at RCPT
DROP = "drop"  # the connection is cut after the message data, before the reply
STALL = "stall"  # the reply to the message data comes only after stall_seconds (then 250)
BYE = "bye"  # accepted, then the server closes the connection (as after an idle timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    session: int
    rcpt_options: list[str] = field(default_factory=list)


@dataclass
class FaultHandler:
    """aiosmtpd handler: accepts mail, except for the faults named by the recipient's local part."""

    stall_seconds: float = 3.0
    pipelining: bool = True  # advertise PIPELINING (aiosmtpd reads commands in order either way)
    dsn: bool = False  # advertise DSN (RFC 3461) and take its MAIL and RCPT parameters
    ehlo_names: list[str] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def fault(address: str) -> str:
        return address.split("@", 1)[0].split("+", 1)[0].lower()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # this form of the hook must set it itself
        self.ehlo_names.append(hostname)
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        if self.dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        kind = self.fault(address)
        with self.lock:
            self.attempts[address] = self.attempts.get(address, 0) + 1
            tries = self.attempts[address]
        if kind == TEMPFAIL and tries == 1:
            return "451 4.3.0 Try again later"
        if kind == NOUSER:
            return "550 5.1.1 No such user here"
        if kind == POLICY:
            return "550 5.7.1 Message refused by policy"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        kind = self.fault(envelope.rcpt_tos[0])
        if kind == DROP:
            server.transport.abort()
            return "250 never heard"
        if kind == STALL:
            await asyncio.sleep(self.stall_seconds)
        if kind == BYE:
            # After the reply below is written: close() flushes the buffer first.
            asyncio.get_running_loop().call_soon(server.transport.close)
        with self.lock:
            self.sessions.add(id(session))
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content, list(envelope.mail_options), id(session),
                         list(envelope.rcpt_options))
            )
        return f"250 2.0.0 Ok: queued as {len(self.messages)}"

    def to(self, recipient: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if recipient in m.rcpt_tos]


_DSN_PARAMETERS = ("RET", "ENVID", "NOTIFY", "ORCPT")


class DsnSMTP(SMTP):
    """aiosmtpd refuses every MAIL and RCPT parameter it does not know (555); this one takes the
    DSN ones (RFC 3461) when its handler advertises DSN, and keeps them in the envelope's options.
    aiosmtpd upper-cases the parameters, as a case-folding MTA may."""

    def _getparams(self, params):
        result = super()._getparams(params)
        if result is not None and getattr(self.event_handler, "dsn", False):
            for name in _DSN_PARAMETERS:
                result.pop(name, None)
        return result


class _Controller(Controller):
    def factory(self):
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


class SMTPServer:
    """A running aiosmtpd on 127.0.0.1 with a FaultHandler; use as a context manager."""

    def __init__(
        self,
        *,
        smtputf8: bool = True,
        stall_seconds: float = 3.0,
        pipelining: bool = True,
        dsn: bool = False,
        login: tuple[str, str] | None = None,
        tls_context=None,
        implicit_tls_context=None,
    ) -> None:
        self.handler = FaultHandler(stall_seconds=stall_seconds, pipelining=pipelining, dsn=dsn)
        self.port = free_port()
        kwargs = dict(enable_SMTPUTF8=smtputf8, data_size_limit=10_000_000)
        if login:
            user, password = login

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
                return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535

            # aiosmtpd 1.4 hangs on smtplib's AUTH LOGIN with an initial response (smtplib falls
            # back to it after a refused PLAIN), so only PLAIN is offered.
            kwargs.update(authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = _Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ssl_context=implicit_tls_context, **kwargs
        )

    def __enter__(self) -> "SMTPServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (openssl CLI): (cert.pem, key.pem)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
