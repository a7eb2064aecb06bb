"""The `digest` command line: the operator contract of DESIGN.md (commands, --json, exit codes)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from datetime import datetime, timezone
from functools import cached_property, wraps
from pathlib import Path

import click

from ..config import Settings, load_settings
from ..errors import ConfigError, DigestError, NotFound

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


class App:
    """What every command needs: the settings, and an engine made on first use."""

    def __init__(self, settings: Settings | None, error: ConfigError | None = None):
        self._settings, self._error = settings, error

    @property
    def settings(self) -> Settings:
        """The loaded settings; a setting that could not be loaded is raised here, inside the
        command, so the command's --json decides how the error is printed and --help still works."""
        if self._settings is None:
            raise self._error or ConfigError("the settings could not be loaded")
        return self._settings

    @cached_property
    def _engine(self):
        from ..db import check_ready, make_engine

        engine = make_engine(self.settings.database_url, busy_timeout=self.settings.db_busy_timeout)
        # Every command that uses the engine needs the schema (init and demo migrate first): refuse a
        # missing, unreachable, locked or unmigrated database before any work starts.
        check_ready(engine, busy_timeout=self.settings.db_busy_timeout)
        return engine

    def engine(self):
        return self._engine

    def pipeline(self):
        from ..pipeline import Pipeline

        return Pipeline(self.engine(), self.settings)

    def mailer(self, name: str | None = None):
        from ..mailers import get_mailer

        return get_mailer(name or self.settings.mailer, self.settings)


def emit(data: dict, as_json: bool, human: str | None = None) -> None:
    """Print the result: one JSON object with --json, otherwise the human summary."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    elif human:
        click.echo(human)


def fail(message: str, code: int = EXIT_USAGE, *, as_json: bool = False):
    """Say what is wrong (as {"error": ...} with --json) and exit with the contract's code."""
    if as_json:
        click.echo(json.dumps({"error": message}, ensure_ascii=False))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn):
    """Map the package's errors to the contract's exit codes, with a message that says what to fix.

    Configuration, a database that cannot be used (unreachable, locked past DIGEST_DB_BUSY_TIMEOUT)
    and a missing subscriber or file are the operator's to fix (2); an invalid value, including an
    unknown company or segment name in it, is bad input (1).
    """

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from sqlalchemy.exc import OperationalError

        from subscribers.follows import UnknownName

        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            code, message = EXIT_USAGE, str(exc)
        except OperationalError as exc:
            # The database went away or stayed locked past the busy timeout mid-command: the operator's
            # to fix or retry. The failed transaction rolled back; a claim made before it expires with
            # its lease, so a later run sends what this one could not.
            from ..db import database_error

            app = click.get_current_context().find_object(App)
            settings = app.settings if app else Settings()
            code = EXIT_USAGE
            message = str(database_error(settings.database_url, exc, busy_timeout=settings.db_busy_timeout))
        except UnknownName as exc:
            code, message = EXIT_PARTIAL, f"{exc.field}: {exc}"
        except NotFound as exc:
            code, message = EXIT_USAGE, str(exc)
        except DigestError as exc:
            code, message = EXIT_PARTIAL, str(exc)
        fail(message, code, as_json=kwargs.get("as_json", False))

    return wrapper


def parse_time(value: str | None) -> datetime:
    """An ISO 8601 time from the years the schedule handles; without a zone it is taken as UTC.
    None means now."""
    from ..schedule import check_as_of

    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"--as-of {value!r} is not an ISO 8601 time, like 2026-11-23T08:00:00Z") from None
    try:
        return check_as_of(parsed)
    except ValueError as exc:
        raise ConfigError(f"--as-of {value!r} {exc}") from None


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the result.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="amw-digest")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """AMW Digest: personalized weekly digests of AMW-rated AI-market news.

    Settings come from DIGEST_* environment variables (or digest.toml); see the README.
    """
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        ctx.obj = App(load_settings())
    except ConfigError as exc:
        # Raised when the command first reads its settings, where its --json is known.
        ctx.obj = App(None, exc)


