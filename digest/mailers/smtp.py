"""SMTP backend: reused connections, N parallel lanes, TLS, login, and a status for every reply."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import time
from functools import lru_cache

from ..config import Settings, check_setting
from ..envelope import MAIL_OPTIONS, RCPT_OPTIONS, helo_name, xtext
from ..errors import ConfigError
from ..message import BuiltMessage, needs_smtputf8
from ..types import Outcome, Outgoing, SendResult
from .base import BaseMailer, Lane

log = logging.getLogger("digest.mailers")

_ENHANCED = re.compile(rb"^([245])\.(\d{1,3})\.(\d{1,3})(?!\d)")
# 5.1.7 and 5.1.8 blame the sender's address, not the recipient's: no reason to suppress anyone.
_SENDER_PROBLEMS = {"5.1.7", "5.1.8"}
_BARE_LF = re.compile(rb"(?<!\r)\n|\r(?!\n)")
# A bare addr-spec with nothing smtplib.quoteaddr would change (no space, quote, bracket or comment).
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def _envelope_address(address: str) -> str:
    """<address> for MAIL FROM and RCPT TO, as smtplib.quoteaddr writes it (it parses the address,
    which costs 20 us; a plain addr-spec needs no parsing)."""
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


@lru_cache(maxsize=1)
def _fqdn() -> str:
    # socket.getfqdn() can block on DNS; smtplib would call it for every connection.
    return socket.getfqdn()


def classify(code: int, reply: bytes, *, recipient_stage: bool) -> SendResult:
    """A SendResult for a negative SMTP reply.

    4xx defers (try later); 5xx with enhanced status 5.1.x about the recipient is a hard bounce
    (REJECTED: the address should be suppressed); any other 5xx fails only this message.
    """
    text = reply.decode("utf-8", "replace").strip()
    match = _ENHANCED.match(reply.strip())
    enhanced = match.group(0).decode("ascii") if match else None
    detail = f"{code} {text}".strip()
    if 400 <= code < 500:
        return SendResult(Outcome.DEFERRED, detail, code, enhanced)
    if recipient_stage and enhanced and enhanced.startswith("5.1.") and enhanced not in _SENDER_PROBLEMS:
        return SendResult(Outcome.REJECTED, detail, code, enhanced)
    return SendResult(Outcome.FAILED, detail, code, enhanced)


class _Retry(Exception):
    """A reused connection turned out dead before anything was sent: retry on a fresh one."""


def _timed_out(exc: BaseException | None) -> bool:
    """Whether exc is a socket timeout or was raised while handling one (smtplib turns a timeout
    into SMTPServerDisconnected, keeping the timeout as its context)."""
    for _ in range(4):
        if exc is None:
            return False
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _plain(conn: "SMTPConnection") -> smtplib.SMTP:
    return smtplib.SMTP(conn.host, conn.port, local_hostname=conn.helo, timeout=conn.timeout)


def _starttls(conn: "SMTPConnection") -> smtplib.SMTP:
    smtp = _plain(conn)
    try:
        smtp.ehlo()
        smtp.starttls(context=conn.ssl_context)
        smtp.ehlo()
    except smtplib.SMTPNotSupportedError:
        smtp.close()
        raise ConfigError(
            f"DIGEST_SMTP_SECURITY=starttls but {conn.host}:{conn.port} does not offer STARTTLS"
        ) from None
    return smtp


def _ssl(conn: "SMTPConnection") -> smtplib.SMTP:
    return smtplib.SMTP_SSL(conn.host, conn.port, local_hostname=conn.helo, timeout=conn.timeout, context=conn.ssl_context)


SECURITY = {"none": _plain, "starttls": _starttls, "ssl": _ssl}


class SMTPConnection:
    """One SMTP session, reused message after message; one lane of an SMTPMailer.

    It is also the lane's stall breaker: after stall_limit timeouts in a row (a server that
    accepts the connection and then says nothing costs a full timeout per message) the lane
    stops for stall_pause seconds, and the mailer's loop hands it no more messages.
    """

    #: consecutive refused connections after which this lane stops trying for down_seconds
    max_connect_failures = 2
    down_seconds = 60.0

    def __init__(self, host, port, *, security, timeout, username, password, helo, ssl_context,
                 data_timeout: float | None = None, stall_limit: int = 0, stall_pause: float = 900.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        # The final reply may take longer than any command's: the server is queueing the message.
        self.data_timeout = max(timeout, data_timeout or timeout)
        self.stall_limit, self.stall_pause = stall_limit, stall_pause
        self.stalls = 0  # timeouts in a row; a transaction the server answered ends the run
        self.stopped_until = 0.0
        self.username, self.password = username, password
        self.helo, self.ssl_context = helo, ssl_context
        self._connect = SECURITY[security]  # checked by SMTPMailer against the setting's rule
        self.smtp: smtplib.SMTP | None = None
        self.connect_failures = 0
        self.down_until = 0.0

    @property
    def stopped(self) -> bool:
        """True while the stall breaker holds this lane; read by the mailer's loop."""
        if not self.stopped_until:
            return False
        if time.monotonic() < self.stopped_until:
            return True
        # The pause is over (a long-lived worker): one more try, and one more timeout stops it again.
        self.stopped_until, self.stalls = 0.0, self.stall_limit - 1
        return False

    def _stalled(self) -> None:
        self.stalls += 1
        if self.stall_limit and self.stalls >= self.stall_limit and not self.stopped_until:
            self.stopped_until = time.monotonic() + self.stall_pause
            log.warning("SMTP lane to %s:%s stopped after %d timeouts in a row (DIGEST_SMTP_STALL_LIMIT); "
                        "it takes no more messages for %g s", self.host, self.port, self.stalls, self.stall_pause)

    def __call__(self, message: Outgoing) -> SendResult:
        return self.send(message)

    def connect(self) -> None:
        try:
            smtp = self._connect(self)
        except ssl.SSLCertVerificationError as exc:
            # Not a passing fault: retrying will not help until the operator fixes trust.
            raise ConfigError(
                f"the TLS certificate of {self.host}:{self.port} could not be verified ({exc.verify_message}); "
                "fix the server certificate or point DIGEST_SMTP_CAFILE at its CA"
            ) from None
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise ConfigError(f"SMTP login as {self.username!r} refused: {exc.smtp_code} {exc.smtp_error!r}") from None
        except smtplib.SMTPNotSupportedError:
            smtp.close()
            raise ConfigError(f"DIGEST_SMTP_USERNAME is set but {self.host}:{self.port} offers no AUTH") from None
        except BaseException:
            smtp.close()
            raise
        self.smtp = smtp

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, message: Outgoing) -> SendResult:
        if self.stopped:
            return SendResult(Outcome.DEFERRED, f"not tried: {self.host}:{self.port} stopped answering "
                                        f"({self.stalls} timeouts in a row)")
        if self.down_until and time.monotonic() < self.down_until:
            return SendResult(Outcome.DEFERRED, f"not tried: {self.host}:{self.port} was unreachable moments ago")
        for _ in range(2):
            fresh = self.smtp is None
            if fresh:
                try:
                    self.connect()
                except (OSError, smtplib.SMTPException) as exc:
                    self.close()
                    if _timed_out(exc):
                        # A silent server is the stall breaker's to judge: it cost a timeout.
                        self._stalled()
                    else:
                        self.connect_failures += 1
                        if self.connect_failures >= self.max_connect_failures:
                            self.down_until = time.monotonic() + self.down_seconds
                    code = getattr(exc, "smtp_code", None)
                    return SendResult(Outcome.DEFERRED, f"cannot connect to {self.host}:{self.port}: {exc}", code)
                self.connect_failures, self.down_until = 0, 0.0
            stalls = self.stalls
            try:
                result = self._transaction(message, retry_allowed=not fresh)
            except _Retry:
                self.close()
                continue
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self.close()
                if _timed_out(exc):
                    # Before the end of the data: the server cannot have a whole message to deliver.
                    self._stalled()
                    return SendResult(Outcome.DEFERRED, f"timed out after {self.timeout:g} s: {exc}")
                # Lost after the data, before the reply: the server may have the message (see docs).
                return SendResult(Outcome.DEFERRED, f"connection lost: {exc}")
            if result.code is not None and self.stalls == stalls:
                self.stalls = 0  # the server answered this whole transaction: the run of timeouts is over
            return result
        return SendResult(Outcome.DEFERRED, "connection lost twice before the message was sent")

    def _transaction(self, message: Outgoing, *, retry_allowed: bool) -> SendResult:
        smtp = self.smtp
        assert smtp is not None
        data = message.data
        if not isinstance(data, BuiltMessage):  # a foreign caller's bytes: build_message writes CRLF only
            pairs = data.count(b"\r\n")
            if data.count(b"\n") != pairs or data.count(b"\r") != pairs:
                data = _BARE_LF.sub(b"\r\n", data)
        if any(c in address for address in (message.sender, message.recipient) for c in "\r\n"):
            return SendResult(Outcome.FAILED, f"the address {message.recipient!r} or {message.sender!r} holds a line break")
        options = []
        if message.smtputf8 or needs_smtputf8(message.recipient) or needs_smtputf8(message.sender):
            if not smtp.has_extn("smtputf8"):
                return SendResult(
                    Outcome.FAILED,
                    f"the address {message.recipient!r} needs SMTPUTF8, which {self.host}:{self.port} does not offer",
                )
            options.append("SMTPUTF8")
            if smtp.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        rcpt_options: list[str] = []
        if message.envid and smtp.has_extn("dsn"):
            # RFC 3461: a bounce comes back with the headers only, naming the ledger row.
            options += [*MAIL_OPTIONS, f"ENVID={xtext(message.envid)}"]
            rcpt_options += RCPT_OPTIONS
        if smtp.has_extn("pipelining"):
            return self._pipelined(smtp, message, data, options, rcpt_options, retry_allowed=retry_allowed)
        try:
            code, reply = smtp.mail(message.sender, options)
        except smtplib.SMTPServerDisconnected as exc:
            if retry_allowed and not _timed_out(exc):  # closed, not silent: a retry costs no timeout
                raise _Retry from None
            raise
        if code == 421 and retry_allowed:
            raise _Retry
        if code != 250:
            return self._abort(classify(code, reply, recipient_stage=False), code)
        code, reply = smtp.rcpt(message.recipient, rcpt_options)
        if code not in (250, 251):
            return self._abort(classify(code, reply, recipient_stage=True), code)
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            return self._abort(classify(code, reply, recipient_stage=False), code)
        return self._finish(smtp, data)

    def _finish(self, smtp: smtplib.SMTP, data: bytes) -> SendResult:
        """Send the message data after a 354 and read the final reply."""
        # Dot-stuffing with bytes.replace: smtplib's per-line regex costs about 0.75 ms a message
        # (and the replace 0.08 ms, a search for a line that starts with a dot 0.005 ms).
        body = data.replace(b"\r\n.", b"\r\n..") if b"\r\n." in data else data
        if body.startswith(b"."):
            body = b"." + body
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        smtp.send(body + b".\r\n")
        try:
            smtp.sock.settimeout(self.data_timeout)
            code, reply = smtp.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            if not _timed_out(exc):
                raise
            # The whole message went out and no verdict came back: the server may be delivering
            # it now (RFC 5321 gives it 10 minutes), so a retry could deliver it twice.
            self.close()
            self._stalled()
            return SendResult(Outcome.UNKNOWN, f"no reply within {self.data_timeout:g} s after the whole message was sent; "
                                       "the server may have accepted it")
        finally:
            if smtp.sock is not None:
                smtp.sock.settimeout(self.timeout)
        smtp.command_encoding = "ascii"
        if code == 250:
            return SendResult(Outcome.SENT, reply.decode("utf-8", "replace").strip(), code)
        if code == 421:
            self.close()
        return classify(code, reply, recipient_stage=True)

    def _pipelined(self, smtp: smtplib.SMTP, message: Outgoing, data: bytes, options: list[str],
                   rcpt_options: list[str], *, retry_allowed: bool) -> SendResult:
        """MAIL, RCPT and DATA in one write (RFC 2920), then every reply read and checked in order.

        Two round trips a message instead of four. A refused MAIL or RCPT is reported as it would
        be one command at a time; if the server still answers DATA with 354, a lone dot ends the
        empty transaction (RFC 2920 section 3.1), so nothing is delivered.
        """
        encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
        sender, recipient = _envelope_address(message.sender), _envelope_address(message.recipient)
        commands = (f"MAIL FROM:{sender}{''.join(' ' + o for o in options)}\r\n"
                    f"RCPT TO:{recipient}{''.join(' ' + o for o in rcpt_options)}\r\nDATA\r\n").encode(encoding)
        try:
            smtp.send(commands)
            code, reply = smtp.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            # A reused connection the server had closed: nothing was sent. (A silent one would only
            # cost another timeout.)
            if retry_allowed and not _timed_out(exc):
                raise _Retry from None
            raise
        if code == 421:
            if retry_allowed:
                raise _Retry
            self.close()
            return classify(code, reply, recipient_stage=False)
        failure = None if code == 250 else (classify(code, reply, recipient_stage=False), code)
        code, reply = smtp.getreply()
        if code == 421:
            self.close()
            return (failure or (classify(code, reply, recipient_stage=True), code))[0]
        if failure is None and code not in (250, 251):
            failure = (classify(code, reply, recipient_stage=True), code)
        code, reply = smtp.getreply()
        if code == 354 and failure is None:
            return self._finish(smtp, data)
        if code == 354:
            try:
                smtp.send(b".\r\n")  # accepted DATA with no valid recipient: end it empty
                smtp.getreply()
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if _timed_out(exc):
                    self._stalled()
                return failure[0]
        elif failure is None:
            failure = (classify(code, reply, recipient_stage=False), code)
        return self._abort(*failure)

    def _abort(self, result: SendResult, code: int) -> SendResult:
        if code == 421:
            self.close()
            return result
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            if _timed_out(exc):
                self._stalled()
        return result


