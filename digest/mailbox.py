"""The bounce mailbox, read over IMAP: delivery status notifications (RFC 3464), complaint reports
(ARF, RFC 5965), mailto unsubscribes and auto-replies become reports for the bounce policy
(digest/bounces.py).

Each message names its ledger row by the message's own VERP address first (the bounce is sent to
`bounces+<token>@domain`: Delivered-To, X-Original-To, To), else by the DSN's Original-Envelope-Id,
else by the headers of the original message attached to the report. Tokens are verified before
anything changes; a forged one names nothing. A message's effect is committed before it is moved to
DIGEST_MAILBOX_DONE_FOLDER, and applying is idempotent by the message's Message-ID, so a poll that
dies half-way repeats nothing when run again. Unknown messages stay in the folder for staff.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr

from sqlmodel import Session

from .addresses import normalize_email
from .bounces import COMPLAINT, HARD, IGNORED, SOFT, UNSUBSCRIBE, Policy, Report, apply_once
from .envelope import digest_id_of, subscriber_of_mailto
from .errors import ConfigError, DeliveryError, InputError, TokenError
from .models import Digest, Subscriber
from .tokens import Signer

log = logging.getLogger("digest.mailbox")

UNKNOWN = "unknown"
COUNTS = {HARD: "hard_bounces", SOFT: "soft_bounces", COMPLAINT: "complaints", UNSUBSCRIBE: "unsubscribes",
          IGNORED: "ignored", UNKNOWN: "unknown"}
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "X-Failed-Recipients")
# A compact token ("<row>-<mac>") after a "+" in an address, or alone as an ENVID.
_TOKEN_SHAPE = re.compile(r"(\+|^\s*<?)\d{1,19}-[0-9a-z]{8,}(@|\s*$)", re.IGNORECASE)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)


@dataclass
class Finding:
    """What one message is: its kind and the reports it makes (one per failed recipient)."""

    kind: str
    reports: list[Report] = field(default_factory=list)
    why: str = ""


def _event_key(msg: Message, data: bytes) -> str:
    message_id = str(msg.get("Message-ID") or "").strip()
    base = message_id or hashlib.sha256(data).hexdigest()
    return "imap:" + hashlib.sha256(base.encode("utf-8", "replace")).hexdigest()[:40]


def _verp_row(signer: Signer, values) -> int | None:
    """The first value (an address or an ENVID) whose token verifies."""
    for value in values:
        for address in re.split(r"[\s,;]+", str(value or "")):
            if not address or "+" not in address and "@" in address:
                continue
            try:
                return digest_id_of(signer, address.strip("<>"))
            except TokenError:
                continue
    return None


def _header_values(msg: Message, names) -> list[str]:
    return [str(v) for name in names for v in (msg.get_all(name) or [])]


def _parts(msg: Message, content_type: str) -> list[Message]:
    return [part for part in msg.walk() if part.get_content_type() == content_type]


# RFC 6533's global (UTF-8) forms come from servers that handled an internationalized address.
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers")


def _attached_original(msg: Message) -> Message | None:
    for kind in _ORIGINAL_TYPES:
        for part in _parts(msg, kind):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
            if isinstance(payload, str):
                return email.message_from_string(payload, policy=email.policy.compat32)
    return None


def _status_groups(msg: Message) -> list[Message]:
    """The delivery-status part's groups: the per-message fields, then one per recipient."""
    for part in (p for kind in _STATUS_TYPES for p in _parts(msg, kind)):
        payload = part.get_payload()
        if part.get_content_type() != _STATUS_TYPES[0] and isinstance(payload, list) and payload:
            # The email package parses message/global-delivery-status as one embedded message (the first
            # group as its headers, the rest as its body): back to text, split into groups below.
            payload = payload[0].as_string()
        if isinstance(payload, list):
            return payload
        if isinstance(payload, str):  # some parsers leave it as text: blank-line separated groups
            return [email.message_from_string(block.strip() + "\n") for block in re.split(r"\n\s*\n", payload)
                    if block.strip()]
    return []


def _address_of(field_value: str | None) -> str | None:
    """`rfc822; reader@example.com` -> the address; InputError for something that is not one."""
    if not field_value:
        return None
    value = str(field_value).partition(";")[2] or str(field_value)
    value = value.strip().strip("<>").strip()
    if value:
        normalize_email(value)
    return value or None


