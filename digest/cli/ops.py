"""`digest scheduler` and `digest worker`: the long-running commands operators start from systemd."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace

import click

from .. import metrics
from ..executors import WorkerOptions, due_pass, run_worker
from ..scheduler import DueScheduler, Job, interval_from_settings
from ..errors import ConfigError
from .feeds import poll_all_feeds
from .mailbox import poll_mailbox
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
    and exits 0. --json prints one JSON object per pass. Beside the due pass it polls the feeds
    (`digest feeds`) every DIGEST_FEED_INTERVAL seconds (0: never), logging what each poll did.
    """
    options = _options(app)
    if app.settings.metrics_port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR") and options.send_processes != 1:
        # Forked sending processes would count in copies of this process's metrics, which /metrics
        # never sees: one process, unless prometheus_client's multiprocess mode adds them up.
        click.echo("scheduler: DIGEST_METRICS_PORT without PROMETHEUS_MULTIPROC_DIR: sending in one process "
                   "(set PROMETHEUS_MULTIPROC_DIR to an empty folder to count DIGEST_SEND_PROCESSES processes)",
                   err=True)
        options = replace(options, send_processes=1)
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
    _serve_metrics(app)
    DueScheduler(run, interval=every, misfire_grace=max(grace, 1), on_result=report, jobs=_jobs(app)).run()


def _jobs(app: App) -> list[Job]:
    """The scheduler's jobs beside the due pass: (name, interval in seconds, what to run)."""
    jobs = []
    if app.settings.feed_interval:
        jobs.append(Job("feed poll", app.settings.feed_interval, lambda: poll_all_feeds(app)))
    if app.settings.mailbox_host and app.settings.mailbox_interval:
        jobs.append(Job("mailbox poll", app.settings.mailbox_interval, lambda: poll_mailbox(app)))
    return jobs


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
        sys.exit(_supervise(app, options.processes, concurrency, burst, mailer_name))
    _serve_metrics(app)
    run_worker(app.pipeline(), lambda: app.mailer(mailer_name), options, wait=not burst,
               name=f"worker-{os.getpid()}")


def _serve_metrics(app: App) -> None:
    """/metrics on 127.0.0.1:DIGEST_METRICS_PORT for as long as this process runs (when set)."""
    port = app.settings.metrics_port
    if port:
        try:
            metrics.serve(port, app.engine(), app.settings)
        except OSError as exc:
            raise ConfigError(f"DIGEST_METRICS_PORT {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                              "choose a free port") from None
        click.echo(f"metrics: http://127.0.0.1:{port}/metrics", err=True)


def _supervise(app: App, count: int, concurrency: int | None, burst: bool, mailer_name: str | None) -> int:
    """Start `count` single-process workers and pass SIGTERM/SIGINT on to them; exit with the worst code.

    With DIGEST_METRICS_PORT, this process serves the children's metrics added up (prometheus_client's
    multiprocess mode, in PROMETHEUS_MULTIPROC_DIR or a fresh temporary folder); the children serve none.
    """
    env, own_dir = dict(os.environ), None
    if app.settings.metrics_port:
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            own_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = env["PROMETHEUS_MULTIPROC_DIR"] = \
                tempfile.mkdtemp(prefix="digest-metrics-")
        env.pop("DIGEST_METRICS_PORT", None)
        _serve_metrics(app)
    try:
        return _run_children(count, concurrency, burst, mailer_name, env)
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)


def _run_children(count: int, concurrency: int | None, burst: bool, mailer_name: str | None, env: dict) -> int:
    args = [sys.executable, "-m", "digest", "worker", "--processes", "1"]
    args += ["--concurrency", str(concurrency)] if concurrency else []
    args += ["--burst"] if burst else []
    args += ["--mailer", mailer_name] if mailer_name else []
    # Own sessions: a Ctrl-C on the terminal reaches only this process, which passes it on once.
    children = [subprocess.Popen(args, start_new_session=True, env=env) for _ in range(count)]

    def forward(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    return max(child.wait() for child in children)
