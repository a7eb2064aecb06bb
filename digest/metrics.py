"""Prometheus metrics: what a sending process counts, and what the ledger says at scrape time.

Counted where it happens (each process's own numbers):
- digest_digests_total{state, reason}: outcomes the ledger recorded (ledger.mark_sent/mark_retry/
  mark_final), by the state the row was left in and a short reason (never an address or a reply text);
- digest_send_seconds: one message handed to a mailer lane until its result (mailers/base.py);
- digest_render_seconds: one Renderer.render, or one stamped copy of a shared render (pipeline.build_shared);
- digest_mailer_errors_total{code}: results that were not accepted, by SMTP code (or the outcome);
- digest_due_pass_last_timestamp_seconds, digest_due_pass_duration_seconds: the last due pass of
  `digest scheduler`.

Read from the ledger at each scrape (LedgerCollector, the same numbers whichever process serves them):
digest_ledger_digests{state}, digest_ledger_oldest_due_age_seconds, digest_ledger_last_sent_timestamp_seconds.

With PROMETHEUS_MULTIPROC_DIR set (before the processes start), each process writes its numbers
there and the one that serves adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, start_http_server)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from . import ledger
from .models import Digest
from .types import LedgerState

CONTENT_TYPE = CONTENT_TYPE_LATEST

DIGESTS = Counter("digest_digests", "Digests recorded in the ledger, by the state left and a short reason",
                  ["state", "reason"])
SEND_SECONDS = Histogram("digest_send_seconds", "One message handed to a mailer until its result",
                         buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))
RENDER_SECONDS = Histogram("digest_render_seconds", "One digest rendered (Jinja over the compiled templates)",
                           buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
MAILER_ERRORS = Counter("digest_mailer_errors", "Mailer results that were not accepted, by SMTP code or outcome",
                        ["code"])
DUE_PASS_LAST = Gauge("digest_due_pass_last_timestamp_seconds", "When the last due pass of this scheduler ended",
                      multiprocess_mode="max")
DUE_PASS_SECONDS = Gauge("digest_due_pass_duration_seconds", "How long the last due pass took",
                         multiprocess_mode="max")

# A reason label is the text before the first ":" when it is plain words (a skip reason, "build",
# "internal error"); a mail server's reply (digits first, maybe an address in it) is "mail server reply".
_PLAIN = re.compile(r"[a-z][a-z ,'-]{0,59}")


def reason_label(state: str, reason: str | None) -> str:
    if state == LedgerState.SENT:
        return "accepted"
    head = (reason or "").split(":", 1)[0].strip().lower()
    if not head:
        return "none"
    if head[0].isdigit():
        return "mail server reply"
    return head if _PLAIN.fullmatch(head) else "other"


def recorded(state: str, reason: str | None = None) -> None:
    """The ledger recorded an outcome: count it."""
    DIGESTS.labels(str(state), reason_label(state, reason)).inc()


def sent(result, seconds: float) -> None:
    """One mailer result, `seconds` after the message was handed to its lane."""
    SEND_SECONDS.observe(seconds)
    if not result.accepted:
        MAILER_ERRORS.labels(str(result.code) if result.code else str(result.status)).inc()


def due_pass_done(started: float, duration: float) -> None:
    DUE_PASS_LAST.set(started + duration)
    DUE_PASS_SECONDS.set(duration)


class LedgerCollector:
    """Gauges read from the ledger when scraped: rows by state, the age of the oldest due digest and
    the last accepted send. A database that cannot be read yields digest_ledger_up 0 and nothing else."""

    def __init__(self, engine: sa.Engine, settings, clock=None):
        self.engine, self.settings = engine, settings
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def collect(self):
        up = GaugeMetricFamily("digest_ledger_up", "1 when the ledger could be read for this scrape")
        try:
            rows, oldest, last_sent, now = self._read()
        except sa.exc.SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_state = GaugeMetricFamily("digest_ledger_digests", "Ledger rows by state", labels=["state"])
        for state in LedgerState:
            by_state.add_metric([state.value], rows.get(state.value, 0))
        yield by_state
        age = (now - _utc(oldest)).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("digest_ledger_oldest_due_age_seconds",
                                "Seconds since the oldest digest still due was scheduled (0: none due)", value=max(age, 0.0))
        yield GaugeMetricFamily("digest_ledger_last_sent_timestamp_seconds",
                                "When the last accepted digest was recorded (0: never)",
                                value=_utc(last_sent).timestamp() if last_sent is not None else 0.0)

    def _read(self):
        now, settings = self.clock(), self.settings
        due = ledger.sendable_clause(now, settings.max_attempts, settings.resend_unknown)
        with self.engine.connect() as conn:
            rows = {str(state): count for state, count in
                    conn.execute(sa.select(Digest.state, sa.func.count()).group_by(Digest.state))}
            oldest = conn.execute(sa.select(sa.func.min(Digest.scheduled_for)).where(due)).scalar()
            last_sent = conn.execute(sa.select(sa.func.max(Digest.sent_at))).scalar()
        return rows, oldest, last_sent, now


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class _ProcessCollector:
    """This process's own metrics (the default registry), for a registry of our own."""

    def collect(self):
        return REGISTRY.collect()


def registry(engine: sa.Engine | None = None, settings=None) -> CollectorRegistry:
    """A registry with this process's metrics (or, in multiprocess mode, every process's) and, given
    an engine, the ledger's gauges."""
    reg = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(reg)
    else:
        reg.register(_ProcessCollector())
    if engine is not None:
        reg.register(LedgerCollector(engine, settings))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)


def serve(port: int, engine: sa.Engine | None = None, settings=None, *, addr: str = "127.0.0.1"):
    """Serve /metrics on addr:port in a daemon thread; returns (server, thread)."""
    return start_http_server(port, addr=addr, registry=registry(engine, settings))
