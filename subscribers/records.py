"""Subscriber records: validation, the lifecycle rules, add, update, confirm and unsubscribe.

Every function here takes an open Session, flushes what it changes and never commits: the caller
(the CLI's `with Session(engine)`, the web app's request) decides the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, func, select

from digest.addresses import clean_name, normalize_email
from digest.errors import InputError, NotFound, TokenError
from digest.models import SUBSCRIBER_STATES, Follow, Subscriber, Suppression, utcnow
from digest.suppression import REASONS, RECEIVING, lift_suppression, suppress, suppressed_keys
from digest.tokens import Signer

from .follows import COMPANY, SEGMENT, NameIndex, UnknownName, follow_ids, follow_names, set_follows
from .preferences import PARSERS, day_name, parse_preferences

_RANK = {reason: rank for rank, reason in enumerate(REASONS)}
CREATED, UPDATED, UNCHANGED, RESUBSCRIBED = "created", "updated", "unchanged", "resubscribed"


class Suppressed(InputError):
    """The address is on the suppression list (or its subscriber stopped): not resubscribed."""

    def __init__(self, email: str, reason: str):
        self.reason = reason
        super().__init__("email", f"{email} is {reason} and suppressed; not resubscribed "
                                  "(use --resubscribe to subscribe it again)")


class AlreadyExists(InputError):
    """A receiving subscriber of that address exists already: add refuses, set changes it."""

    def __init__(self, subscriber: Subscriber):
        self.subscriber = subscriber
        super().__init__("email", f"{subscriber.email} is already subscriber #{subscriber.id}; "
                                  "change it with `digest subscribers set`")


@dataclass
class Record:
    """One subscriber's validated input. None for follows means "leave them as they are"."""

    email: str
    key: str
    smtputf8: bool
    values: dict = field(default_factory=dict)  # name and preference columns given
    status: str | None = None
    companies: list[int] | None = None
    segments: list[int] | None = None


def parse_status(value) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().casefold()
    if text not in SUBSCRIBER_STATES:
        raise InputError("status", f"expected one of {', '.join(SUBSCRIBER_STATES)}, got {str(value).strip()!r}")
    return text


def build_record(catalog: NameIndex, *, email: str, name=None, companies=None, segments=None, status=None,
                 check_deliverability: bool = False, **preferences) -> tuple[Record | None, list[InputError]]:
    """Validate one subscriber's input, collecting every problem (an import reports them all at once).

    Arguments left as None are not part of the record; companies and segments are lists of names.
    """
    errors: list[InputError] = []
    record = None
    try:
        address, key, smtputf8 = normalize_email(email, check_deliverability=check_deliverability)
        record = Record(address, key, smtputf8)
    except InputError as exc:
        errors.append(exc)
    values: dict = {}
    if name is not None:
        try:
            values["name"] = clean_name(name)
        except InputError as exc:
            errors.append(exc)
    for column, raw in preferences.items():
        if column not in PARSERS:
            raise TypeError(f"unknown preference {column!r}")
        if raw is None:
            continue
        try:
            values.update(parse_preferences(**{column: raw}))
        except InputError as exc:
            errors.append(exc)
    try:
        status = parse_status(status)
    except InputError as exc:
        errors.append(exc)
    follows: dict[str, list[int] | None] = {}
    for kind, names, resolve in ((COMPANY, companies, catalog.company), (SEGMENT, segments, catalog.segment)):
        if names is None:
            follows[kind] = None
            continue
        ids: list[int] = []
        for item in names:
            if not item or not item.strip():
                continue
            try:
                ids.append(resolve(item)[0])
            except UnknownName as exc:
                errors.append(InputError(exc.field, str(exc)))
        follows[kind] = ids
    if errors or record is None:
        return None, errors
    record.values, record.status = values, status
    record.companies, record.segments = follows[COMPANY], follows[SEGMENT]
    return record, []


def _stopped_reason(existing: Subscriber | None, suppression: Suppression | None) -> str | None:
    reasons = [r for r in (suppression.reason if suppression else None, existing.status if existing else None) if r in _RANK]
    return max(reasons, key=_RANK.__getitem__) if reasons else None