class Reader:
    """Classifies messages; the signer verifies tokens, the session resolves rows to addresses."""

    def __init__(self, session: Session, signer: Signer):
        self.session, self.signer = session, signer

    def _row(self, msg: Message, envid: str | None = None) -> tuple[Digest | None, bool]:
        """The ledger row the report's VERP address or ENVID names, and whether it carried a token of our
        shape that did not verify (forged or altered: such a report changes nothing)."""
        values = _header_values(msg, _RECIPIENT_HEADERS) + ([envid] if envid else [])
        original = _attached_original(msg)
        if original is not None:
            values += _header_values(original, ("Return-Path", "Sender"))
        digest_id = _verp_row(self.signer, values)
        if digest_id is None:
            return None, any(_TOKEN_SHAPE.search(str(v)) for v in values)
        return self.session.get(Digest, digest_id), False

    def _email_of_row(self, row: Digest | None) -> str | None:
        subscriber = self.session.get(Subscriber, row.subscriber_id) if row is not None else None
        return subscriber.email if subscriber is not None else None

    def classify(self, data: bytes, mailto_address: str) -> Finding:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        key = _event_key(msg, data)
        # By the report part itself, not only the outer type: some gateways wrap a report in multipart/mixed
        # or leave out report-type.
        if any(_parts(msg, kind) for kind in _STATUS_TYPES):
            return self._dsn(msg, key)
        if _parts(msg, "message/feedback-report"):
            return self._arf(msg, key)
        if _is_auto_reply(msg):
            return Finding(IGNORED, why="auto-reply")
        if mailto_address.lower() in " ".join(_header_values(msg, _RECIPIENT_HEADERS)).lower():
            return self._unsubscribe(msg, key)
        if _BOUNCE_SENDER.search(str(msg.get("From") or "")):
            return self._plain_bounce(msg, key)
        return Finding(UNKNOWN, why="not a report this reader knows")

    def _dsn(self, msg: Message, key: str) -> Finding:
        groups = _status_groups(msg)
        if not groups:
            return Finding(UNKNOWN, why="a delivery-status report without a delivery-status part")
        envid = groups[0].get("Original-Envelope-Id")
        row, forged = self._row(msg, envid)
        if forged:
            return Finding(UNKNOWN, why="a delivery-status report whose token does not verify")
        reports, kinds = [], set()
        for index, group in enumerate(groups[1:] or groups):
            action = str(group.get("Action") or "").strip().lower()
            match = _STATUS.search(str(group.get("Status") or ""))
            if action == "failed" and match and match.group(1) == "5":
                kind = HARD
            elif action in ("delayed", "failed") and match and match.group(1) == "4":
                kind = SOFT
            else:
                continue  # delivered, relayed, expanded: nothing about the address
            address = self._email_of_row(row) or _address_of(group.get("Original-Recipient")) \
                or _address_of(group.get("Final-Recipient"))
            if address is None:
                continue
            kinds.add(kind)
            detail = str(group.get("Diagnostic-Code") or "").partition(";")[2].strip() or None
            reports.append(Report(kind=kind, email=address, source="dsn", event_key=f"{key}:{index}",
                                  status_code=match.group(0), detail=detail,
                                  digest_id=row.id if row is not None else None))
        if not reports:
            return Finding(IGNORED, why="a delivery-status report without failures or delays")
        return Finding(HARD if HARD in kinds else SOFT, reports)

    def _arf(self, msg: Message, key: str) -> Finding:
        row, forged = self._row(msg)
        if forged:
            return Finding(UNKNOWN, why="a complaint whose token does not verify")
        fields = next(iter(_parts(msg, "message/feedback-report")), None)
        group = None
        if fields is not None:
            payload = fields.get_payload()
            group = payload[0] if isinstance(payload, list) and payload else \
                email.message_from_string(payload) if isinstance(payload, str) else None
        original = _attached_original(msg)
        address = self._email_of_row(row) or (group and _address_of(group.get("Original-Rcpt-To"))) \
            or (original and _address_of(parseaddr(str(original.get("To") or ""))[1]))
        if not address:
            return Finding(UNKNOWN, why="a complaint that names no reader")
        feedback = str(group.get("Feedback-Type") or "abuse").strip() if group is not None else "abuse"
        if feedback.lower() not in ("abuse", "fraud", "virus", "other"):
            return Finding(IGNORED, why=f"a feedback report of type {feedback}")
        agent = str(group.get("User-Agent") or "") if group is not None else ""
        return Finding(COMPLAINT, [Report(kind=COMPLAINT, email=address, source="arf", event_key=key,
                                          status_code=feedback, detail=f"complaint via {agent}" if agent else None,
                                          digest_id=row.id if row is not None else None)])

    def _unsubscribe(self, msg: Message, key: str) -> Finding:
        try:
            subscriber_id = subscriber_of_mailto(self.signer, str(msg.get("Subject") or ""))
        except TokenError:
            return Finding(UNKNOWN, why="an unsubscribe request without a valid token")
        subscriber = self.session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return Finding(IGNORED, why="an unsubscribe for a subscriber that is gone")
        return Finding(UNSUBSCRIBE, [Report(kind=UNSUBSCRIBE, email=subscriber.email, source="mailto",
                                            event_key=key, detail="unsubscribe by mail")])

    def _plain_bounce(self, msg: Message, key: str) -> Finding:
        """A non-standard bounce (plain text from MAILER-DAEMON): only when our VERP address names the row.
        The first enhanced status code in the text decides hard or soft; without one, flufl.bounce's
        detectors for the common MTAs' formats (qmail, Exim, Yahoo, ...) decide permanent or temporary."""
        row, _ = self._row(msg)
        address = self._email_of_row(row)
        if address is None:
            return Finding(UNKNOWN, why="a plain-text bounce that names no row")
        text = _text_of(msg)
        match = _STATUS.search(text)
        if match is not None and match.group(1) != "2":
            kind, code, needle = (HARD if match.group(1) == "5" else SOFT), match.group(0), match.group(0)
        else:
            temporary, permanent = _detected_failures(msg)
            if not (temporary or permanent):
                return Finding(UNKNOWN, why="a plain-text bounce without a status this reader knows")
            kind, code = (HARD, None) if permanent else (SOFT, None)
            needle = next(iter(permanent or temporary))
        line = next((ln.strip() for ln in text.splitlines() if needle.lower() in ln.lower()), None)
        return Finding(kind, [Report(kind=kind, email=address, source="dsn", event_key=key,
                                     status_code=code, detail=line, digest_id=row.id)])


