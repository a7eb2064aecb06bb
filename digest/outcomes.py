"""What a due pass records: the run's counts, lease owners, and each claim's outcome in the ledger.

Pipeline.process hands every result here (record) and gives back what it never handed over
(release); the rules for which ledger state a mailer's answer leads to live in this module.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlmodel import Session

from . import ledger
from .suppression import suppress
from .types import LedgerState, Outcome, Outgoing

log = logging.getLogger("digest.pipeline")


@dataclass
class RunCounts:
    """What one due pass did; printed as the `send --json` object."""

    due: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    deferred: int = 0
    # Every connection stopped (the stall breaker): the rest was released for the next run.
    halted: bool = False

    def add(self, other: "RunCounts") -> None:
        """Add another lane's counts to these."""
        for name in ("due", "sent", "skipped", "failed", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.halted = self.halted or other.halted

    def as_json(self) -> dict:
        data = asdict(self)
        if not data.pop("halted"):
            return data
        return {**data, "halted": True}


def owner_id() -> str:
    """Who holds a lease: host and pid (so a dead local sender is recognised) plus a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str | None) -> bool:
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:  # a killed sending process that nobody reaped yet (its parent was killed too) is a zombie
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def recover_dead_owners(session: Session, now: datetime) -> None:
    """End at once the leases of senders on this host that died mid-send."""
    ledger.expire_leases(session, now, is_dead=lambda owner: not owner_alive(owner))


def release(session: Session, claims: list[ledger.Claim], owner: str, now: datetime,
            counts: RunCounts, *, raise_errors: bool) -> None:
    """Give back claims that were never handed over, as they were (attempts unchanged)."""
    if not claims:
        return
    counts.due -= len(claims)
    try:
        if session.in_transaction():
            # An exception may have cut a statement short; every outcome so far is committed.
            session.rollback()
        ledger.release(session, [c.digest_id for c in claims], owner, now=now,
                       previous={c.digest_id: c.previous_state for c in claims})
    except Exception:
        if raise_errors:
            raise
        # The database is gone too: the rows stay `sending` and, once the lease is found
        # dead, become `unknown` and are sent once (the server never saw them).
        log.exception("could not release %d claimed digest(s); they will be sent by a later run",
                      len(claims))


def record(session: Session, claim: ledger.Claim, out: Outgoing, article_ids, result, owner: str,
           now: datetime, counts: RunCounts, *, max_attempts: int) -> None:
    """Record the mailer's answer for one claim: sent, unknown, deferred, or failed (and suppressed)."""
    if result.status == Outcome.UNKNOWN:  # the server may have it: no retry with backoff (docs/delivery.md)
        log.warning("digest %s to subscriber %s: unknown: %s", claim.digest_id, claim.subscriber_id, result.detail)
        ledger.mark_unknown(session, claim.digest_id, owner, result.detail, now=now)
        counts.deferred += 1
        return
    if result.accepted:
        shown, overflow = article_ids
        ledger.mark_sent(session, claim.digest_id, owner, shown, now=now, subscriber_id=claim.subscriber_id,
                         overflow_ids=overflow)
        counts.sent += 1
        return
    detail = result.detail or f"{result.code or ''} {result.enhanced or ''}".strip() or result.status
    log.warning("digest %s to subscriber %s: %s: %s", claim.digest_id, claim.subscriber_id, result.status, detail)
    if result.status == Outcome.DEFERRED:
        state = ledger.mark_retry(session, claim.digest_id, owner, detail, now=now, max_attempts=max_attempts)
        if state == LedgerState.FAILED:
            counts.failed += 1
        else:
            counts.deferred += 1
        return
    ledger.mark_final(session, claim.digest_id, owner, LedgerState.FAILED, detail, now=now)
    counts.failed += 1
    if result.status == Outcome.REJECTED:  # SMTP 5.1.x about the recipient, a provider's "inactive"
        suppress(session, out.recipient, "bounced", detail, source="smtp",
                 status_code=result.enhanced or result.code)
        session.commit()