def apply_record(session: Session, record: Record, *, existing: Subscriber | None, suppression: Suppression | None,
                 current_follows: dict[str, set[int]] | None = None, mode: str = "upsert",
                 resubscribe: bool = False, double_opt_in: bool = False,
                 deferred: list | None = None) -> tuple[Subscriber, str]:
    """Store one validated record by the lifecycle rules; returns (subscriber, action).

    mode "create" refuses an existing receiving subscriber, "update" keeps a stopped subscriber
    stopped unless resubscribe is given, "upsert" (imports) treats every row without a stopping
    status as a wish to receive the digest. In every mode a suppressed or stopped address is
    resubscribed only when resubscribe is True; otherwise Suppressed is raised and nothing changes.

    With a deferred list (bulk imports) nothing is flushed: a new subscriber has no id yet, so it
    is appended as (subscriber, record) and the caller adds its follows after one flush per batch.
    """
    stopped = _stopped_reason(existing, suppression)
    resubscribed = False
    if record.status in _RANK:
        status = max((record.status, stopped or record.status), key=_RANK.__getitem__)  # never downgrade
    elif record.status is None and mode == "update" and not resubscribe:
        status = existing.status
    else:
        if existing is not None and stopped is None and mode == "create":
            raise AlreadyExists(existing)
        if record.status is not None:
            status = record.status
        elif existing is not None and existing.status in RECEIVING:
            status = existing.status
        else:
            status = "pending" if double_opt_in else "active"
        if stopped is not None:
            if not resubscribe:
                raise Suppressed(record.email, stopped)
            lift_suppression(session, record.email)
            resubscribed = True

    now = utcnow()
    columns = dict(record.values, email=record.email, email_key=record.key, smtputf8=record.smtputf8, status=status)
    if existing is None:
        subscriber = Subscriber(**columns, created_at=now, updated_at=now)
        session.add(subscriber)
        action = CREATED
        current_follows = {COMPANY: set(), SEGMENT: set()}
        if deferred is None:
            session.flush()
        else:
            deferred.append((subscriber, record))
    else:
        subscriber = existing
        changed = False
        for column, value in columns.items():
            if getattr(subscriber, column) != value:
                setattr(subscriber, column, value)
                changed = True
        if changed:
            subscriber.updated_at = now
            session.add(subscriber)
        action = UPDATED if changed else UNCHANGED
    if current_follows is None:
        current_follows = follow_ids(session, [subscriber.id])[subscriber.id]
    if not (deferred is not None and action == CREATED):
        for kind, ids in ((COMPANY, record.companies), (SEGMENT, record.segments)):
            if ids is not None and set_follows(session, subscriber.id, kind, ids, current=current_follows[kind],
                                               flush=deferred is None):
                action = UPDATED if action == UNCHANGED else action
    if status in _RANK and (suppression is None or _RANK[status] > _RANK.get(suppression.reason, -1)):
        suppress(session, record.email, status)
    if resubscribed:
        action = RESUBSCRIBED
    if deferred is None:
        session.flush()
    return subscriber, action


