"""The delivery ledger: plan one digest per subscriber and period, claim rows under a lease, record outcomes.

Every state change is its own short transaction, and a send is recorded only after the mail
system accepted it: a crash between the two leaves the row in `sending`, which a later run finds
with an expired lease and treats as `unknown` (resent once by default, never silently dropped).
A sender that stops in an orderly way (a signal, a configuration error) releases what it claimed
but did not hand over, exactly as it was.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from . import metrics
from .db import SqliteStatement, autocommit_connection, begin_write, sqlite_connection
from .message import make_message_id
from .models import Digest, DigestItem, stored_utc, utcnow
from .types import LedgerState

log = logging.getLogger("digest.ledger")

FINAL_STATES = (LedgerState.SENT, LedgerState.FAILED, LedgerState.SKIPPED)


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this worker may send now; the lease keeps other workers off it until it expires."""

    digest_id: int
    subscriber_id: int
    period: str
    scheduled_for: datetime
    message_id: str
    attempts: int
    previous_state: str


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(Digest.__table__)


def plan(session: Session, rows: list[dict], *, now: datetime | None = None) -> int:
    """Insert ledger rows (subscriber_id, period, scheduled_for, state, skip_reason) unless present.

    The unique (subscriber, period) key makes this idempotent across runs and processes.
    """
    if not rows:
        return 0
    now = now or utcnow()
    begin_write(session)
    values = [{"state": LedgerState.PLANNED, "skip_reason": None, "attempts": 0, "created_at": now, "updated_at": now, **r}
              for r in rows]
    if session.get_bind().dialect.name == "postgresql":
        # Each column as one array parameter: a short statement with 8 parameters. Multi-row VALUES
        # with 8 placeholders a row spent half the due pass in psycopg turning placeholders into
        # $n (not cached beyond 50 parameters): 2.7 of 5.3 s for 30,000 digests.
        arrays = {c: [stored_utc(v[c]) if c in _PLAN_TIMES else v[c] for v in values] for c in _PLAN_COLUMNS}
        added = len(session.execute(_PLAN_UNNEST, arrays).all())
    else:
        # One cached single-row statement executed for many rows: SQLAlchemy sends it as multi-row
        # VALUES batches ("insertmanyvalues"), and RETURNING counts the rows the conflict rule let
        # in. (A .values(rows) statement was compiled anew for every chunk.)
        stmt = (_insert(session).on_conflict_do_nothing(index_elements=["subscriber_id", "period"])
                .returning(Digest.__table__.c.id))
        added = len(session.execute(stmt, values).all())
    session.commit()
    return added


_PLAN_COLUMNS = ("subscriber_id", "period", "scheduled_for", "state", "skip_reason", "attempts", "created_at",
                 "updated_at")
_PLAN_TIMES = {"scheduled_for", "created_at", "updated_at"}
_PLAN_UNNEST = sa.text(f"""
    INSERT INTO digest ({", ".join(_PLAN_COLUMNS)})
    SELECT * FROM unnest(CAST(:subscriber_id AS integer[]), CAST(:period AS varchar[]),
                         CAST(:scheduled_for AS timestamp[]), CAST(:state AS varchar[]),
                         CAST(:skip_reason AS varchar[]), CAST(:attempts AS integer[]),
                         CAST(:created_at AS timestamp[]), CAST(:updated_at AS timestamp[]))
    ON CONFLICT (subscriber_id, period) DO NOTHING
    RETURNING id
""")


_DIGEST = Digest.__table__
_CLAIMED = (_DIGEST.c.id, _DIGEST.c.subscriber_id, _DIGEST.c.period, _DIGEST.c.scheduled_for,
            _DIGEST.c.message_id, _DIGEST.c.attempts, _DIGEST.c.state, _DIGEST.c.unknown_resends)
# One statement executed for every claimed row (an executemany): Core, because the ORM's load,
# change tracking and flush of 25 rows cost about as much as sending them.
_TAKE = (sa.update(_DIGEST).where(_DIGEST.c.id == sa.bindparam("row_id"))
         .values(state=LedgerState.SENDING, lease_owner=sa.bindparam("owner"), lease_expires_at=sa.bindparam("lease"),
                 attempts=sa.bindparam("row_attempts"), message_id=sa.bindparam("row_message_id"),
                 unknown_resends=sa.bindparam("row_resends"), updated_at=sa.bindparam("now")))