def _detected_failures(msg: Message) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses by flufl.bounce's format detectors."""
    from flufl.bounce import all_failures  # 55 ms of detectors to import: only for a non-standard bounce

    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 (a detector tripping on odd input is not a finding)
        return set(), set()
    return {_decoded(a) for a in temporary}, {_decoded(a) for a in permanent}


def _decoded(address) -> str:
    return address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)


def _text_of(msg: Message) -> str:
    chunks = []
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)[:20000]


def _is_auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted") or "").strip().lower()
    precedence = str(msg.get("Precedence") or "").strip().lower()
    return (auto not in ("", "no") or msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None
            or precedence in ("auto_reply", "bulk", "junk"))


def connect(settings) -> imaplib.IMAP4:
    """Log in to the bounce mailbox (DIGEST_MAILBOX_*)."""
    if not settings.mailbox_host:
        raise ConfigError("DIGEST_MAILBOX_HOST is not set: name the IMAP server of the bounce mailbox")
    if not settings.mailbox_username or settings.mailbox_password is None:
        raise ConfigError("DIGEST_MAILBOX_USERNAME and DIGEST_MAILBOX_PASSWORD must be set to read the mailbox")
    security = settings.mailbox_security
    port = settings.mailbox_port or (993 if security == "ssl" else 143)
    where = f"the IMAP server {settings.mailbox_host}:{port}"
    try:
        context = ssl.create_default_context(cafile=settings.mailbox_cafile) if security != "none" else None
    except OSError as exc:
        raise ConfigError(f"DIGEST_MAILBOX_CAFILE={settings.mailbox_cafile}: cannot read it ({exc.strerror or exc}); "
                          "name a PEM file of CA certificates") from None
    client = None
    try:
        if security == "ssl":
            client = imaplib.IMAP4_SSL(settings.mailbox_host, port, ssl_context=context,
                                       timeout=settings.mailbox_timeout)
        else:
            client = imaplib.IMAP4(settings.mailbox_host, port, timeout=settings.mailbox_timeout)
            if security == "starttls":
                _starttls(client, context, where)
        client.login(settings.mailbox_username, settings.mailbox_password)
        # The greeting's capabilities are the pre-login ones; MOVE and UIDPLUS show up after login.
        status, data = client.capability()
        if status == "OK" and data and data[-1]:
            client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
    except imaplib.IMAP4.error as exc:
        _close(client)
        raise DeliveryError(f"{where} refused: {exc}; check DIGEST_MAILBOX_USERNAME and "
                            "DIGEST_MAILBOX_PASSWORD") from None
    except ssl.SSLCertVerificationError as exc:
        _close(client)
        raise DeliveryError(f"{where}: its certificate did not verify ({exc.verify_message}); if it is signed by "
                            "your own CA, set DIGEST_MAILBOX_CAFILE to that CA's PEM file") from None
    except (OSError, ssl.SSLError) as exc:
        _close(client)
        raise DeliveryError(f"cannot reach {where} ({exc}); check DIGEST_MAILBOX_HOST, DIGEST_MAILBOX_PORT and "
                            "DIGEST_MAILBOX_SECURITY") from None
    return client