class SMTPMailer(BaseMailer):
    """Sends over smtp_connections reused SMTP connections, at most smtp_rate_limit messages a second.

    A connection that times out smtp_stall_limit times in a row stops for the rest of the run (the
    life of this object); once all have stopped, send_messages returns without reading further.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        data_timeout: float = 600.0,
        stall_limit: int = 2,
        stall_pause: float = 900.0,
        connections: int = 1,
        rate_limit: float = 0.0,
        helo: str | None = None,
        cafile: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **options,
    ) -> None:
        super().__init__(**options)
        # The rules of the settings, so a mailer built by hand is held to them too (Settings already was).
        security = check_setting("smtp_security", security)
        connections = check_setting("smtp_connections", connections)
        stall_limit = check_setting("smtp_stall_limit", stall_limit)
        data_timeout = check_setting("smtp_data_timeout", data_timeout)
        self.host, self.port, self.security = host, int(port), security
        self.username, self.password = username, password
        self.timeout, self.connections = float(timeout), int(connections)
        self.data_timeout, self.stall_limit, self.stall_pause = float(data_timeout), int(stall_limit), float(stall_pause)
        self.rate_limit = float(rate_limit or 0)
        self.helo = helo
        self.ssl_context = ssl_context or (ssl.create_default_context(cafile=cafile) if security != "none" else None)
        self._lanes: list[SMTPConnection] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> "SMTPMailer":
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
            data_timeout=settings.smtp_data_timeout,
            stall_limit=settings.smtp_stall_limit,
            connections=settings.smtp_connections,
            rate_limit=settings.smtp_rate_limit,
            helo=helo_name(settings, _fqdn),
            cafile=settings.smtp_cafile,
        )

    def open(self) -> bool:
        # The lanes outlive close(): a lane the stall breaker stopped stays stopped for the rest
        # of the run (this mailer object), even when each batch opens and closes the mailer.
        if not self._lanes:
            helo = self.helo or _fqdn()
            self._lanes = [
                SMTPConnection(
                    self.host,
                    self.port,
                    security=self.security,
                    timeout=self.timeout,
                    username=self.username,
                    password=self.password,
                    helo=helo,
                    ssl_context=self.ssl_context,
                    data_timeout=self.data_timeout,
                    stall_limit=self.stall_limit,
                    stall_pause=self.stall_pause,
                )
                for _ in range(self.connections)
            ]
        return super().open()

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()
        super().close()

    def check(self) -> None:
        """Connect one lane now (EHLO, STARTTLS or TLS, login): a setting that would stop every
        message shows as a ConfigError before anything is claimed. The first message reuses it."""
        self.open()
        lane = self._lanes[0]
        if lane.smtp is None:
            try:
                lane.connect()
            except (OSError, smtplib.SMTPException) as exc:
                lane.close()
                raise ConfigError(f"cannot connect to the SMTP server {self.host}:{self.port} ({exc}); check "
                                  "DIGEST_SMTP_HOST and DIGEST_SMTP_PORT, or run again once it is up") from None

    def lanes(self) -> list[Lane]:
        if not self._lanes:
            self.open()
        return list(self._lanes)

    def send_one(self, message: Outgoing) -> SendResult:
        return self.lanes()[0](message)
