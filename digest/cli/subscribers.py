"""`digest subscribers ...`: manage subscribers from the command line (add, import, export, ...)."""

from __future__ import annotations

import sys

import click
from sqlmodel import Session

from digest.cli.common import EXIT_OK, EXIT_PARTIAL, emit, handle_errors, json_option
from digest.bounces import events_of, unsuppress
from digest.db import lock_name
from digest.errors import ConfigError
from digest.models import Subscriber, utcnow
from digest.notices import Notices
from subscribers.csvio import ImportReport, export_csv, import_csv
from subscribers.follows import follow, unfollow
from subscribers.records import (
    RESUBSCRIBED,
    UNCHANGED,
    add_subscriber,
    confirmation_link,
    get_subscriber,
    list_subscribers,
    subscriber_dicts,
    unsubscribe,
    update_subscriber,
)
from subscribers.signup import claim_mail, mail_done
from digest.suppression import REASONS, suppression_of
from digest.tokens import signer_from_settings

def _session(ctx: click.Context) -> Session:
    obj = ctx.obj
    if obj is None or not hasattr(obj, "engine"):
        raise ConfigError("digest subscribers needs the application context (run it as `digest subscribers ...`)")
    return Session(obj.engine())


def _settings(ctx: click.Context):
    return ctx.obj.settings


def _describe(row: dict) -> str:
    follows = ", ".join(row["companies"] + row["segments"]) or "nothing"
    return f"#{row['id']} {row['email']} ({row['status']}) follows {follows}"


def _show_text(row: dict) -> str:
    lines = [f"#{row['id']} {row['email']}"]
    for key in ("name", "status", "timezone", "send_day", "send_hour", "frequency", "max_articles",
                "min_significance", "reading_budget", "paused_until", "language", "smtputf8", "confirmed_at", "created_at"):
        lines.append(f"  {key}: {'' if row[key] is None else row[key]}")
    lines.append(f"  companies: {'; '.join(row['companies'])}")
    lines.append(f"  segments: {'; '.join(row['segments'])}")
    if row["suppressed"]:
        held = row["suppressed"]
        lines.append(f"  suppressed: {held['reason']} since {held['since']} (source: {held['source'] or 'unrecorded'})")
        evidence = " ".join(str(v) for v in (held["status_code"], held["detail"]) if v)
        if evidence:
            lines.append(f"  evidence: {evidence}")
    for event in row.get("events", ()):
        lines.append(f"  event: {event['at']} {event['kind']} ({event['source']}) "
                     f"{' '.join(str(v) for v in (event['status_code'], event['detail']) if v)}".rstrip())
    return "\n".join(lines)


def preference_options(command):
    """The preference options shared by add and set; an empty value ("") means the default."""
    for option in reversed([
        click.option("--name", default=None, help="Display name (any script, one line)."),
        click.option("--timezone", default=None, help="IANA time zone, e.g. Asia/Seoul."),
        click.option("--send-day", default=None, help="mon..sun."),
        click.option("--send-hour", default=None, help="Local hour 0..23."),
        click.option("--frequency", default=None, type=click.Choice(["weekly", "daily"], case_sensitive=False)),
        click.option("--max-articles", default=None, help="1..20 (default 8)."),
        click.option("--min-significance", default=None, help="Lowest AMW significance to include, 1..3."),
        click.option("--reading-budget", default=None, help="Minutes per digest; '' for none."),
        click.option("--paused-until", default=None, help="YYYY-MM-DD; no digest before that date; '' to resume."),
        click.option("--language", default=None,
                     help="BCP 47 language of the digest, e.g. en, ko, ja; '' for DIGEST_DEFAULT_LANGUAGE."),
    ]):
        command = option(command)
    return command


