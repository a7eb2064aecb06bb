"""`digest scheduler` and `digest worker`: the long-running commands operators start from systemd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace

import click

from ..executors import WorkerOptions, due_pass, run_worker
from ..scheduler import DueScheduler, interval_from_settings
from .common import App, emit, handle_errors, json_option, main, parse_time


def _options(app: App, **overrides):
    options = WorkerOptions.from_settings(app.settings)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        options = replace(options, **changes)
    return options


@main.command()
@click.option("--once", is_flag=True, help="Run one due pass and exit (for cron, with DIGEST_EXECUTOR=queue too).")
@click.option("--as-of", "as_of", metavar="ISO-TIME", help="With --once: act as if it were this time.")
@click.option("--interval", type=click.IntRange(min=1), metavar="SECONDS",
              help="Seconds between due passes (default: DIGEST_SCHEDULER_INTERVAL, 120).")
@click.option("--mailer", "mailer_name", metavar="NAME", help="Mailer backend (default: DIGEST_MAILER).")
@json_option
@click.pass_obj
@handle_errors
def scheduler(app: App, once: bool, as_of: str | None, interval: int | None, mailer_name: str | None,
              as_json: bool) -> None:
    """Run the due pass every few minutes in the foreground (same work as `send --due`).

    With DIGEST_EXECUTOR=inline (the default) this process sends, in DIGEST_WORKER_CONCURRENCY
    threads; with DIGEST_EXECUTOR=queue (PostgreSQL) it plans and enqueues one job per digest for
    `digest worker` processes. SIGTERM or SIGINT finishes the message in flight, releases the rest
    and exits 0. --json prints one JSON object per pass.
    """
    options = _options(app)
    every, grace = interval_from_settings(app.settings)
    every = interval or every
    run = due_pass(app.pipeline(), lambda: app.mailer(mailer_name), options)

    def report(result: dict) -> None:
        human = ", ".join(f"{k} {v}" for k, v in result.items() if k != "as_of")
        emit(result, as_json, f"due pass as of {result['as_of']}: {human}")
        sys.stdout.flush()

    if once:
        when = parse_time(as_of)
        report({"as_of": when.isoformat(), **run(lambda: False, when)})
        return
    click.echo(f"scheduler: a due pass every {every} s ({options.executor} executor); stop with SIGTERM or Ctrl-C",
               err=True)
    DueScheduler(run, interval=every, misfire_grace=max(grace, 1), on_result=report).run()


@main.command()
@click.option("--processes", type=click.IntRange(min=1), help="Worker processes on this machine "
              "(default: DIGEST_WORKER_PROCESSES, 1).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Jobs at once per process "
              "(default: DIGEST_WORKER_CONCURRENCY, 4).")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty instead of waiting for more.")
@click.option("--mailer", "mailer_name", metavar="NAME", help="Mailer backend (default: DIGEST_MAILER).")
@click.pass_obj
@handle_errors
def worker(app: App, processes: int | None, concurrency: int | None, burst: bool, mailer_name: str | None) -> None:
    """Render and send the digests the due pass enqueued (PostgreSQL, DIGEST_EXECUTOR=queue).

    Run it on as many machines as needed; each digest is sent once whichever worker takes it.
    SIGTERM or SIGINT lets running jobs finish (up to DIGEST_WORKER_SHUTDOWN_SECONDS) and exits 0;
    the jobs of a worker that was killed are taken over by another after
    DIGEST_WORKER_STALLED_SECONDS.
    """
    options = _options(app, processes=processes, concurrency=concurrency)
    if options.processes > 1:
        sys.exit(_supervise(options.processes, concurrency, burst, mailer_name))
    run_worker(app.pipeline(), lambda: app.mailer(mailer_name), options, wait=not burst,
               name=f"worker-{os.getpid()}")


def _supervise(count: int, concurrency: int | None, burst: bool, mailer_name: str | None) -> int:
    """Start `count` single-process workers and pass SIGTERM/SIGINT on to them; exit with the worst code."""
    args = [sys.executable, "-m", "digest", "worker", "--processes", "1"]
    args += ["--concurrency", str(concurrency)] if concurrency else []
    args += ["--burst"] if burst else []
    args += ["--mailer", mailer_name] if mailer_name else []
    # Own sessions: a Ctrl-C on the terminal reaches only this process, which passes it on once.
    children = [subprocess.Popen(args, start_new_session=True) for _ in range(count)]

    def forward(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    return max(child.wait() for child in children)