def find_subscriber(session: Session, ref: int | str) -> Subscriber | None:
    """The subscriber by id (an int, "12" or "#12") or by address (any case)."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return session.get(Subscriber, ref)
    text = str(ref).strip()
    if text.removeprefix("#").isdigit():
        return session.get(Subscriber, int(text.removeprefix("#")))
    try:
        key = normalize_email(text)[1]
    except InputError:
        return None
    return session.exec(select(Subscriber).where(Subscriber.email_key == key)).first()


def get_subscriber(session: Session, ref: int | str) -> Subscriber:
    subscriber = find_subscriber(session, ref)
    if subscriber is None:
        raise NotFound(f"no subscriber {ref}")
    return subscriber


def _raise_first(errors: list[InputError]):
    """Raise the first problem, with the others appended so that one run shows them all."""
    first, rest = errors[0], errors[1:]
    if not rest:
        raise first
    raise InputError(first.field, "; ".join([first.message, *(str(e) for e in rest)]))


def add_subscriber(session: Session, *, email: str, name: str | None = None, companies=None, segments=None,
                   timezone=None, send_day=None, send_hour=None, frequency=None, max_articles=None,
                   min_significance=None, reading_budget=None, paused_until=None, language=None,
                   status: str | None = None,
                   double_opt_in: bool = False, resubscribe: bool = False,
                   check_deliverability: bool = False) -> Subscriber:
    """Create a subscriber (status active, or pending with double opt-in); the caller commits.

    An argument left as None takes its default for a new subscriber (UTC, mon, 8, weekly, 8
    articles, significance 1, no budget, not paused, no follows) and is left as it was when
    resubscribe brings back an existing one. Raises InputError for invalid input, AlreadyExists
    for a receiving subscriber of that address, and Suppressed for a suppressed or stopped address
    unless resubscribe is True.
    """
    given = {"timezone": timezone, "send_day": send_day, "send_hour": send_hour, "frequency": frequency,
             "max_articles": max_articles, "min_significance": min_significance, "reading_budget": reading_budget,
             "paused_until": paused_until, "language": language}
    catalog = NameIndex(session)
    key = None
    try:
        key = normalize_email(email)[1]  # syntax only: build_record below does any DNS check once
    except InputError:
        pass  # build_record reports it with the other problems
    existing = session.exec(select(Subscriber).where(Subscriber.email_key == key)).first() if key else None
    if existing is None:
        # A new subscriber gets every column: what was given, the default for the rest.
        name = name or ""
        companies, segments = list(companies or ()), list(segments or ())
        given = {column: ("" if value is None else value) for column, value in given.items()}
    else:
        given = {column: value for column, value in given.items() if value is not None}
        companies = None if companies is None else list(companies)
        segments = None if segments is None else list(segments)
    record, errors = build_record(catalog, email=email, name=name, companies=companies, segments=segments,
                                  status=status, check_deliverability=check_deliverability, **given)
    if errors:
        _raise_first(errors)
    subscriber, _ = apply_record(session, record, existing=existing, suppression=session.get(Suppression, record.key),
                                 mode="create", resubscribe=resubscribe, double_opt_in=double_opt_in)
    return subscriber


def update_subscriber(session: Session, subscriber: Subscriber, *, resubscribe: bool = False, email: str | None = None,
                      name: str | None = None, companies: list[str] | None = None, segments: list[str] | None = None,
                      **preferences) -> tuple[Subscriber, str]:
    """Change the given fields of a subscriber (only those given); returns (subscriber, action).

    companies and segments, when given, replace what the subscriber follows. A stopped subscriber
    keeps its status unless resubscribe is True (which lifts the suppression). Every problem is
    reported at once, joined by "; ", and nothing changes.
    """
    record, errors = build_record(NameIndex(session), email=email or subscriber.email, name=name, companies=companies,
                                  segments=segments, **preferences)
    if errors:
        _raise_first(errors)
    suppression = session.get(Suppression, subscriber.email_key)
    if record.key != subscriber.email_key:
        other = session.exec(select(Subscriber).where(Subscriber.email_key == record.key)).first()
        if other is not None:
            raise AlreadyExists(other)
        moved_to = session.get(Suppression, record.key)
        if moved_to is not None:
            if not resubscribe:
                # Changing the address must not be a way round the suppression list.
                raise Suppressed(record.email, moved_to.reason)
            lift_suppression(session, record.email)
    return apply_record(session, record, existing=subscriber, suppression=suppression, mode="update",
                        resubscribe=resubscribe)


def unsubscribe(session: Session, subscriber_id_or_email: int | str, *, reason: str = "unsubscribed",
                detail: str | None = None, source: str | None = None) -> bool:
    """Stop the subscriber and suppress the address; True if anything changed.

    An address with no subscriber is still suppressed, so that a later import cannot add it.
    Raises NotFound only for an id that does not exist.
    """
    subscriber = find_subscriber(session, subscriber_id_or_email)
    if subscriber is None:
        ref = str(subscriber_id_or_email).strip()
        if isinstance(subscriber_id_or_email, int) or ref.removeprefix("#").isdigit():
            raise NotFound(f"no subscriber {subscriber_id_or_email}")
        address = ref
    else:
        address = subscriber.email
    before_status = subscriber.status if subscriber else None
    before = session.get(Suppression, subscriber.email_key if subscriber else _key_or_raise(address))
    before_reason = before.reason if before else None
    row = suppress(session, address, reason, detail, source=source)
    return row.reason != before_reason or (subscriber is not None and subscriber.status != before_status)


def undo_unsubscribe(session: Session, subscriber: Subscriber) -> str:
    """Bring back a reader who unsubscribed by their own choice (the unsubscribe page's "Changed
    your mind?"); the caller commits. Returns "resubscribed", "receiving" (nothing to undo) or the
    reason it is refused: "bounced" or "complained" (never lifted from a reader's link)."""
    suppression = session.get(Suppression, subscriber.email_key)
    stopped = _stopped_reason(subscriber, suppression)
    if stopped is None:
        return "receiving"
    if stopped != "unsubscribed":
        return stopped
    lift_suppression(session, subscriber.email)
    subscriber.status = "active"
    subscriber.updated_at = utcnow()
    session.add(subscriber)
    session.flush()
    return "resubscribed"


def _key_or_raise(address: str) -> str:
    return normalize_email(address)[1]


def confirm(session: Session, token: str, signer: Signer) -> Subscriber:
    """Activate the pending subscriber a confirm token names; repeating it is harmless.

    Raises TokenError (one message for every failure) for a bad token, a subscriber that no longer
    exists, or one that stopped since: a confirm link never resubscribes.
    """
    subscriber_id = signer.read("confirm", token)
    if isinstance(subscriber_id, tuple):
        subscriber_id = subscriber_id[0]
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status not in RECEIVING or session.get(Suppression, subscriber.email_key):
        raise TokenError("this link is invalid or has expired")
    if subscriber.status == "pending":
        subscriber.status = "active"
        subscriber.confirmed_at = subscriber.updated_at = utcnow()
        session.add(subscriber)
        session.flush()
    return subscriber


def confirmation_link(base_url: str, signer: Signer, subscriber: Subscriber) -> str:
    """The double opt-in link the confirmation message carries (the web app serves /confirm/TOKEN)."""
    return f"{base_url.rstrip('/')}/confirm/{signer.make('confirm', subscriber.id)}"


def confirmation_message(base_url: str, signer: Signer, subscriber: Subscriber) -> dict:
    """Subject and plain text of the double opt-in message, as data for the message builder."""
    link = confirmation_link(base_url, signer, subscriber)
    greeting = f"Hello {subscriber.name}," if subscriber.name else "Hello,"
    text = (
        f"{greeting}\n\nPlease confirm that you want to receive the AMW Digest at {subscriber.email}:\n\n"
        f"{link}\n\nIf you did not ask for it, ignore this message and you will receive nothing.\n"
    )
    return {"to": subscriber.email, "subject": "Confirm your AMW Digest subscription", "text": text, "link": link,
            "smtputf8": subscriber.smtputf8}


def list_subscribers(session: Session, *, status: str | None = None, company: str | None = None,
                     segment: str | None = None, limit: int | None = None, offset: int = 0) -> list[Subscriber]:
    """Subscribers in id order, optionally by status or by what they follow (names resolve as in follows)."""
    query = select(Subscriber).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == parse_status(status))
    catalog = NameIndex(session) if company or segment else None
    for kind, name in ((COMPANY, company), (SEGMENT, segment)):
        if name:
            target_id = (catalog.company if kind == COMPANY else catalog.segment)(name)[0]
            followers = select(Follow.subscriber_id).where(Follow.kind == kind, Follow.target_id == target_id)
            query = query.where(Subscriber.id.in_(followers))
    if offset:
        query = query.offset(offset)
    if limit:
        query = query.limit(limit)
    return list(session.exec(query))


def count_subscribers(session: Session) -> dict[str, int]:
    rows = session.exec(select(Subscriber.status, func.count()).group_by(Subscriber.status))
    return {status: count for status, count in rows}


def receives_digest(subscriber: Subscriber, suppressed: bool, today: date | None = None) -> tuple[bool, str | None]:
    """Whether a digest may go to this subscriber now, and if not, why (for the ledger's skip_reason)."""
    if suppressed:
        return False, "suppressed"
    if subscriber.status != "active":
        return False, subscriber.status
    if today is not None and subscriber.paused_until is not None and today < subscriber.paused_until:
        return False, "paused"
    return True, None


def deliverable_query():
    """A select of active subscribers whose address is not suppressed (the pipeline's starting set)."""
    return (
        select(Subscriber)
        .where(Subscriber.status == "active")
        .where(~select(Suppression.email_key).where(Suppression.email_key == Subscriber.email_key).exists())
        .order_by(Subscriber.id)
    )


def subscriber_dicts(session: Session, subscribers: list[Subscriber]) -> list[dict]:
    """JSON-ready views of subscribers with their follows and suppression, in a few queries."""
    names = follow_names(session, [s.id for s in subscribers])
    suppressions = suppressed_keys(session, [s.email_key for s in subscribers])
    result = []
    for s in subscribers:
        companies, segments = names.get(s.id, ([], []))
        row = suppressions.get(s.email_key)
        result.append({
            "id": s.id, "email": s.email, "name": s.name, "status": s.status, "timezone": s.timezone,
            "send_day": day_name(s.send_day), "send_hour": s.send_hour, "frequency": s.frequency,
            "max_articles": s.max_articles, "min_significance": s.min_significance,
            "reading_budget": s.reading_budget,
            "paused_until": s.paused_until.isoformat() if s.paused_until else None,
            "smtputf8": s.smtputf8, "language": s.language or "", "companies": companies, "segments": segments,
            "suppressed": {"reason": row.reason, "since": row.created_at.isoformat(), "source": row.source,
                           "status_code": row.status_code, "detail": row.detail} if row else None,
            "created_at": s.created_at.isoformat() if s.created_at else None,
            "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
        })
    return result