# What `confirmation` says in add's and import's --json: "sent", "failed: <reason>" or "not sent[: <reason>]".
SENT, NOT_SENT = "sent", "not sent"
_CAPPED = f"{NOT_SENT}: the address already got its DIGEST_SIGNUP_MAILS_PER_DAY confirmation email(s) today"


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _send_claimed(settings, claims: list[tuple[Subscriber, int]], now) -> dict[int, tuple[bool, str | None, str]]:
    """Build and send the claimed confirmations through the configured mailer (one opening for all);
    claim id -> (sent, message id, detail). A template, configuration or mailer fault fails the
    notices it touches and is never raised."""
    results: dict[int, tuple[bool, str | None, str]] = {}
    try:
        notices = Notices(settings, signer_from_settings(settings))
        built = {}
        for subscriber, claim_id in claims:
            try:
                built[claim_id] = notices.build("confirm", subscriber, claim_id, now=now)
            except Exception as exc:  # a template fault: this notice failed, the subscriber stays pending
                results[claim_id] = (False, None, _failure(exc))
        handed = list(built.items())
        for (claim_id, one), result in zip(handed, notices.send_all([b.outgoing for _, b in handed])):
            results[claim_id] = (result.accepted, one.outgoing.message_id,
                                 result.detail or ("" if result.accepted else str(result.status)))
    except Exception as exc:  # the mailer could not open (server down, outbox unwritable, bad key)
        for _, claim_id in claims:
            results.setdefault(claim_id, (False, None, _failure(exc)))
    return results


def send_confirmations(session: Session, settings, pending: list[Subscriber]) -> dict[int, str]:
    """Mail the web signup's confirmation notice (digest/notices.py, in each reader's language) to
    these pending subscribers, which the caller has committed: claimed in signup_mail within
    DIGEST_SIGNUP_MAILS_PER_DAY as the web's are, sent, and recorded. Returns subscriber id ->
    "sent", "failed: <reason>" or "not sent: <reason>"; a failure leaves the subscriber pending."""
    now, status, claims = utcnow(), {}, []
    for subscriber in pending:
        lock_name(session, f"signup:{subscriber.email_key}")  # as the web's signup does
        claim = claim_mail(session, subscriber, "confirm", per_day=settings.signup_mails_per_day, now=now)
        if claim is None:
            status[subscriber.id] = _CAPPED
        else:
            claims.append((subscriber, claim.id))
    session.commit()
    if not claims:
        return status
    results = _send_claimed(settings, claims, now)
    for subscriber, claim_id in claims:
        sent, message_id, detail = results.get(claim_id, (False, None, "the mailer stopped before this message"))
        mail_done(session, claim_id, sent=sent, message_id=message_id, detail=(detail or "")[:500])
        status[subscriber.id] = SENT if sent else f"failed: {detail or 'not accepted'}"
    session.commit()
    return status


def _confirmation_text(email: str, outcome: str, link: str) -> str:
    if outcome == SENT:
        return f"confirmation email sent to {email}"
    fallback = f"confirmation link (send it to the subscriber): {link}"
    if outcome == NOT_SENT:
        return fallback
    return f"confirmation email to {email} {outcome}; the subscriber stays pending\n{fallback}"


_PREFS = ("timezone", "send_day", "send_hour", "frequency", "max_articles", "min_significance", "reading_budget",
          "paused_until", "language")


@click.group("subscribers")
def subscribers_group():
    """Manage subscribers: who receives the digest, what they follow, and how."""


@subscribers_group.command("add")
@click.argument("email")
@preference_options
@click.option("--company", "companies", multiple=True, help="Follow a company (name or alias); repeatable.")
@click.option("--segment", "segments", multiple=True, help="Follow a segment by full name; repeatable.")
@click.option("--double-opt-in/--no-double-opt-in", default=None,
              help="Make the subscriber pending until they confirm (default: DIGEST_DOUBLE_OPT_IN).")
@click.option("--confirmation-mail/--no-confirmation-mail", "mail", default=True,
              help="With double opt-in, mail the confirmation (the web signup's, in the subscriber's language) "
                   "through DIGEST_MAILER (default); --no-confirmation-mail only prints the link.")