def claim(session: Session, *, owner: str, now: datetime, limit: int, lease_seconds: int,
          max_attempts: int, resend_unknown: bool = True, message_domain: str = "localhost",
          digest_ids: list[int] | None = None) -> list[Claim]:
    """Take up to `limit` sendable rows for this owner: planned, deferred and due again, or abandoned.

    An abandoned row (still `sending` after its lease expired: its sender died) becomes `unknown`
    and is resent once when `resend_unknown` is set (at most a duplicate, never a loss); otherwise
    it is left as `unknown` for an operator to decide. The resend counts one attempt like any
    other, so a 4xx reply to it defers the row as usual; a row that becomes unknown again after
    its resend is not resent a second time (`unknown_resends`).
    """
    begin_write(session)
    conn = session.connection()
    abandoned = conn.execute(sa.select(_DIGEST.c.id).where(_DIGEST.c.state == LedgerState.SENDING, _DIGEST.c.lease_expires_at < now)
                             .with_for_update(skip_locked=True)).scalars().all()
    if abandoned:
        conn.execute(sa.update(_DIGEST).where(_DIGEST.c.id.in_(abandoned)).values(
            state=LedgerState.UNKNOWN, lease_owner=None, updated_at=now,
            last_error="sender " + sa.func.coalesce(_DIGEST.c.lease_owner, "?") + " stopped while sending (lease expired)"))
    order = (_DIGEST.c.scheduled_for, _DIGEST.c.id)
    if digest_ids is not None:
        rows = conn.execute(sa.select(*_CLAIMED).where(sendable_clause(now, max_attempts, resend_unknown),
                                                       _DIGEST.c.id.in_(digest_ids))
                            .order_by(*order).with_for_update(skip_locked=True)).all()
    else:
        # Retries first (deferred and due again, or unknown: few, and scheduled earlier), then new
        # rows. One query per kind, so each reads ix_digest_state_scheduled in order and stops at
        # the limit; one query over all sendable states sorted every pending row for each claim.
        rows = []
        for kind in (_retry_due(now, max_attempts, resend_unknown),
                     sa.and_(_DIGEST.c.state == LedgerState.PLANNED, _DIGEST.c.attempts < max_attempts)):
            if len(rows) >= limit:
                break
            rows += conn.execute(sa.select(*_CLAIMED).where(kind, _DIGEST.c.scheduled_for <= now)
                                 .order_by(*order).limit(limit - len(rows)).with_for_update(skip_locked=True)).all()
    claims, changes = [], []
    lease = now + timedelta(seconds=lease_seconds)
    for digest_id, subscriber_id, period, scheduled_for, message_id, attempts, previous, resends in rows:
        if previous == LedgerState.UNKNOWN:
            # Counted, not folded into attempts: a second crash must not lead to a third copy, but
            # a 4xx to the resend (the server did not take it) must not fail the row either.
            resends += 1
        attempts += 1
        # Made once per row and kept: a retry reuses it, and a random part keeps it unique across databases.
        message_id = message_id or make_message_id(f"{uuid.uuid4().hex}-{digest_id}", message_domain)
        changes.append({"row_id": digest_id, "row_attempts": attempts, "row_message_id": message_id,
                        "row_resends": resends})
        claims.append(Claim(digest_id, subscriber_id, period, scheduled_for, message_id, attempts, previous))
    if changes:
        conn.execute(_TAKE, [{**c, "owner": owner, "lease": lease, "now": now} for c in changes])
    session.commit()
    return claims


def _owned(session: Session, digest_id: int, owner: str) -> Digest | None:
    row = session.get(Digest, digest_id, with_for_update=True)
    if row is None or row.state != LedgerState.SENDING or row.lease_owner != owner:
        return None  # the lease was lost to another worker; it owns the outcome now
    return row


SHOWN, OVERFLOW = "shown", "overflow"  # digest_item.kind: in the email / on the web page only


def _items(article_ids: list[int], overflow_ids) -> tuple[list[int], list[str]]:
    """The issue's items in order (shown first, then the overflow), each once, with its kind."""
    kinds = dict.fromkeys(article_ids, SHOWN)
    for article_id in overflow_ids:
        kinds.setdefault(article_id, OVERFLOW)
    return list(kinds), list(kinds.values())


