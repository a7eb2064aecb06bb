"""`digest send`: the due pass from the command line, with a progress bar and polite signal handling."""

from __future__ import annotations

import os
import signal
import sys

import click

from ..errors import ConfigError
from ..executors.processes import can_fork, processes_for, run_processes
from ..pipeline import RunCounts
from .common import EXIT_OK, EXIT_PARTIAL, App, emit, handle_errors, json_option, main, parse_time


BATCH = 50  # digests per claim


def _progress_printer():
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None
    # rich's progress bar takes ~60 ms to import and is needed only on a terminal.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # (see above)

    bar = Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True, console=Console(stderr=True))
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
        cafile = app.settings.smtp_cafile
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
    With DIGEST_SEND_PROCESSES above 1 (the default: the number of cores) a large pass is sent by
    that many processes, each with its own connections; the counts are theirs added up.
    """
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
        def drain(pending: int, counts: RunCounts, on_progress):
            forks = processes_for(app.settings.send_processes, pending, BATCH)
            if forks <= 1 or not can_fork(mailer):
                return pipeline.drain(mailer, when, batch_size=BATCH, stop=stopper.stopping, counts=counts,
                                      on_progress=on_progress)
            mailer.close()  # checked by the preflight; each process opens its own connections
            return run_processes(pipeline, lambda: app.mailer(mailer_name), when, processes=forks,
                                 batch_size=BATCH, stop=stopper.stopping, counts=counts, on_progress=on_progress)

        try:
            pipeline.send_due(mailer, when, progress=progress, stop=stopper.stopping, counts=counts, drain=drain)
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