@click.option("--resubscribe", is_flag=True, help="Subscribe again an address that unsubscribed, bounced or complained.")
@json_option
@click.pass_context
@handle_errors
def add_command(ctx, email, name, companies, segments, double_opt_in, mail, resubscribe, as_json, **prefs):
    """Add one subscriber. A pending one (double opt-in) is mailed the confirmation; if the mailer
    fails, the subscriber stays pending, the link is printed and the exit code is 1."""
    settings = _settings(ctx)
    if double_opt_in is None:
        double_opt_in = settings.double_opt_in
    given = {k: v for k, v in prefs.items() if v is not None}
    with _session(ctx) as session:
        was_suppressed = suppression_of(session, email) is not None
        subscriber = add_subscriber(
            session, email=email, name=name, companies=companies or None, segments=segments or None,
            double_opt_in=double_opt_in, resubscribe=resubscribe,
            check_deliverability=settings.email_check_deliverability, **given,
        )
        session.commit()
        row = subscriber_dicts(session, [subscriber])[0]
        payload = {"action": RESUBSCRIBED if resubscribe and was_suppressed else "created", "subscriber": row}
        text = f"added {_describe(row)}"
        if payload["action"] == RESUBSCRIBED:
            text = f"resubscribed (was suppressed) {_describe(row)}"
        if subscriber.status == "pending":
            link = confirmation_link(settings.base_url, signer_from_settings(settings), subscriber)
            outcome = send_confirmations(session, settings, [subscriber])[subscriber.id] if mail else NOT_SENT
            payload["confirm_link"], payload["confirmation"] = link, outcome
            text += "\n" + _confirmation_text(row["email"], outcome, link)
    emit(payload, as_json, text)
    sys.exit(EXIT_PARTIAL if payload.get("confirmation", "").startswith("failed") else EXIT_OK)


@subscribers_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--resubscribe", is_flag=True,
              help="Subscribe again listed addresses that unsubscribed, bounced or complained (says which).")
@click.option("--double-opt-in/--no-double-opt-in", default=None,
              help="New subscribers are pending until they confirm (default: DIGEST_DOUBLE_OPT_IN).")
@click.option("--confirmation-mail/--no-confirmation-mail", "mail", default=True,
              help="Mail each new pending subscriber the confirmation through DIGEST_MAILER (default); "
                   "--no-confirmation-mail leaves the links in the --json output only.")
