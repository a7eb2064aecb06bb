"""Traceable messages: the per-message envelope sender (VERP), the DSN envelope id, the signed
mailto: of List-Unsubscribe, the EHLO name, and reading any of them back into a ledger row.

A digest goes out with the envelope sender `<DIGEST_BOUNCE_LOCAL>+<token>@<DIGEST_BOUNCE_DOMAIN>`,
where the token is a compact signed token (digest.tokens, purpose "bounce") naming the ledger row:
`<digest id>-<16 base32 characters of HMAC>`, lowercase, so a bounce that comes back to that
address, or a delivery status notification carrying the same token as its ENVID, names the row
without guessing, and a forged or altered token names nothing. The List-Unsubscribe mailto: carries
a compact token naming the subscriber (purpose "mailto") in its subject.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from sqlmodel import Session

from .errors import TokenError
from .message import split_address
from .models import Digest
from .tokens import Signer
from .types import Outgoing

log = logging.getLogger("digest.envelope")

MAX_LOCAL_PART = 64  # octets, RFC 5321 section 4.5.3.1.1
MAX_ENVID = 100  # characters, RFC 3461 section 4.4
# A DSN carries the headers only (RET=HDRS); it reports failures and delays, not successes.
MAIL_OPTIONS = ("RET=HDRS",)
RCPT_OPTIONS = ("NOTIFY=FAILURE,DELAY",)


def xtext(value: str) -> str:
    """RFC 3461 xtext: printable ASCII but "+" and "=" as is, everything else as +XX."""
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode("utf-8"))
                   for c in value)


_XCHAR = re.compile(r"\+([0-9A-Fa-f]{2})")


def unxtext(value: str) -> str:
    return _XCHAR.sub(lambda m: chr(int(m.group(1), 16)), value)


def from_domain(settings) -> str:
    return split_address(settings.from_address)[1].rpartition("@")[2].lower()


def _is_full_domain(name: str | None) -> bool:
    name = (name or "").strip().lower().rstrip(".")
    return "." in name and name not in ("localhost.localdomain",) and not name.endswith((".localhost", ".local"))


def helo_name(settings, fallback=None) -> str:
    """The EHLO name: DIGEST_SMTP_HELO, else the From domain, else `fallback` (this host's name);
    a name that is not a full domain (`localhost`) is used only with a warning, as receivers
    score it as spam (rspamd: +3 toward greylisting)."""
    if settings.smtp_helo:
        return settings.smtp_helo
    domain = from_domain(settings)
    if _is_full_domain(domain):
        return domain
    fallback = fallback() if callable(fallback) else fallback  # this host's name: may ask DNS
    if _is_full_domain(fallback):
        return fallback.rstrip(".")
    name = fallback or domain or "localhost"
    log.warning("the SMTP EHLO name would be %r, which receivers treat as spam; set DIGEST_SMTP_HELO to this "
                "host's public name (or DIGEST_FROM to an address at a real domain)", name)
    return name


class Envelope:
    """Makes the traceable parts of one message; the signer and the settings are fixed."""

    def __init__(self, signer: Signer, *, local: str, domain: str, mailto_address: str):
        self.signer, self.local, self.domain = signer, local, _ascii_domain(domain)
        self.mailto_address = mailto_address

    @classmethod
    def from_settings(cls, settings, signer: Signer) -> "Envelope":
        return cls(signer, local=settings.bounce_local, domain=settings.bounce_domain or from_domain(settings),
                   mailto_address=settings.unsubscribe_mailto)

    def token(self, digest_id: int) -> str:
        return self.signer.make_compact("bounce", digest_id)

    def sender(self, digest_id: int) -> str:
        """The envelope sender (MAIL FROM, Return-Path) of the digest in ledger row `digest_id`."""
        return f"{self.local}+{self.token(digest_id)}@{self.domain}"

    def mailto(self, subscriber_id: int) -> str:
        """The List-Unsubscribe mailto: for this subscriber: the subject names them, signed."""
        subject = f"unsubscribe {self.signer.make_compact('mailto', subscriber_id)}"
        return f"mailto:{self.mailto_address}?subject={quote(subject)}"

    def outgoing(self, digest_id: int, message_id: str, recipient: str, data: bytes, *, smtputf8: bool) -> Outgoing:
        """The Outgoing of a ledger row: VERP sender, and the row's token as its DSN envelope id."""
        token = self.token(digest_id)
        return Outgoing(key=message_id.strip("<>"), sender=f"{self.local}+{token}@{self.domain}", recipient=recipient,
                        data=data, message_id=message_id, smtputf8=smtputf8, envid=token)


def _ascii_domain(domain: str) -> str:
    """The domain in its ASCII (IDNA) form, so the envelope sender never needs SMTPUTF8."""
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def digest_id_of(signer: Signer, value: str) -> int:
    """The ledger row named by a VERP address (`bounces+<token>@domain`, with or without <>) or by
    a DSN ENVID (the token, xtext-encoded or not), after checking its signature; TokenError for
    anything forged, altered or not ours. Case does not matter (MTAs may fold it)."""
    if not isinstance(value, str) or len(value) > 512:
        raise TokenError("not a bounce address or envelope id")
    text = value.strip().strip("<>").strip()
    if "@" in text:
        local = text.rpartition("@")[0]
        _, plus, token = local.partition("+")
        if not plus:
            raise TokenError("not a bounce address: no +token in its local part")
    else:
        token = unxtext(text)
    return signer.read_compact("bounce", token)


def digest_for(session: Session, signer: Signer, value: str) -> Digest | None:
    """The ledger row a bounce address or ENVID names (None: verified, but the row is gone);
    raises TokenError when the token does not verify, before anything is read."""
    return session.get(Digest, digest_id_of(signer, value))


_MAILTO_SUBJECT = re.compile(r"\bunsubscribe\s+([0-9]+-[a-z2-7]{16})\b", re.IGNORECASE)


def subscriber_of_mailto(signer: Signer, subject: str) -> int:
    """The subscriber a mailto: unsubscribe names in its subject (replies may prefix "Re: "), after
    checking the signature; TokenError otherwise."""
    match = _MAILTO_SUBJECT.search(subject or "")
    if match is None:
        raise TokenError("no unsubscribe token in the subject")
    return signer.read_compact("mailto", match.group(1))
