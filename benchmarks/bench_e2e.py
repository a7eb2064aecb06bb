"""Benchmark: N subscribers end to end (due pass, selection, render, delivery to a loopback SMTP sink) with 2 workers.

    python benchmarks/bench_e2e.py [--subscribers 10000] [--workers 2] [--database postgresql|sqlite] [--dkim]

PostgreSQL (a fresh database, dropped afterwards): the due pass enqueues one procrastinate job per
digest and `--workers` worker processes send them (`--executor inline`: each process plans, then
claims batches itself, as `digest send --due` does). SQLite: `--workers` processes each run the
in-process executor. Delivery goes to a minimal asyncio SMTP sink in its own process (aiosmtpd
spends more CPU per message than the pipeline does). Prints one JSON object: total and per-phase
seconds, digests per second, and peak RSS of every process. With --dkim every message is signed
(RSA-2048, a key made by openssl for the run), as every production sender's are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux keeps it across fork and exec, so a worker
    started by the process that built a 100,000-subscriber world reported that process's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy so far (all processes, the database server included)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


# -- a minimal SMTP sink ------------------------------------------------------------------------


def _counting_sink(counter: dict):
    from tests.smtp_sink import MinimalSMTP

    class CountingSink(MinimalSMTP):
        def message(self, recipients, body):
            counter["messages"] += 1
            counter["recipients"].update(recipients)
            return super().message(recipients, body)

    return CountingSink


def _run_sink(port_queue, stop_event, result_queue) -> None:
    async def main():
        counter = {"messages": 0, "recipients": set()}
        server = await asyncio.get_running_loop().create_server(_counting_sink(counter), "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        while not stop_event.is_set():
            await asyncio.sleep(0.2)
        server.close()
        result_queue.put({"messages": counter["messages"], "distinct_recipients": len(counter["recipients"]),
                          "peak_rss_mb": round(_peak_rss_mb(), 1), "cpu_seconds": round(_cpu_seconds(), 1)})

    asyncio.run(main())


# -- roles run in their own processes -----------------------------------------------------------


def _settings(url: str, smtp_port: int):
    from digest.config import Settings

    key = os.environ.get("BENCH_DKIM_KEY")  # set by main() for --dkim, inherited by the roles
    dkim = dict(dkim_selector="bench", dkim_domain="amw.example", dkim_private_key=key) if key else {}
    return Settings(database_url=url, secret_key="bench-secret", grace_hours=48, mailer="smtp",
                    smtp_host="127.0.0.1", smtp_port=smtp_port, **dkim)


def role_worker(url: str, smtp_port: int, concurrency: int) -> dict:
    from digest.db import make_engine
    from digest.mailers import get_mailer
    from digest.pipeline import Pipeline
    from digest.executors import WorkerOptions, run_worker

    settings = _settings(url, smtp_port)
    pipeline = Pipeline(make_engine(url), settings)
    started = time.perf_counter()
    run_worker(pipeline, lambda: get_mailer("smtp", settings), WorkerOptions(executor="queue", concurrency=concurrency),
               wait=False)
    return {"seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "cpu_seconds": round(_cpu_seconds(), 1)}


def role_inline(url: str, smtp_port: int, as_of: str) -> dict:
    from datetime import datetime

    from digest.db import make_engine
    from digest.mailers import get_mailer
    from digest.pipeline import Pipeline
    from digest.executors import run_inline

    settings = _settings(url, smtp_port)
    pipeline = Pipeline(make_engine(url), settings)
    started = time.perf_counter()
    counts = run_inline(pipeline, lambda: get_mailer("smtp", settings), datetime.fromisoformat(as_of))
    return {"seconds": round(time.perf_counter() - started, 2), "sent": counts.sent,
            "peak_rss_mb": round(_peak_rss_mb(), 1), "cpu_seconds": round(_cpu_seconds(), 1)}


def _spawn_role(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, "--role", *args], stdout=subprocess.PIPE, text=True, env=env)


# -- the benchmark ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2,
                        help="jobs at once per worker (PostgreSQL); on 2 cores 1-2 beat 4 (GIL contention)")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--executor", choices=["queue", "inline"], default=None,
                        help="queue: procrastinate jobs (PostgreSQL default); inline: each process claims "
                             "batches itself (SQLite default)")
    parser.add_argument("--dkim", action="store_true", help="sign every message (RSA-2048)")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        kind, *rest = args.role
        result = role_worker(rest[0], int(rest[1]), int(rest[2])) if kind == "worker" else \
            role_inline(rest[0], int(rest[1]), rest[2])
        print(json.dumps(result))
        return

    import tempfile

    from digest.db import make_engine, upgrade
    from digest.pipeline import Pipeline
    from digest.executors import enqueue_due, ensure_queue_schema
    from tests.worker_helpers import AS_OF, build_world

    executor = args.executor or ("queue" if args.database == "postgresql" else "inline")
    if executor == "queue" and args.database != "postgresql":
        parser.error("--executor queue needs --database postgresql")
    report: dict = {"subscribers": args.subscribers, "workers": args.workers, "database": args.database,
                    "executor": executor, "cpus": os.cpu_count(), "dkim": args.dkim,
                    "load_average_before": os.getloadavg()[0]}
    if args.dkim:
        key = Path(tempfile.mkdtemp(prefix="bench-dkim-")) / "dkim.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
                       check=True, capture_output=True)
        os.environ["BENCH_DKIM_KEY"] = str(key)
    if args.database == "postgresql":
        from tests.conftest import create_postgres_database, drop_postgres_database

        url = create_postgres_database()
        cleanup = lambda: drop_postgres_database(url)  # noqa: E731
    else:
        import shutil

        folder = tempfile.mkdtemp(prefix="bench-e2e-")
        url = f"sqlite:///{folder}/digest.db"
        cleanup = lambda: shutil.rmtree(folder, ignore_errors=True)  # noqa: E731
    ctx = multiprocessing.get_context("spawn")
    port_queue, result_queue, stop_event = ctx.Queue(), ctx.Queue(), ctx.Event()
    sink = ctx.Process(target=_run_sink, args=(port_queue, stop_event, result_queue), daemon=True)
    sink.start()
    port = port_queue.get(timeout=30)
    try:
        upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        build_world(engine, subscribers=args.subscribers)
        report["setup_seconds"] = round(time.perf_counter() - t0, 2)
        started, busy_before = time.perf_counter(), _busy_cpu_seconds()
        if executor == "queue":
            ensure_queue_schema(url)
            pipeline = Pipeline(engine, _settings(url, port))
            report["due_pass"] = enqueue_due(pipeline, AS_OF)
            report["due_pass_seconds"] = round(time.perf_counter() - started, 2)
            report["due_pass_peak_rss_mb"] = round(_peak_rss_mb(), 1)
            procs = [_spawn_role("worker", url, str(port), str(args.concurrency)) for _ in range(args.workers)]
        else:
            procs = [_spawn_role("inline", url, str(port), AS_OF.isoformat()) for _ in range(args.workers)]
        report["worker_processes"] = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        report["total_seconds"] = round(time.perf_counter() - started, 2)
        report["load_average_after"] = os.getloadavg()[0]
        # Where the machine's CPU went during the run: the workers, and everything else (mostly
        # the database server; the sink reports its own below).
        busy = _busy_cpu_seconds() - busy_before
        workers_cpu = sum(p["cpu_seconds"] for p in report["worker_processes"])
        report["cpu_seconds"] = {"machine": round(busy, 1), "workers": round(workers_cpu, 1),
                                 "database_and_rest": round(busy - workers_cpu, 1)}
        stop_event.set()
        report["sink"] = result_queue.get(timeout=30)
        report["digests_per_second"] = round(report["sink"]["messages"] / report["total_seconds"], 1)
        report["peak_rss_mb_max"] = max(p["peak_rss_mb"] for p in report["worker_processes"])
        engine.dispose()
    finally:
        stop_event.set()
        sink.join(10)
        cleanup()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
