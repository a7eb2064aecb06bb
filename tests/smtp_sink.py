"""A minimal SMTP server protocol for loopback sinks: just enough for smtplib, and fast.

aiosmtpd spends 5 to 8 ms of its own CPU per message, so throughput benchmarks and tests that
push thousands of messages use this instead. Subclasses decide what a message means.
"""

from __future__ import annotations

import asyncio


class MinimalSMTP(asyncio.Protocol):
    """EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; everything it is given is accepted.

    `message(recipients, body)` is called once a message's data has arrived; it returns the reply
    to send (None: the subclass replied, or chose not to).
    """

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray()
        self.in_data = False
        self.recipients: list[str] = []
        transport.write(b"220 sink ESMTP\r\n")

    def message(self, recipients: list[str], body: bytes) -> bytes | None:
        return b"250 2.0.0 queued\r\n"

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
            if verb == b"EHLO":
                self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 100000000\r\n")
            elif verb == b"HELO":
                self.transport.write(b"250 sink\r\n")
            elif verb == b"MAIL":
                self.recipients = []
                self.transport.write(b"250 ok\r\n")
            elif verb == b"RCPT":
                self.recipients.append(line.partition(b"<")[2].partition(b">")[0].decode("utf-8", "replace"))
                self.transport.write(b"250 ok\r\n")
            elif verb == b"DATA":
                self.in_data = True
                # The terminator search starts at the CRLF that ended the DATA line.
                self.buffer[:0] = b"\r\n"
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 ok\r\n")
