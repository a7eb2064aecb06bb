"""`digest subscribers ...`: manage subscribers from the command line (add, import, export, ...)."""

from __future__ import annotations

import sys

import click
from sqlmodel import Session

from digest.cli.common import emit, handle_errors, json_option
from digest.bounces import events_of, unsuppress
from digest.errors import ConfigError
from digest.models import Subscriber
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
@click.option("--resubscribe", is_flag=True, help="Subscribe again an address that unsubscribed, bounced or complained.")
@json_option
@click.pass_context
@handle_errors
def add_command(ctx, email, name, companies, segments, double_opt_in, resubscribe, as_json, **prefs):
    """Add one subscriber."""
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
            payload["confirm_link"] = link
            text += f"\nconfirmation link (send it to the subscriber): {link}"
    emit(payload, as_json, text)


@subscribers_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--resubscribe", is_flag=True,
              help="Subscribe again listed addresses that unsubscribed, bounced or complained (says which).")
@click.option("--double-opt-in/--no-double-opt-in", default=None,
              help="New subscribers are pending until they confirm (default: DIGEST_DOUBLE_OPT_IN).")
@click.option("--dry-run", is_flag=True, help="Check and report, store nothing.")
@json_option
@click.pass_context
@handle_errors
def import_command(ctx, files, resubscribe, double_opt_in, dry_run, as_json):
    """Import subscribers from CSV files (header: email,name,companies,segments,timezone,send_day,
    send_hour,frequency,max_articles). Valid lines are stored; bad ones are reported as
    FILE:LINE: column: problem, and the exit code is then 1. Importing again changes nothing."""
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
        if report.pending and not dry_run:
            signer = signer_from_settings(settings)
            payload["confirm_links"] = {
                str(i): confirmation_link(settings.base_url, signer, session.get(Subscriber, i)) for i in report.pending
            }
    if not as_json:
        for message in report.messages():
            click.echo(message, err=True)
        for entry in report.skipped:
            click.echo(f"{entry['file']}:{entry['line']}: {entry['error']}", err=True)
        summary = (f"{'would store' if dry_run else 'stored'} {report.stored}, updated {report.updated}, "
                   f"unchanged {report.unchanged}, resubscribed {report.resubscribed}, "
                   f"rejected {report.rejected_lines} line(s), skipped {len(report.skipped)} suppressed")
        if report.pending and not dry_run:
            summary += f"; {len(report.pending)} pending confirmation (links in --json output)"
        click.echo(summary)
    else:
        emit(payload, True)
    sys.exit(0 if report.ok else 1)


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
