"""Public signup: validate what a stranger sent, decide what it may change, claim the one email.

The web app's POST /subscribe and /manage call these inside one write transaction; the caller
commits, then sends the claimed email and records how it went (mail_done). Nothing here tells the
caller's visitor whether an address was known: validation runs before any lookup, and every
outcome is answered alike by the web app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, func, select

from digest.addresses import normalize_email
from digest.db import lock_name
from digest.errors import InputError
from digest.models import SignupMail, Subscriber, Suppression, utcnow

from .follows import NameIndex, UnknownName
from .records import _raise_first, apply_record, build_record

# The CSV's field names that a signup may set (status, paused_until and the rest are staff's).
SIGNUP_FIELDS = ("email", "name", "companies", "segments", "timezone", "language", "frequency", "send_day",
                 "send_hour")
# A BCP 47 tag, simply checked: a 2-3 letter language, then subtags of 1-8 letters or digits.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class Outcome:
    """What a signup or manage request led to: which email to send (None: none) and to whom."""

    mail: str | None  # "confirm", "manage" or None
    subscriber_id: int | None = None
    claim_id: int | None = None


def parse_language(value) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if len(text) > 35 or not _LANGUAGE.fullmatch(text):
        raise InputError("language", f"expected a language tag like en or pt-BR, got {text[:40]!r}")
    return text


def validated(session: Session, values: dict, check_deliverability: bool = False):
    """The signup's record, or InputError naming the (first) bad field; nothing is looked up by address."""
    follow = values.get("follow") or ()  # the form's free-text picker: company names, else segments
    unknown = sorted(set(values) - set(SIGNUP_FIELDS) - {"follow"})
    if unknown:
        raise InputError(unknown[0], f"unknown field {unknown[0]!r}; the fields are {', '.join(SIGNUP_FIELDS)}")
    if not values.get("email"):
        raise InputError("email", "an email address is required")
    language = parse_language(values.get("language"))
    preferences = {k: values.get(k) for k in ("timezone", "frequency", "send_day", "send_hour")}
    catalog = NameIndex(session)
    companies, segments = list(values.get("companies") or ()), list(values.get("segments") or ())
    for name in follow:
        try:
            catalog.company(name)
            companies.append(name)
        except UnknownName:
            try:
                catalog.segment(name)
                segments.append(name)
            except UnknownName:
                raise InputError("companies", f"no company or segment is called {name.strip()[:200]!r}") from None
    record, errors = build_record(catalog, email=values["email"], name=values.get("name") or "",
                                  check_deliverability=check_deliverability, companies=companies, segments=segments,
                                  **{k: v for k, v in preferences.items() if v not in (None, "")})
    if errors:
        _raise_first(errors)
    if language is not None and hasattr(Subscriber, "language"):
        record.values["language"] = language  # stored once subscribers have a language column
    return record


def signup(session: Session, values: dict, *, mails_per_day: int, now: datetime | None = None,
           check_deliverability: bool = False) -> Outcome:
    """Apply a web signup: a new address becomes a pending subscriber and gets a confirmation; a
    pending one gets the confirmation again, an active one its preferences link (both within the
    daily cap); a stopped or suppressed one gets nothing. An existing subscriber is never changed."""
    record = validated(session, values, check_deliverability)
    lock_name(session, f"signup:{record.key}")  # racing signups for one address: one at a time
    existing = session.exec(select(Subscriber).where(Subscriber.email_key == record.key)).first()
    suppression = session.get(Suppression, record.key)
    if existing is None and suppression is None:
        subscriber, _ = apply_record(session, record, existing=None, suppression=None, mode="create",
                                     double_opt_in=True)
        return _with_claim(session, subscriber, "confirm", mails_per_day, now)
    if existing is None or suppression is not None or existing.status not in ("pending", "active"):
        return Outcome(None)
    return _with_claim(session, existing, "confirm" if existing.status == "pending" else "manage", mails_per_day, now)


def manage(session: Session, email: str, *, mails_per_day: int, now: datetime | None = None) -> Outcome:
    """The preferences link for an address typed on /manage (a pending subscriber gets the
    confirmation instead); nothing for an unknown, bounced or complained address."""
    key = normalize_email(email)[1]
    lock_name(session, f"signup:{key}")
    subscriber = session.exec(select(Subscriber).where(Subscriber.email_key == key)).first()
    if subscriber is None or subscriber.status in ("bounced", "complained"):
        return Outcome(None)
    suppression = session.get(Suppression, key)
    if suppression is not None and suppression.reason != "unsubscribed":
        return Outcome(None)
    return _with_claim(session, subscriber, "confirm" if subscriber.status == "pending" else "manage",
                       mails_per_day, now)


def _with_claim(session, subscriber: Subscriber, kind: str, per_day: int, now) -> Outcome:
    claim = claim_mail(session, subscriber, kind, per_day=per_day, now=now)
    return Outcome(kind if claim else None, subscriber.id, claim.id if claim else None)


def claim_mail(session: Session, subscriber: Subscriber, kind: str, *, per_day: int,
               now: datetime | None = None) -> SignupMail | None:
    """Claim the right to send `kind` to this subscriber today; None when the day's cap is reached
    or another request claimed the same slot first (the unique key decides a race)."""
    now = now or utcnow()
    day = now.date().isoformat()
    where = (SignupMail.email_key == subscriber.email_key, SignupMail.kind == kind, SignupMail.day == day)
    used = session.exec(select(func.count()).select_from(SignupMail).where(*where, SignupMail.state != "failed")).one()
    if used >= per_day:
        return None
    seq = session.exec(select(func.max(SignupMail.seq)).where(*where)).one()
    row = SignupMail(email_key=subscriber.email_key, day=day, seq=0 if seq is None else seq + 1, kind=kind,
                     subscriber_id=subscriber.id, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except sa.exc.IntegrityError:
        return None
    return row


def mail_done(session: Session, claim_id: int, *, sent: bool, message_id: str | None, detail: str | None,
              now: datetime | None = None) -> None:
    """Record how the claimed email went; a failed one no longer counts against the day's cap."""
    row = session.get(SignupMail, claim_id)
    if row is None:
        return
    row.state, row.message_id, row.detail = ("sent" if sent else "failed"), message_id, (detail or None)
    row.sent_at = (now or utcnow()) if sent else None
    session.add(row)
    session.flush()