def _starttls(client: imaplib.IMAP4, context: ssl.SSLContext, where: str) -> None:
    # imaplib raises its generic error when the server does not offer STARTTLS: that is a setting to fix,
    # not a password, and the session must never go on in clear text.
    if "STARTTLS" not in client.capabilities:
        _close(client)
        raise DeliveryError(f"{where} does not offer STARTTLS; set DIGEST_MAILBOX_SECURITY=ssl (and its TLS "
                            "port in DIGEST_MAILBOX_PORT) or, on a trusted network only, none")
    client.starttls(context)


def _close(client: imaplib.IMAP4 | None) -> None:
    if client is not None:
        try:
            client.shutdown()
        except OSError:
            pass


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer, what: str):
    status, data = answer
    if status != "OK":
        raise DeliveryError(f"the IMAP server refused {what}: {data!r}")
    return data


def _move(client: imaplib.IMAP4, uid: bytes, done: str) -> None:
    if "MOVE" in client.capabilities:
        _ok(client.uid("MOVE", uid, _quote(done)), "MOVE")
        return
    _ok(client.uid("COPY", uid, _quote(done)), "COPY")
    _ok(client.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
    if "UIDPLUS" in client.capabilities:
        _ok(client.uid("EXPUNGE", uid), "UID EXPUNGE")
    else:
        _ok(client.expunge(), "EXPUNGE")


def poll(engine, settings, signer: Signer, *, client: imaplib.IMAP4 | None = None) -> dict:
    """Read every message in DIGEST_MAILBOX_FOLDER once: apply, commit, then move to the done folder.
    Returns the counts of the operator contract."""
    counts = {"processed": 0, **{name: 0 for name in COUNTS.values()}}
    policy = Policy.from_settings(settings)
    own = client is None
    client = client or connect(settings)
    try:
        folder, done = settings.mailbox_folder, settings.mailbox_done_folder
        if client.select(_quote(done), readonly=True)[0] != "OK":
            _ok(client.create(_quote(done)), f"creating the folder {done}")
        _ok(client.select(_quote(folder)), f"opening the folder {folder}")
        uids = _ok(client.uid("SEARCH", None, "UNDELETED"), "SEARCH")[0].split()
        for uid in uids:
            _one(client, uid, engine, signer, settings, policy, counts)
    finally:
        if own:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
    return counts


def _one(client, uid: bytes, engine, signer, settings, policy, counts: dict) -> None:
    data = _ok(client.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
    raw = next((item[1] for item in data if isinstance(item, tuple)), None)
    if raw is None:
        return  # expunged by another reader meanwhile
    with Session(engine) as session:
        try:
            finding = Reader(session, signer).classify(raw, settings.unsubscribe_mailto)
            for report in finding.reports:
                apply_once(session, report, policy)
        except (InputError, ValueError, LookupError, TypeError) as exc:
            session.rollback()
            log.warning("mailbox: message UID %s could not be read (%s); it stays in the folder",
                        uid.decode(), type(exc).__name__)
            counts["unknown"] += 1
            return
    counts[COUNTS[finding.kind]] += 1
    if finding.kind == UNKNOWN:
        log.info("mailbox: message UID %s kept for staff: %s", uid.decode(), finding.why)
        return
    _move(client, uid, settings.mailbox_done_folder)  # only after the effect is committed
    counts["processed"] += 1