def mark_sent(session: Session, digest_id: int, owner: str, article_ids: list[int], *, now: datetime,
              subscriber_id: int, overflow_ids=()) -> bool:
    """Record an accepted send and what it carried, in one short transaction: `article_ids` as
    shown (received), `overflow_ids` (qualified, on the issue's web page only) as overflow.

    Runs once per message on the hot path: the guarded state change (only the lease holder may
    record it) and one multi-row insert of the items, as two Core statements, or on a sending
    session's PostgreSQL autocommit connection as one statement (one round trip, no BEGIN/COMMIT).
    """
    if session.in_transaction():
        session.commit()
    auto = autocommit_connection(session)
    if auto is not None:
        # PostgreSQL: the guarded state change and the items in one statement, which commits itself.
        ids, kinds = _items(article_ids, overflow_ids)
        done = auto.execute(_MARK_SENT, {"m_id": digest_id, "m_owner": owner, "m_now": now, "m_sid": subscriber_id,
                                         "m_articles": ids, "m_kinds": kinds}).scalar() == 1
        if done:
            metrics.recorded(LedgerState.SENT)
        return done
    own = sqlite_connection(session)
    if own is not None:  # SQLite: the sending loop's own driver connection (db.sending_session)
        return _mark_sent_sqlite(own, digest_id, owner, article_ids, overflow_ids, now, subscriber_id)
    # Straight on the connection, with statements built once: constructing them per call (the
    # ORM's execution path, or a fresh sa.update) cost more than running them.
    conn = session.connection()
    result = conn.execute(_MARK_SENT_ROW, {"m_id": digest_id, "m_owner": owner, "m_now": now})
    if result.rowcount != 1:
        session.rollback()  # the lease was lost to another worker; it owns the outcome now
        return False
    if article_ids or overflow_ids:
        ids, kinds = _items(article_ids, overflow_ids)
        conn.execute(_INSERT_ITEMS, [
            {"digest_id": digest_id, "article_id": article_id, "subscriber_id": subscriber_id, "position": position,
             "kind": kind}
            for position, (article_id, kind) in enumerate(zip(ids, kinds))])
    session.commit()
    metrics.recorded(LedgerState.SENT)
    return True


_MARK_SENT_ROW = (sa.update(_DIGEST)
                  .where(_DIGEST.c.id == sa.bindparam("m_id"), _DIGEST.c.state == LedgerState.SENDING,
                         _DIGEST.c.lease_owner == sa.bindparam("m_owner"))
                  .values(state=LedgerState.SENT, sent_at=sa.bindparam("m_now", type_=_DIGEST.c.sent_at.type),
                          updated_at=sa.bindparam("m_now", type_=_DIGEST.c.sent_at.type), lease_owner=None,
                          lease_expires_at=None, last_error=None))
_INSERT_ITEMS = sa.insert(DigestItem.__table__)
_ITEM_COLUMNS = ["digest_id", "article_id", "subscriber_id", "position", "kind"]
_MARK_SENT_ROW_SQLITE = SqliteStatement(_MARK_SENT_ROW)
_INSERT_ITEMS_SQLITE = SqliteStatement(_INSERT_ITEMS, _ITEM_COLUMNS)


def _mark_sent_sqlite(own, digest_id: int, owner: str, article_ids, overflow_ids, now: datetime,
                      subscriber_id: int) -> bool:
    """mark_sent's two statements in one transaction on a SQLite driver connection (autocommit
    outside it): the same guard (only the lease holder records) and the same rows."""
    own.execute("BEGIN IMMEDIATE")
    try:
        if _MARK_SENT_ROW_SQLITE.execute(own, {"m_id": digest_id, "m_owner": owner, "m_now": now}).rowcount != 1:
            own.execute("ROLLBACK")  # the lease was lost to another worker; it owns the outcome now
            return False
        if article_ids or overflow_ids:
            ids, kinds = _items(article_ids, overflow_ids)
            _INSERT_ITEMS_SQLITE.executemany(own, [
                {"digest_id": digest_id, "article_id": article_id, "subscriber_id": subscriber_id,
                 "position": position, "kind": kind}
                for position, (article_id, kind) in enumerate(zip(ids, kinds))])
        own.execute("COMMIT")
    except BaseException:
        if own.in_transaction:
            own.execute("ROLLBACK")
        raise
    metrics.recorded(LedgerState.SENT)
    return True