@click.option("--dry-run", is_flag=True, help="Check and report, store nothing.")
@json_option
@click.pass_context
@handle_errors
def import_command(ctx, files, resubscribe, double_opt_in, mail, dry_run, as_json):
    """Import subscribers from CSV files (header: email,name,companies,segments,timezone,send_day,
    send_hour,frequency,max_articles). Valid lines are stored; bad ones are reported as
    FILE:LINE: column: problem, and the exit code is then 1. Importing again changes nothing.
    New pending subscribers (double opt-in) are mailed the confirmation; one the mailer refused
    stays pending, its link is printed and the exit code is 1."""
    settings = _settings(ctx)
    if double_opt_in is None:
        double_opt_in = settings.double_opt_in
    report, seen = ImportReport(), {}
    with _session(ctx) as session:
        for path in files:
            try:
                import_csv(session, path, resubscribe=resubscribe, double_opt_in=double_opt_in, report=report, seen=seen,
                           check_deliverability=settings.email_check_deliverability)
            except OSError as exc:
                raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        if dry_run:
            session.rollback()
        else:
            session.commit()
        payload = report.to_dict()
        payload["dry_run"] = dry_run
        outcomes: dict[int, str] = {}
        emails: dict[int, str] = {}
        if report.pending and not dry_run:
            signer = signer_from_settings(settings)
            pending = [session.get(Subscriber, i) for i in report.pending]
            payload["confirm_links"] = {str(s.id): confirmation_link(settings.base_url, signer, s) for s in pending}
            outcomes = send_confirmations(session, settings, pending) if mail else {i: NOT_SENT for i in report.pending}
            payload["confirmations"] = {str(i): outcomes[i] for i in report.pending}
            emails = {s.id: s.email for s in pending}
    failed = {i: o for i, o in outcomes.items() if o.startswith("failed")}
    if not as_json:
        for message in report.messages():
            click.echo(message, err=True)
        for entry in report.skipped:
            click.echo(f"{entry['file']}:{entry['line']}: {entry['error']}", err=True)
        summary = (f"{'would store' if dry_run else 'stored'} {report.stored}, updated {report.updated}, "
                   f"unchanged {report.unchanged}, resubscribed {report.resubscribed}, "
                   f"rejected {report.rejected_lines} line(s), skipped {len(report.skipped)} suppressed")
        if report.pending and not dry_run:
            summary += f"; {len(report.pending)} pending confirmation"
            if mail:
                sent = sum(o == SENT for o in outcomes.values())
                summary += f": {sent} confirmation email(s) sent, {len(failed)} failed, " \
                           f"{len(outcomes) - sent - len(failed)} not sent"
            summary += " (links in --json output)"
            for i, outcome in outcomes.items():
                if outcome != SENT and mail:
                    click.echo(f"#{i} " + _confirmation_text(emails[i], outcome, payload["confirm_links"][str(i)]),
                               err=True)
        click.echo(summary)
    else:
        emit(payload, True)
    sys.exit(EXIT_OK if report.ok and not failed else EXIT_PARTIAL)


@subscribers_group.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output).")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced", "complained"]), default=None)
@click.option("--bom", is_flag=True, help="Start with a UTF-8 byte-order mark (Excel then shows every script).")
@json_option
@click.pass_context
@handle_errors
def export_command(ctx, out, status, bom, as_json):
    """Export subscribers as CSV (import's columns plus status and the other preferences).
    Formula-like cells get a leading ' so that the file is safe in a spreadsheet; import strips it."""
    if as_json and not out:
        raise ConfigError("--json needs --out FILE (the CSV and the JSON cannot share standard output)")
    with _session(ctx) as session:
        target = out if out else sys.stdout
        count = export_csv(session, target, status=status, bom=bom)
    if out:
        emit({"exported": count, "out": out}, as_json, f"exported {count} subscriber(s) to {out}")


@subscribers_group.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced", "complained"]), default=None)
@click.option("--company", default=None, help="Only those following this company.")
@click.option("--segment", default=None, help="Only those following this segment.")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@json_option
@click.pass_context
@handle_errors
def list_command(ctx, status, company, segment, limit, offset, as_json):
    """List subscribers."""
    with _session(ctx) as session:
        rows = subscriber_dicts(session, list_subscribers(session, status=status, company=company, segment=segment,
                                                         limit=limit, offset=offset))
    text = "\n".join(_describe(r) for r in rows) if rows else "no subscribers"
    emit({"count": len(rows), "subscribers": rows}, as_json, text)


@subscribers_group.command("show")
@click.argument("subscriber")
@json_option
@click.pass_context
@handle_errors
def show_command(ctx, subscriber, as_json):
    """Show one subscriber (by address or #id), with where a suppression came from and the latest
    delivery events (bounces, complaints, staff unsuppress)."""
    with _session(ctx) as session:
        found = get_subscriber(session, subscriber)
        row = subscriber_dicts(session, [found])[0]
        row["events"] = [{"at": e.received_at.isoformat(), "kind": e.kind, "source": e.source,
                          "status_code": e.status_code, "detail": e.detail} for e in events_of(session, found.email)]
    emit({"subscriber": row}, as_json, _show_text(row))


