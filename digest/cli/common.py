"""What every command shares: App (settings and engine), emit, fail, the error-to-exit-code mapping,
--as-of parsing, the --json option and the `digest` group itself. A leaf: it imports no command."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from functools import cached_property, wraps

import click
from sqlalchemy.exc import OperationalError

from subscribers.follows import UnknownName

from .. import logs
from ..config import Settings, load_settings
from ..db import check_ready, database_error, make_engine
from ..errors import ConfigError, DigestError, NotFound
from ..mailers import get_mailer
from ..pipeline import Pipeline
from ..schedule import check_as_of

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
        engine = make_engine(self.settings.database_url, busy_timeout=self.settings.db_busy_timeout)
        # Every command that uses the engine needs the schema (init and demo migrate first): refuse a
        # missing, unreachable, locked or unmigrated database before any work starts.
        check_ready(engine, busy_timeout=self.settings.db_busy_timeout)
        return engine

    def engine(self):
        return self._engine

    def pipeline(self):
        return Pipeline(self.engine(), self.settings)

    def mailer(self, name: str | None = None):
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
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            code, message = EXIT_USAGE, str(exc)
        except OperationalError as exc:
            # The database went away or stayed locked past the busy timeout mid-command: the operator's
            # to fix or retry. The failed transaction rolled back; a claim made before it expires with
            # its lease, so a later run sends what this one could not.
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
    level = logging.WARNING - 10 * min(verbose, 2)
    try:
        ctx.obj = App(load_settings())
    except ConfigError as exc:
        # Raised when the command first reads its settings, where its --json is known.
        ctx.obj = App(None, exc)
    # DIGEST_LOG_FORMAT=json: JSON lines, addresses marked with an HMAC under the signing key.
    logs.configure(level, logs.json_key(ctx.obj._settings))