def _mark_sent_statement():
    """WITH sent AS (UPDATE digest ... RETURNING id), items AS (INSERT INTO digest_item SELECT ...
    FROM sent, unnest(:articles) WITH ORDINALITY) SELECT count(*) FROM sent (PostgreSQL)."""
    table, items = Digest.__table__, DigestItem.__table__
    # Bind names must not be column names: in an UPDATE those would become SET clauses.
    now = sa.bindparam("m_now", type_=table.c.sent_at.type)
    sent = (sa.update(table)
            .where(table.c.id == sa.bindparam("m_id"), table.c.state == LedgerState.SENDING,
                   table.c.lease_owner == sa.bindparam("m_owner"))
            .values(state=LedgerState.SENT, sent_at=now, updated_at=now, lease_owner=None, lease_expires_at=None,
                    last_error=None)
            .returning(table.c.id).cte("sent"))
    articles = (sa.func.unnest(sa.bindparam("m_articles", type_=postgresql.ARRAY(sa.BigInteger)),
                               sa.bindparam("m_kinds", type_=postgresql.ARRAY(sa.String)))
                .table_valued("article_id", "kind", with_ordinality="n").render_derived().alias("a"))
    insert = items.insert().from_select(
        ["digest_id", "article_id", "subscriber_id", "position", "kind"],
        sa.select(sent.c.id, articles.c.article_id, sa.bindparam("m_sid", type_=sa.Integer), articles.c.n - 1,
                  articles.c.kind)
        .select_from(sent.join(articles, sa.true())))  # the sent row (if any) with every article
    return sa.select(sa.func.count()).select_from(sent).add_cte(insert.cte("items"))


_MARK_SENT = _mark_sent_statement()


def mark_retry(session: Session, digest_id: int, owner: str, error: str, *, now: datetime,
               max_attempts: int, backoff_seconds: int = 300) -> str:
    """A temporary failure: deferred with exponential backoff, or failed once attempts run out."""
    begin_write(session)
    row = _owned(session, digest_id, owner)
    if row is None:
        session.rollback()
        return ""
    row.last_error = error[:1000]
    row.lease_owner = row.lease_expires_at = None
    row.updated_at = now
    if row.attempts >= max_attempts:
        row.state = LedgerState.FAILED
    else:
        row.state = LedgerState.DEFERRED
        row.next_attempt_at = now + timedelta(seconds=backoff_seconds * 2 ** (row.attempts - 1))
    session.add(row)
    session.commit()
    metrics.recorded(row.state, "attempts used up" if row.state == LedgerState.FAILED else "retry")
    return row.state


def mark_final(session: Session, digest_id: int, owner: str | None, state: str, reason: str, *,
               now: datetime, backoff_seconds: int | None = None) -> bool:
    """Failed or skipped for good (or unknown, see mark_unknown), with the reason; False when `owner`
    (unless None) no longer holds the row."""
    begin_write(session)
    row = session.get(Digest, digest_id, with_for_update=True)
    if row is None or (owner is not None and (row.state != LedgerState.SENDING or row.lease_owner != owner)):
        session.rollback()
        return False
    row.state = state
    if state == LedgerState.SKIPPED:
        row.skip_reason = reason[:1000]
    else:
        row.last_error = reason[:1000]
    if backoff_seconds is not None:  # an unknown row's resend waits like a deferred row's retry
        row.next_attempt_at = now + timedelta(seconds=backoff_seconds * 2 ** (max(row.attempts, 1) - 1))
    row.lease_owner = row.lease_expires_at = None
    row.updated_at = now
    session.add(row)
    session.commit()
    metrics.recorded(state, reason)
    return True


def release(session: Session, digest_ids: list[int], owner: str, *, now: datetime,
            previous: dict[int, str] | None = None) -> int:
    """Give back rows claimed but not handed to the mailer, as they were before the claim.

    `previous` maps a digest id to the state it was claimed from (Claim.previous_state); without
    it a row goes back to `planned` or `deferred` by its attempts. The claim's attempt (and, for
    an unknown row, its resend) is undone: a release costs a row nothing.
    """
    if not digest_ids:
        return 0
    previous = previous or {}
    begin_write(session)
    rows = session.exec(select(Digest).where(Digest.id.in_(digest_ids), Digest.lease_owner == owner,
                                             Digest.state == LedgerState.SENDING).with_for_update()).all()
    for row in rows:
        state = previous.get(row.id) or (LedgerState.PLANNED if row.attempts <= 1 else LedgerState.DEFERRED)
        if state == LedgerState.UNKNOWN:
            row.unknown_resends = max(row.unknown_resends - 1, 0)
        row.state = state
        row.attempts = max(row.attempts - 1, 0)
        row.lease_owner = row.lease_expires_at = None
        row.updated_at = now
        session.add(row)
    session.commit()
    return len(rows)


