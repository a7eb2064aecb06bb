"""A minimal SMTP server protocol for loopback sinks: just enough for smtplib, and fast.

aiosmtpd spends 5 to 8 ms of its own CPU per message, so throughput benchmarks and tests that
push thousands of messages use this instead. Subclasses decide what a message means.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter


class MinimalSMTP(asyncio.Protocol):
    """EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; everything it is given is accepted.

    `message(recipients, body)` is called once a message's data has arrived; it returns the reply
    to send (None: the subclass replied, or chose not to).
    """

    #: EHLO keywords after the host name
    extensions = (b"PIPELINING", b"8BITMIME", b"SMTPUTF8", b"SIZE 100000000")

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray()
        self.in_data = False
        self.recipients: list[str] = []
        transport.write(b"220 sink ESMTP\r\n")

    def message(self, recipients: list[str], body: bytes) -> bytes | None:
        return b"250 2.0.0 queued\r\n"

    # Replies to the envelope commands; subclasses refuse what they like.
    def mail(self, line: bytes) -> bytes:
        return b"250 ok\r\n"

    def rcpt(self, address: str) -> bytes:
        return b"250 ok\r\n"

    def data(self) -> bytes:
        return b"354 go ahead\r\n"

    def heard(self, verb: bytes) -> None:
        """Called for each command verb as it arrives, and with b"." at the end of each message's data."""

    def data_received(self, data):
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                body = bytes(self.buffer[2:end + 2])
                del self.buffer[:end + 5]
                self.in_data = False
                self.heard(b".")
                reply = self.message(self.recipients, body)
                if reply:
                    self.transport.write(reply)
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end])
            del self.buffer[:end + 2]
            verb = line[:4].upper()
            self.heard(verb)
            if verb == b"EHLO":
                *rest, last = self.extensions
                self.transport.write(b"250-sink\r\n" + b"".join(b"250-%s\r\n" % e for e in rest) + b"250 %s\r\n" % last)
            elif verb == b"HELO":
                self.transport.write(b"250 sink\r\n")
            elif verb == b"MAIL":
                self.recipients = []
                self.transport.write(self.mail(line))
            elif verb == b"RCPT":
                address = line.partition(b"<")[2].partition(b">")[0].decode("utf-8", "replace")
                reply = self.rcpt(address)
                if reply.startswith(b"25"):
                    self.recipients.append(address)
                self.transport.write(reply)
            elif verb == b"DATA":
                reply = self.data()
                if reply.startswith(b"354"):
                    self.in_data = True
                    # The terminator search starts at the CRLF that ended the DATA line.
                    self.buffer[:0] = b"\r\n"
                self.transport.write(reply)
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 ok\r\n")


class SinkLog:
    """What the sessions of one sink saw, shared by all of them: sessions opened, verbs heard."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions = 0
        self.heard: Counter = Counter()


class StallingSMTP(MinimalSMTP):
    """A hung server: at `stall_at` it goes silent for the rest of the session (it reads on and
    never replies again), after the first `healthy_sessions` sessions, which it serves normally.

    stall_at is b"220" (no greeting), a verb (b"EHLO", b"MAIL", b"RCPT", b"DATA") or b"." (the
    whole message data arrived). Subclasses set `log` (a SinkLog), `stall_at`, `healthy_sessions`.
    """

    log: SinkLog
    stall_at: bytes = b"MAIL"
    healthy_sessions: int = 0

    def connection_made(self, transport):
        with self.log.lock:
            number, self.log.sessions = self.log.sessions, self.log.sessions + 1
        self.stalls = number >= self.healthy_sessions
        self.silent = self.stalls and self.stall_at == b"220"
        self.real = transport
        super().connection_made(self)  # every reply goes through write() below

    def write(self, data: bytes) -> None:
        if not self.silent:
            self.real.write(data)

    def close(self) -> None:
        self.real.close()

    def heard(self, verb: bytes) -> None:
        with self.log.lock:
            self.log.heard[verb] += 1
        if self.stalls and verb == self.stall_at:
            self.silent = True


def stalling(log: SinkLog, stall_at: bytes, *, healthy_sessions: int = 0, pipelining: bool = True):
    """A protocol factory for ThreadedSink: StallingSMTP going silent at stall_at."""
    extensions = (b"PIPELINING", b"8BITMIME", b"SIZE 100000000") if pipelining else (b"8BITMIME", b"SIZE 100000000")
    cls = type("Stalling", (StallingSMTP,), {"log": log, "stall_at": stall_at, "healthy_sessions": healthy_sessions,
                                             "extensions": extensions})
    return cls


class ThreadedSink:
    """A MinimalSMTP-style protocol served on 127.0.0.1 from an event loop in a thread of this process."""

    def __init__(self, protocol_factory, port: int = 0):
        import threading

        self.protocol_factory = protocol_factory
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="smtp-sink")

    def __enter__(self) -> "ThreadedSink":
        self.server = self.loop.run_until_complete(
            self.loop.create_server(self.protocol_factory, "127.0.0.1", self.port))
        self.port = self.server.sockets[0].getsockname()[1]
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        async def shut():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