@subscribers_group.command("unsuppress")
@click.argument("email")
@click.option("--reason", required=True, help="Why the suppression is lifted (kept with the address's events).")
@click.option("--force", is_flag=True, help="Also lift a complaint (the reader marked a digest as spam).")
@json_option
@click.pass_context
@handle_errors
def unsuppress_command(ctx, email, reason, force, as_json):
    """Lift a bounce suppression: the address may receive digests again and its subscriber is active.
    A complaint needs --force; an unsubscribe is the reader's to undo."""
    with _session(ctx) as session:
        address = get_subscriber(session, email).email if email.startswith("#") else email
        row = unsuppress(session, address, reason, force=force)
        was = {"reason": row.reason, "source": row.source, "status_code": row.status_code}
        session.commit()
    emit({"unsuppressed": True, "was": was}, as_json,
         f"{email}: no longer suppressed (was {was['reason']}, source {was['source'] or 'unrecorded'})")


@subscribers_group.command("unsubscribe")
@click.argument("subscriber")
@click.option("--reason", type=click.Choice(REASONS), default="unsubscribed", show_default=True)
@click.option("--detail", default=None, help="A note kept with the suppression (e.g. the bounce).")
@json_option
@click.pass_context
@handle_errors
def unsubscribe_command(ctx, subscriber, reason, detail, as_json):
    """Stop a subscriber and suppress the address (an address with no subscriber is suppressed too)."""
    with _session(ctx) as session:
        changed = unsubscribe(session, subscriber, reason=reason, detail=detail, source="staff")
        session.commit()
    text = f"{subscriber}: {'suppressed (' + reason + ')' if changed else 'already suppressed'}"
    emit({"changed": changed, "reason": reason}, as_json, text)


def _follow_command(name: str, add: bool):
    @subscribers_group.command(name, help=(
        "Follow companies (name or alias) or segments (full name; a top-level segment covers its children)."
        if add else "Stop following companies or segments."))
    @click.argument("subscriber")
    @click.option("--company", "companies", multiple=True, help="Company name or alias; repeatable.")
    @click.option("--segment", "segments", multiple=True, help="Full segment name; repeatable.")
    @json_option
    @click.pass_context
    @handle_errors
    def command(ctx, subscriber, companies, segments, as_json):
        if not companies and not segments:
            raise click.UsageError("give at least one --company or --segment")
        with _session(ctx) as session:
            record = get_subscriber(session, subscriber)
            changed = (follow if add else unfollow)(session, record, companies=companies, segments=segments)
            session.commit()
            row = subscriber_dicts(session, [record])[0]
        verb = "now follows" if add else "no longer follows"
        text = f"#{row['id']} {verb} {', '.join(changed)}" if changed else f"#{row['id']}: nothing changed"
        emit({"changed": changed, "subscriber": row}, as_json, text)

    return command


follow_command = _follow_command("follow", True)
unfollow_command = _follow_command("unfollow", False)


@subscribers_group.command("set")
@click.argument("subscriber")
@preference_options
@click.option("--email", default=None, help="Change the address.")
@click.option("--resubscribe", is_flag=True, help="Subscribe again a subscriber that unsubscribed, bounced or complained.")
@json_option
@click.pass_context
@handle_errors
def set_command(ctx, subscriber, name, email, resubscribe, as_json, **prefs):
    """Change a subscriber's name, address or preferences (only the options given)."""
    given = {k: v for k, v in prefs.items() if v is not None}
    if name is None and email is None and not given and not resubscribe:
        raise click.UsageError("give at least one option to change")
    with _session(ctx) as session:
        record = get_subscriber(session, subscriber)
        record, action = update_subscriber(session, record, resubscribe=resubscribe, email=email, name=name, **given)
        session.commit()
        row = subscriber_dicts(session, [record])[0]
    text = {UNCHANGED: "nothing changed", RESUBSCRIBED: "resubscribed (suppression lifted)"}.get(action, "updated")
    emit({"action": action, "subscriber": row}, as_json, f"{text}: {_describe(row)}")