def _retry_due(now: datetime, max_attempts: int, resend_unknown: bool):
    """Rows to try again now: deferred, past their backoff and with attempts left, or unknown, past
    their backoff and not yet resent (when resent at all; the one resend does not depend on
    attempts left)."""
    due = sa.or_(Digest.next_attempt_at.is_(None), Digest.next_attempt_at <= now)
    return sa.or_(sa.and_(Digest.state == LedgerState.DEFERRED, Digest.attempts < max_attempts, due),
                  *([sa.and_(Digest.state == LedgerState.UNKNOWN, Digest.unknown_resends < 1, due)]
                    if resend_unknown else []))


def new_rows(session: Session, *, since: datetime) -> tuple[int, int]:
    """(rows planned, rows recorded as missed) since `since`; each missed slot (older than
    DIGEST_GRACE_HOURS when the pass ran) is logged as a warning."""
    rows = session.exec(select(Digest.id, Digest.subscriber_id, Digest.period, Digest.state, Digest.skip_reason)
                        .where(Digest.created_at >= since)).all()
    missed = 0
    for _id, subscriber_id, period, state, reason in rows:
        if state == LedgerState.SKIPPED and (reason or "").startswith("missed:"):
            missed += 1
            log.warning("subscriber %s, period %s skipped: %s", subscriber_id, period, reason)
    return len(rows), missed


def sendable_clause(now: datetime, max_attempts: int, resend_unknown: bool):
    """The rows a claim may take now (a WHERE clause; also the due pass's sweep for jobs)."""
    return sa.and_(sa.or_(sa.and_(Digest.state == LedgerState.PLANNED, Digest.attempts < max_attempts),
                          _retry_due(now, max_attempts, resend_unknown)),
                   Digest.scheduled_for <= now)


def pending_count(session: Session, now: datetime, max_attempts: int, resend_unknown: bool = True) -> int:
    """How many rows a claim could take now (for progress output)."""
    count = session.exec(select(sa.func.count()).select_from(Digest)
                         .where(sendable_clause(now, max_attempts, resend_unknown))).one()
    session.commit()
    return int(count)


def periods_recorded(session: Session, subscriber_ids: list[int]) -> set[tuple[int, str]]:
    rows = session.exec(select(Digest.subscriber_id, Digest.period).where(Digest.subscriber_id.in_(subscriber_ids))
                        ) if subscriber_ids else []
    return {(sid, period) for sid, period in rows}


def expire_leases(session: Session, now: datetime, *, is_dead) -> int:
    """End the leases of senders known to be dead (a killed process on this host) at once.

    Without this a crashed run's rows would wait for their lease to expire before a rerun could
    resend them. Runs before every claim: it reads the few distinct owners of `sending` rows and
    writes (and locks) nothing unless one of them is dead.
    """
    owners = session.execute(sa.select(_DIGEST.c.lease_owner).where(_DIGEST.c.state == LedgerState.SENDING).distinct()).scalars().all()
    session.commit()
    dead = [owner for owner in owners if owner is not None and is_dead(owner)]  # a claim always sets one
    if not dead:
        return 0
    begin_write(session)
    expired = session.connection().execute(
        sa.update(_DIGEST).where(_DIGEST.c.state == LedgerState.SENDING, _DIGEST.c.lease_owner.in_(dead))
        .values(lease_expires_at=now - timedelta(seconds=1))).rowcount
    session.commit()
    return expired


def mark_unknown(session: Session, digest_id: int, owner: str, detail: str, *, now: datetime,
                 backoff_seconds: int = 300) -> bool:
    """The whole message went out but no final reply came: `unknown`, as if its sender had died.

    Not `deferred`: the server may be delivering it, so it is resent once at most (when
    `resend_unknown` is on, as claim() treats every unknown row) or left for an operator. The
    resend waits for `next_attempt_at`, set like a deferred row's backoff, so the same run does
    not claim it again seconds later while the server may still be taking the first copy.
    """
    return mark_final(session, digest_id, owner, LedgerState.UNKNOWN, detail, now=now, backoff_seconds=backoff_seconds)
