"""The orchestrator: plan due digests, select, render, build, send, and record each in the ledger.

Only this module touches the session, the mailer and the ledger together; the stages it calls
(selection, rendering, message building) are pure functions over plain data.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Engine
from sqlmodel import Session, select

from . import editorial, ledger, metrics, queries
from .config import Settings, company_link, secret_keys
from .db import ANALYZE_AFTER_ROWS, analyze, sending_session
from .envelope import Envelope
from .errors import ConfigError, InputError, NotFound
from .feedback import feedback_links, feedback_targets
from .message import DkimKey, build_message, split_address
from .models import Digest, Subscriber
from .outcomes import RunCounts, owner_id, record, recover_dead_owners, release  # noqa: F401 (RunCounts, owner_id: re-exported)
from .render import HTML_TEMPLATE, TEXT_TEMPLATE, Renderer, issue_items
from .schedule import Slot, latest_slot
from .selection import Selection, SelectionOptions, prepare
from .spool import Spool, spool_folder
from .stamp import Group, Groups, Sentinels, group_key, masked_links
from .tokens import Signer
from .types import ArticleData, Issue, LedgerState, Links, Outgoing, Reader, Rendered

log = logging.getLogger("digest.pipeline")


@dataclass(frozen=True)
class Built:
    """One digest fully prepared: what selection chose, what rendering made, the message bytes."""

    issue: Issue
    selection: Selection
    rendered: Rendered | None
    message: bytes | None


class Pipeline:
    """One configured pipeline: settings, engine, renderer, signer; mailer given per run."""

    def __init__(self, engine: Engine, settings: Settings, *, renderer: Renderer | None = None):
        self.engine = engine
        self.settings = settings
        self.renderer = renderer or Renderer(settings.templates_dir, company_url=company_link(settings),
                                             postal_address=settings.postal_address, base_url=settings.base_url,
                                             lang=settings.default_language)
        self.signer = Signer(secret_keys(settings))
        self.options = SelectionOptions.from_settings(settings)
        self.dkim = DkimKey.from_settings(settings)
        # Derived once from DIGEST_FROM, used for every message.
        self.envelope_sender = split_address(settings.from_address)[1]  # staff copies; digests: self.envelope
        self.envelope = Envelope.from_settings(settings, self.signer)
        self.message_domain = self.envelope_sender.rpartition("@")[2] or "localhost"
        self._articles: tuple[datetime, datetime, object] | None = None
        # Readers who would get the same digest share one selection and one render (stamp.py);
        # False selects and renders for every reader (benchmarks, tests compare the two).
        self.shared_renders = True
        self.editorial = editorial.EditorialCache()  # the editor's notes, pins and pulls (digest/editorial.py)
        self.groups = Groups()
        # Unsubscribes the web app could not commit in time (the database was busy): see apply_spool.
        self.spool = Spool(spool_folder(settings))

    # -- pieces shared by preview and send -------------------------------------------------

    def slot_for(self, reader: Reader | Subscriber, as_of: datetime) -> Slot:
        return latest_slot(tz_name=reader.timezone, send_day=reader.send_day, send_hour=reader.send_hour,
                           frequency=reader.frequency, as_of=as_of)

    def links(self, reader: Reader, period: str, articles: tuple[ArticleData, ...] = (),
              targets: dict | None = None) -> Links:
        """The reader's signed links; `targets` (article id -> feedback_targets) when already known."""
        base = self.settings.base_url.rstrip("/")
        return Links(
            unsubscribe=f"{base}/unsubscribe/{self.signer.make('unsubscribe', reader.id)}",
            preferences=f"{base}/preferences/{self.signer.make('preferences', reader.id)}",
            web_version=f"{base}/web/{self.signer.make('web', reader.id, extra={'p': period})}",
            base=base,
            # A card offers "More on X" (follow) and "Less of this" (mute), each only where it
            # would change something (subscribers/feedback.py).
            feedback={a.id: feedback_links(self.signer, base, reader, a, None if targets is None else targets[a.id])
                      for a in articles},
        )

    def _selector(self, session: Session, start: datetime, end: datetime):
        """Candidates for windows inside [start, end), loaded and indexed once, widened on demand."""
        if self._articles is None or start < self._articles[0] or end > self._articles[1]:
            if self._articles is not None:
                start, end = min(start, self._articles[0]), max(end, self._articles[1])
            articles = queries.load_articles(session, start, end)
            self.groups.clear()  # a group's selection was made from the articles loaded before
            self._articles = (start, end, prepare(articles, self.options))
        return self._articles[2]

    def _select(self, session: Session, reader: Reader, slot: Slot, history,
                made_before: datetime | None = None) -> tuple[Selection, Issue]:
        received_ids, received_urls, watermark = history
        end = slot.scheduled_for
        controls = self.editorial.at(session, end, made_before)  # pulls leave the candidates, pins lead, notes head
        selector = controls.selector(self._selector(session, end - timedelta(days=self.options.lookback_days), end))
        selection = controls.apply(reader, received_ids, selector.select(
            reader, end=end, watermark=watermark, received_ids=received_ids, received_urls=received_urls))
        overflow = selection.overflow if selection.choices else ()
        issue = Issue(reader=reader, period=slot.period, window_start=selection.window_start,
                      window_end=selection.window_end, choices=selection.choices, more_count=len(overflow),
                      overflow=overflow, note=controls.note_for(reader))
        return selection, issue

    def _message(self, rendered: Rendered, reader: Reader, slot: Slot, links: Links, message_id: str | None,
                 now: datetime | None) -> bytes:
        return build_message(
            rendered, sender=self.settings.from_address, recipient=reader.email, recipient_name=reader.name,
            message_id=message_id or f"<preview.{reader.id}.{slot.period}@{self.message_domain}>",
            date=now or slot.scheduled_for, unsubscribe_url=links.unsubscribe,
            unsubscribe_mailto=self.envelope.mailto(reader.id),
            list_id=self.settings.list_id, dkim=self.dkim,
        )

    def build(self, session: Session, reader: Reader, slot: Slot, history, *, message_id: str | None = None,
              now: datetime | None = None, made_before: datetime | None = None) -> Built:
        """This reader's digest, selected and rendered for them alone (with the editor's controls made
        before `made_before`, when given: a sent issue's web version)."""
        selection, issue = self._select(session, reader, slot, history, made_before)
        if not selection.choices and not self.settings.quiet_week_note:
            return Built(issue, selection, None, None)
        links = self.links(reader, slot.period, tuple(c.article for c in selection.choices))
        rendered = self.renderer.render(issue, links)
        return Built(issue, selection, rendered, self._message(rendered, reader, slot, links, message_id, now))

    def build_shared(self, session: Session, reader: Reader, slot: Slot, history, *, message_id: str | None = None,
                     now: datetime | None = None) -> Built:
        """The same digest as build(), byte for byte, from its group's one selection and one render
        with this reader's own parts stamped in (digest/stamp.py); a reader whose parts cannot be
        stamped exactly is built on their own."""
        if not self.shared_renders:
            return self.build(session, reader, slot, history, message_id=message_id, now=now)
        self.editorial.at(session, slot.scheduled_for)  # current controls: their version is part of the key
        key = group_key(reader, slot, history, template_key=self.renderer.template_key,
                        editorial=self.editorial.version)
        group = self.groups.get(key)
        created = group is None
        if created:
            group = self.groups.put(key, self._group(session, reader, slot, history))
        issue = dataclasses.replace(group.issue, reader=reader)
        if group.rendered is None:
            return Built(issue, group.selection, None, None)
        links = self.links(reader, slot.period, tuple(c.article for c in issue.choices), group.targets)
        started = time.perf_counter()
        rendered = group.stamp(reader, links) if group.shared else None
        if rendered is None:
            rendered = self.renderer.render(issue, links)
        elif not created:  # a stamped copy is this reader's render (the group's first was counted as one)
            metrics.RENDER_SECONDS.observe(time.perf_counter() - started)
        return Built(issue, group.selection, rendered, self._message(rendered, reader, slot, links, message_id, now))

    def _group(self, session: Session, reader: Reader, slot: Slot, history) -> Group:
        """A new group from its first reader: the selection, and the render of a stand-in."""
        selection, issue = self._select(session, reader, slot, history)
        group = Group(selection, issue, None, Sentinels(), max_html_bytes=self.renderer.max_html_bytes)
        if not selection.choices and not self.settings.quiet_week_note:
            return group
        # The feedback links' targets follow from the follows and mutes, which the group shares.
        group.targets = {c.article.id: feedback_targets(reader, c.article) for c in selection.choices}
        links = self.links(reader, slot.period, tuple(c.article for c in selection.choices), group.targets)
        masked = masked_links(links, group.sentinel)
        if masked is None:  # a token a URL would quote: every reader of this group is rendered alone
            group.rendered = self.renderer.render(issue, links)
            return group
        group.rendered = self.renderer.render(dataclasses.replace(issue, reader=group.stand_in(reader)), masked[0])
        if not group.rendered.warnings:  # the size guard cut nothing: the render can be shared
            group.links = masked[0]
        return group

    # -- preview ---------------------------------------------------------------------------

    def preview(self, email: str, as_of: datetime) -> Built:
        """Exactly what this subscriber would receive at `as_of`; nothing is sent or recorded."""
        with Session(self.engine) as session:
            subscriber = queries.subscriber_by_email(session, email)
            if subscriber is None:
                raise NotFound(f"no subscriber with the address {email!r}")
            reader = queries.load_readers(session, [subscriber])[subscriber.id]
            slot = self.slot_for(reader, as_of)
            history = queries.load_history(session, [subscriber.id], before=slot.scheduled_for)[subscriber.id]
            return self.build(session, reader, slot, history)

    def web_version(self, subscriber_id: int, period: str) -> str | None:
        """The web page of the issue sent for `period`, rebuilt as of its slot, the ledger's overflow under
        id="more" and stories pulled since marked. None: never sent, or nothing left to show."""
        with Session(self.engine) as session:
            row = queries.sent_digest(session, subscriber_id, period)
            subscriber = session.get(Subscriber, subscriber_id) if row is not None else None
            if subscriber is None:
                return None
            reader = queries.load_readers(session, [subscriber])[subscriber.id]
            history = queries.load_history(session, [subscriber.id], before=row.scheduled_for)[subscriber.id]
            built = self.build(session, reader, Slot(row.period, row.scheduled_for), history, made_before=row.sent_at)
            overflow = queries.overflow_ids(session, row.id)
        if built.rendered is None:
            return None
        links = self.links(reader, row.period, tuple(c.article for c in built.issue.choices))
        return self.renderer.render_web(self.editorial.mark_pulled(built.issue), links, only=overflow or None)

    # -- the due pass ----------------------------------------------------------------------

    def plan_due(self, session: Session, as_of: datetime, *, since: datetime | None = None) -> int:
        """Insert a ledger row for every subscriber whose latest slot has come; returns rows added.

        A slot missed by more than the grace period (the machine was down) is recorded as skipped,
        so that the next run neither sends it late nor plans it again. Slots before `since` (when
        given: the start of a simulated or first run) are not planned at all.
        """
        grace = timedelta(hours=self.settings.grace_hours)
        due, missed, added = [], [], 0
        for subscriber_id, tz_name, send_day, send_hour, frequency in queries.sendable_schedules(session, as_of.date()):
            try:
                slot = latest_slot(tz_name=tz_name, send_day=send_day, send_hour=send_hour, frequency=frequency,
                                   as_of=as_of)
            except InputError as exc:  # a zone written to the database by hand, or retired by the tz database
                log.warning("subscriber #%d is not planned: %s; fix it with `digest subscribers set`",
                            subscriber_id, exc)
                continue
            if since is not None and slot.scheduled_for < since:
                continue
            row = {"subscriber_id": subscriber_id, "period": slot.period, "scheduled_for": slot.scheduled_for}
            if as_of - slot.scheduled_for > grace:
                row.update(state=LedgerState.SKIPPED, skip_reason=f"missed: scheduled for {slot.scheduled_for:%Y-%m-%d %H:%M} "
                                                             f"UTC, more than {self.settings.grace_hours} h before this run")
                missed.append(row)
            else:
                due.append(row)
            if len(due) >= 2000:  # planned in chunks, so memory stays flat however many subscribers
                added += ledger.plan(session, due)
                due = []
        newly_missed = ledger.plan(session, missed)
        if newly_missed:
            log.warning("%d scheduled digest(s) were missed by more than %d h (was the machine down?); "
                        "recorded as skipped", newly_missed, self.settings.grace_hours)
        added += ledger.plan(session, due) + newly_missed
        if added >= ANALYZE_AFTER_ROWS:
            analyze(session.connection(), Digest.__tablename__)
            session.commit()
        return added

    def warm(self) -> None:
        """Compile the templates once before threads share the renderer (its lazy first compile is not
        thread-safe: a second thread can see it half done)."""
        refresh = getattr(self.renderer, "refresh", None)
        if refresh is not None:
            refresh()

    def preflight(self, mailer=None) -> None:
        """Check what would stop every digest, before anything is planned or claimed.

        The templates are loaded and compiled, and the mailer's own check() (when it has one:
        the SMTP mailer connects, says EHLO, starts TLS and logs in as configured) runs. A failure
        is a ConfigError, so a broken install or setting stops the run with the ledger untouched
        instead of failing every digest one by one.
        """
        refresh = getattr(self.renderer, "refresh", None)
        if refresh is not None:
            try:
                refresh()
            except Exception as exc:
                folder = getattr(self.renderer, "templates_dir", self.settings.templates_dir)
                raise ConfigError(
                    f"the templates in {folder} cannot be loaded ({type(exc).__name__}: {exc}); "
                    f"point DIGEST_TEMPLATES_DIR at the folder holding {HTML_TEMPLATE} and {TEXT_TEMPLATE}") from None
        check = getattr(mailer, "check", None)
        if callable(check):
            try:
                check()
            except ConfigError:
                raise
            except Exception as exc:  # a setting the mailer could not use (a negative timeout, say)
                raise ConfigError(f"the {type(mailer).__name__} could not be set up ({type(exc).__name__}: {exc}); "
                                  "check its DIGEST_* settings") from None

    def send_due(self, mailer, as_of: datetime, *, dry_run: bool = False, batch_size: int = 50,
                 progress: Callable[[int, int], None] | None = None, stop: Callable[[], bool] | None = None,
                 since: datetime | None = None, counts: RunCounts | None = None,
                 drain: Callable[[int, RunCounts, Callable[[], None] | None], RunCounts] | None = None) -> RunCounts:
        """Check (preflight), plan, then claim and send in batches until nothing due is left (or
        `stop()` says so). `counts`, when given, is filled in place (still right when an exception
        ends the pass). `drain(pending, counts, on_progress)`, when given, sends instead of
        self.drain (the command line's sending processes)."""
        counts = RunCounts() if counts is None else counts
        if not dry_run:
            self.preflight(mailer)
        with sending_session(self.engine) as session:
            if dry_run:
                return self._dry_run(session, as_of)
            if stop and stop():  # stopped during the checks: not even planned
                return counts
            self.plan_due(session, as_of, since=since)
            total = ledger.pending_count(session, as_of, self.settings.max_attempts, self.settings.resend_unknown)

        def report():
            progress(counts.sent + counts.skipped + counts.failed + counts.deferred, max(total, counts.due))
        if drain is not None:
            return drain(total, counts, report if progress else None)
        return self.drain(mailer, as_of, batch_size=batch_size, stop=stop, counts=counts,
                          on_progress=report if progress else None)

    def drain(self, mailer, as_of: datetime, *, batch_size: int = 50, stop: Callable[[], bool] | None = None,
              counts: RunCounts | None = None, on_progress: Callable[[], None] | None = None) -> RunCounts:
        """The one due-pass loop (send --due, each inline lane): claim a batch of what is due, build,
        send and record it, and again, until nothing is left, stop() says so or every connection of
        the mailer stopped. One lease owner and one session for the whole loop."""
        counts = RunCounts() if counts is None else counts
        owner = owner_id()
        with sending_session(self.engine) as session:
            while not (stop and stop()):
                claims = self.claim(session, owner, as_of, limit=batch_size)
                if not claims:
                    break
                self.process(session, mailer, claims, owner, as_of, counts, stop=stop, on_progress=on_progress)
                if getattr(mailer, "halted", False):
                    # Claiming again would only release the same rows again: stop, and let the
                    # next run (cron, the scheduler) find the server answering.
                    counts.halted = True
                    log.warning("every connection to the mail server stopped answering; the digests not "
                                "yet sent were released for the next run")
                    break
        return counts

    def claim(self, session: Session, owner: str, now: datetime, *, limit: int,
              digest_ids: list[int] | None = None) -> list[ledger.Claim]:
        """Claim sendable rows for `owner` (all due ones, or just `digest_ids`), after freeing the
        rows of senders on this host that died mid-send."""
        settings = self.settings
        self.apply_spool(session)
        recover_dead_owners(session, now)
        return ledger.claim(session, owner=owner, now=now, limit=limit, lease_seconds=settings.lease_seconds,
                            max_attempts=settings.max_attempts, resend_unknown=settings.resend_unknown,
                            message_domain=self.message_domain, digest_ids=digest_ids)

    def apply_spool(self, session: Session) -> int:
        """Apply the unsubscribes the web app spooled while the database was busy; runs before
        every claim (every executor claims through claim()), so a spooled reader is never sent the
        next digest. Returns how many were applied."""
        return self.spool.apply(session)

    def process(self, session: Session, mailer, claims: list[ledger.Claim], owner: str, now: datetime,
                counts: RunCounts, *, stop: Callable[[], bool] | None = None,
                on_progress: Callable[[], None] | None = None) -> RunCounts:
        """Build, send and record claimed rows; each outcome is recorded as soon as it is known.

        Each digest is built only when the mailer asks for the next message, so with several
        connections the building of one overlaps the sending of others, and an unsubscribe or a
        stop request that arrives mid-run still holds back everything not yet handed over.

        However this ends (stop(), the mailer returning early or raising, a signal's exception, a
        lost database), every claim not handed to the mailer is released untouched; so is a
        message the mailer held when it raised a ConfigError (it never reached a server). Only a
        message handed over without a recorded outcome stays `sending`, to become `unknown`.
        """
        counts.due += len(claims)
        readers: dict = {}
        history: dict = {}
        in_flight: dict[str, tuple] = {}
        # Claimed and neither handed to the mailer nor recorded: what a stop gives back.
        untouched = {c.digest_id: c for c in claims}

        def load() -> None:
            subscribers = list(session.exec(
                select(Subscriber).where(Subscriber.id.in_([c.subscriber_id for c in claims]))))
            readers.update(queries.load_readers(session, subscribers))
            history.update(queries.load_history(session, list(readers)))
            session.commit()
            # Readers are plain data now; ORM objects left in the session would be expired again by
            # every per-message commit below (a third of the recording cost with 50 of them).
            session.expunge_all()

        def messages():
            for claim in claims:
                if stop and stop():
                    return
                reader = readers.get(claim.subscriber_id)
                if reader is None or not queries.still_sendable(session, claim.subscriber_id):
                    ledger.mark_final(session, claim.digest_id, owner, LedgerState.SKIPPED,
                                      "unsubscribed, suppressed or deleted during the run", now=now)
                    counts.skipped += 1
                    del untouched[claim.digest_id]
                    continue
                item = self._build_claim(session, claim, reader, history[reader.id], owner, now, counts)
                del untouched[claim.digest_id]
                if item is not None:
                    in_flight[item[0].key] = (claim, item[1])
                    yield item[0]

        def on_result(out: Outgoing, result) -> None:
            claim, article_ids = in_flight.pop(out.key)
            record(session, claim, out, article_ids, result, owner, now, counts,
                   max_attempts=self.settings.max_attempts)
            if on_progress:
                on_progress()

        outgoing = messages()
        ended = True
        try:
            load()
            mailer.send_messages(outgoing, on_result=on_result)
        except ConfigError:
            # Raised while connecting or logging in (or by a provider refusing the credentials):
            # the messages the mailer held then never reached a server.
            untouched.update((claim.digest_id, claim) for claim, _ in in_flight.values())
            in_flight.clear()
            ended = False
            raise
        except BaseException:
            ended = False
            raise
        finally:
            outgoing.close()  # a mailer that stopped pulling early leaves the generator suspended
            release(session, list(untouched.values()), owner, now, counts, raise_errors=ended)
        return counts

    def _build_claim(self, session, claim, reader, history, owner, now, counts) -> tuple[Outgoing, tuple] | None:
        """The message for one claimed row, or None when it was recorded as skipped or failed."""
        try:
            built = self.build_shared(session, reader, Slot(claim.period, claim.scheduled_for), history,
                                      message_id=claim.message_id, now=now)
        except Exception as exc:  # one broken digest must not stop the others
            log.exception("digest %s: could not be built", claim.digest_id)
            ledger.mark_final(session, claim.digest_id, owner, LedgerState.FAILED, f"build: {exc}", now=now)
            counts.failed += 1
            return None
        if built.message is None:
            ledger.mark_final(session, claim.digest_id, owner, LedgerState.SKIPPED,
                              built.selection.skip_reason or "nothing to send", now=now)
            counts.skipped += 1
            return None
        out = self.envelope.outgoing(claim.digest_id, claim.message_id, reader.email, built.message, smtputf8=reader.smtputf8)
        return out, issue_items(built.issue, built.rendered)

    def _dry_run(self, session: Session, as_of: datetime) -> RunCounts:
        """What a send would do now, computed without writing anything."""
        counts = RunCounts()
        subscribers = queries.sendable_subscribers(session, as_of.date())
        readers = queries.load_readers(session, subscribers)
        history = queries.load_history(session, list(readers))
        done = ledger.periods_recorded(session, list(readers))
        grace = timedelta(hours=self.settings.grace_hours)
        for reader in readers.values():
            slot = self.slot_for(reader, as_of)
            if (reader.id, slot.period) in done:
                continue
            counts.due += 1
            if as_of - slot.scheduled_for > grace:
                counts.skipped += 1
                continue
            built = self.build(session, reader, slot, history[reader.id])
            if built.message is None:
                counts.skipped += 1
            else:
                counts.sent += 1  # would be sent
        return counts