@main.command()
@json_option
@click.pass_obj
@handle_errors
def init(app: App, as_json: bool) -> None:
    """Create or upgrade the database schema (Alembic migrations; on PostgreSQL also the job queue's)."""
    from ..db import _safe, upgrade

    from ..executors import ensure_queue_schema, is_postgres

    revision = upgrade(app.settings.database_url)
    result = {"database": _safe(app.settings.database_url), "revision": revision}
    if is_postgres(app.settings.database_url):
        # The job queue of `digest worker` lives in the same database (procrastinate's tables).
        result["queue_schema_created"] = ensure_queue_schema(app.settings.database_url)
    emit(result, as_json, f"database {result['database']} is at schema revision {revision}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_obj
@handle_errors
def ingest(app: App, files: tuple[Path, ...], as_json: bool) -> None:
    """Load articles from JSON (an array) or JSONL files; a url already stored is updated.

    Valid records are stored even when others are rejected; each rejected record is reported as
    FILE:LINE: field: what is wrong. Exit 0 if all were stored, 1 if some were rejected.
    """
    from sqlmodel import Session

    from ..ingest import ingest_files

    with Session(app.engine()) as session:
        report = ingest_files(session, files)
    for rejected in report.rejected:
        click.echo(str(rejected), err=True)
    emit(report.as_json(), as_json,
         f"stored {report.stored}, updated {report.updated}, rejected {len(report.rejected)}")
    sys.exit(EXIT_PARTIAL if report.rejected else EXIT_OK)


@main.command()
@click.argument("email")
@click.option("--as-of", "as_of", metavar="ISO-TIME", help="Render as of this time (default: now).")
@click.option("--format", "fmt", type=click.Choice(["html", "text", "eml"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@json_option
@click.pass_obj
@handle_errors
def preview(app: App, email: str, as_of: str | None, fmt: str, out: Path | None, as_json: bool) -> None:
    """Render exactly what EMAIL would receive at that time; nothing is sent or recorded."""
    from ..render import lint

    built = app.pipeline().preview(email, parse_time(as_of))
    summary = {"email": email, "period": built.issue.period, "window_start": built.issue.window_start.isoformat(),
               "window_end": built.issue.window_end.isoformat(), "articles": len(built.issue.choices)}
    if built.rendered is None:
        summary.update(sent=False, reason=built.selection.skip_reason)
        emit(summary, as_json, f"nothing would be sent: {built.selection.skip_reason}")
        return
    warnings = list(dict.fromkeys([*built.rendered.warnings, *lint(built.rendered)]))
    summary.update(subject=built.rendered.subject, html_bytes=len(built.rendered.html.encode()),
                   message_bytes=len(built.message), warnings=warnings,
                   choices=[{"url": c.article.url, "title": c.article.title, "rating": c.rating,
                             "reasons": list(c.reasons)} for c in built.issue.choices])
    content = {"html": built.rendered.html.encode(), "text": built.rendered.text.encode(), "eml": built.message}[fmt]
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
        summary["out"] = str(out)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        emit(summary, True)
    elif out:
        click.echo(f"wrote {fmt} to {out}: {summary['articles']} articles, "
                   f"HTML {summary['html_bytes'] / 1000:.1f} KB, subject: {summary['subject']}")
    else:
        sys.stdout.buffer.write(content)


def _progress_printer():
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True, console=__import__("rich.console").console.Console(stderr=True))
    task = bar.add_task("send", total=None)
    bar.start()
    return (lambda done, total: bar.update(task, completed=done, total=total)), bar.stop


class _StopNow(BaseException):
    """A second SIGTERM/SIGINT during `digest send`: stop at once. A BaseException, so that no
    per-message `except Exception` turns it into a failed send."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Stopper:
    """SIGTERM and SIGINT during a send, as `digest scheduler` handles them: the first lets the
    message in flight finish and be recorded and releases the rest; a second stops at once."""

    def __init__(self):
        self.signum: int | None = None

    def __call__(self, signum, _frame) -> None:
        if self.signum is not None:
            raise _StopNow(signum)
        self.signum = signum
        # os.write: a buffered stream may be mid-write in the code this handler interrupted.
        os.write(2, f"digest send: {signal.Signals(signum).name}: finishing the message in flight and "
                    "releasing the rest (a second signal stops at once)\n".encode())

    def stopping(self) -> bool:
        return self.signum is not None

    def install(self) -> dict:
        return {signum: signal.signal(signum, self) for signum in (signal.SIGTERM, signal.SIGINT)}


def _send_mailer(app: App, name: str | None):
    """The configured mailer, opened; a backend that cannot even be built is a configuration error."""
    try:
        mailer = app.mailer(name)
    except OSError as exc:  # a missing CA file, say (ssl does not name the file)
        cafile = getattr(app.settings, "smtp_cafile", None)
        hint = f"; check DIGEST_SMTP_CAFILE={cafile}" if cafile else ""
        raise ConfigError(f"mailer {name or app.settings.mailer!r} cannot be set up: "
                          f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}{hint}") from None
    mailer.open()
    return mailer


@main.command()
@click.option("--due", is_flag=True, help="Send what is due (the default; kept for cron lines).")
@click.option("--as-of", "as_of", metavar="ISO-TIME", help="Act as if it were this time (default: now).")
@click.option("--mailer", "mailer_name", metavar="NAME", help="Mailer backend (default: DIGEST_MAILER).")
@click.option("--dry-run", is_flag=True, help="Count what would be sent; send and record nothing.")
@json_option
@click.pass_obj
@handle_errors
def send(app: App, due: bool, as_of: str | None, mailer_name: str | None, dry_run: bool, as_json: bool) -> None:
    """Plan, render and send every digest due at that time and not yet sent, recording each.

    Running it again, or twice at once, sends nothing twice. The templates and the mailer are
    checked first: a failure there exits 2 with the ledger untouched. SIGTERM or SIGINT finishes
    the message in flight, releases the rest and exits 128 + the signal number (143, 130).
    Exit 1 if any digest failed, or if every connection stalled (the rest waits for the next run).
    """
    from ..pipeline import RunCounts

    when = parse_time(as_of)
    pipeline = app.pipeline()
    stopper, stopped_now = _Stopper(), False
    if dry_run:
        counts = pipeline.send_due(None, when, dry_run=True)
    else:
        counts = RunCounts()
        mailer = _send_mailer(app, mailer_name)
        progress, done = _progress_printer()
        previous = stopper.install()
        try:
            pipeline.send_due(mailer, when, progress=progress, stop=stopper.stopping, counts=counts)
        except _StopNow:
            stopped_now = True  # what was claimed and not handed over is released already
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            done()
            if not stopped_now:  # quitting politely may wait for a stalled server
                mailer.close()
    data = counts.as_json()
    if dry_run:
        data["dry_run"] = True
    if stopper.signum is not None:
        data["interrupted"] = True
        data["signal"] = signal.Signals(stopper.signum).name
    emit(data, as_json, ("would send" if dry_run else "sent") +
         f" {counts.sent} of {counts.due} due; skipped {counts.skipped}, deferred {counts.deferred}, "
         f"failed {counts.failed}" + ("; interrupted, the rest was released" if stopper.signum else "")
         + ("; the mail server stopped answering, the rest was released" if counts.halted else ""))
    if stopper.signum is not None:
        sys.exit(128 + stopper.signum)
    sys.exit(EXIT_PARTIAL if counts.failed or counts.halted else EXIT_OK)


def _register() -> None:
    """Commands that live in their own modules; importing each registers it on `main`."""
    from . import companies, demo, ops, serve  # noqa: F401
    from .subscribers import subscribers_group

    main.add_command(subscribers_group, "subscribers")


_register()
