"""Benchmark: one `digest send --due` end to end with DKIM on (SQLite, DIGEST_SEND_PROCESSES), against
baselines measured in the same run, as one JSON object.

    python benchmarks/bench_send_e2e.py [-n 20000] [--connections 4] [--naive 100]

Every reader of a fresh copy of one SQLite database (40 articles, 5 follow sets, as bench_send.py)
is due; the command runs as operators run it (a subprocess, `--json`), over SMTP to the minimal
asyncio sink of bench_smtp.py in its own process. Figures, each a ratio within this run:

- `send_per_s`: the command with DKIM on (RSA-2048) and the default processes (one per core);
  against a raw `smtplib` loop of pre-built messages of the same kind over the same connections
  (`vs_raw_smtplib`), the same command with DKIM off (`dkim_on_off`) and with one process
  (`processes_gain`).
- peak RSS per process (`peak_rss_mb`: the largest ru_maxrss of the command and its sending
  processes) at n/4 and n readers: flat when the two are close.
- per digest all in (the file mailer, in this process, shared renders) against the naive path per
  digest (selection, then Jinja -> MJML -> premailer for the reader, then the standard library's
  EmailMessage): `naive_ratio`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import Session

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_message import stdlib  # noqa: E402
from bench_send import AS_OF, fresh, make_template, prebuilt  # noqa: E402
from bench_smtp import free_port, raw_smtplib  # noqa: E402

from digest.config import Settings  # noqa: E402
from digest.db import make_engine  # noqa: E402
from digest.mailers.file import FileMailer  # noqa: E402
from digest.pipeline import Pipeline  # noqa: E402
from digest import queries  # noqa: E402

# The wrapper reports the peak RSS of the largest process it waited for, the command's forked
# sending processes included (they are reaped by the command, their usage passes up to it).
_WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def command(db: Path, port: int, connections: int, *, key: Path | None, processes: int | None,
            folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=f"sqlite:///{db}", DIGEST_SECRET_KEY="bench", DIGEST_MAILER="smtp",
               DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(port), DIGEST_SMTP_CONNECTIONS=str(connections),
               DIGEST_SMTP_HELO="bench", DIGEST_FROM="AMW Digest <digest@amw.example>")
    if key is not None:
        env.update(DIGEST_DKIM_SELECTOR="bench", DIGEST_DKIM_DOMAIN="amw.example", DIGEST_DKIM_PRIVATE_KEY=str(key))
    if processes is not None:
        env["DIGEST_SEND_PROCESSES"] = str(processes)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "digest", "send", "--due",
                           "--as-of", AS_OF.isoformat(), "--json"], env=env, cwd=folder, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout)
    assert counts["failed"] == counts["deferred"] == 0, counts
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {"sent": counts["sent"], "seconds": round(seconds, 1), "per_s": round(counts["sent"] / seconds, 1),
            "peak_rss_mb": round(peak_kb / 1024)}


def per_digest_ms(template: Path, folder: Path, key: Path, naive: int) -> dict:
    """ms per digest all in (file mailer, shared renders) and along the naive path, in this process."""
    settings = Settings(database_url=f"sqlite:///{fresh(template, folder, 'file')}", secret_key="bench",
                        mailer="file", outbox=str(folder / "outbox"), from_address="AMW Digest <digest@amw.example>",
                        dkim_selector="bench", dkim_domain="amw.example", dkim_private_key=str(key))
    engine = make_engine(settings.database_url)
    pipe = Pipeline(engine, settings)
    pipe.preflight()
    start = time.perf_counter()
    with FileMailer.from_settings(settings) as mailer:
        counts = pipe.send_due(mailer, AS_OF)
    ours = 1000 * (time.perf_counter() - start) / counts.sent
    with Session(engine) as session:
        subscribers = queries.sendable_subscribers(session, AS_OF.date())[:naive]
        readers = list(queries.load_readers(session, subscribers).values())
        slot = pipe.slot_for(readers[0], AS_OF)  # every reader has the same schedule
        empty = (frozenset(), frozenset(), None)
        selection, issue = pipe._select(session, readers[0], slot, empty)
        first = pipe.links(readers[0], slot.period, tuple(c.article for c in issue.choices))
        pipe.renderer.render_naive(issue, first)  # compiles the naive path, outside the timing
        start = time.perf_counter()
        for i, reader in enumerate(readers):
            selection, issue = pipe._select(session, reader, slot, empty)
            links = pipe.links(reader, slot.period, tuple(c.article for c in issue.choices))
            stdlib(pipe.renderer.render_naive(issue, links), i)
        naive_ms = 1000 * (time.perf_counter() - start) / len(readers)
    engine.dispose()
    return {"ours_ms": round(ours, 2), "naive_ms": round(naive_ms, 2), "naive_ratio": round(naive_ms / ours, 1),
            "ours_digests": counts.sent, "naive_digests": len(readers)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20_000, help="readers (digests) of the big run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--naive", type=int, default=100, help="digests timed along the naive path")
    parser.add_argument("--raw", type=int, default=3000, help="pre-built messages for the raw smtplib loop")
    args = parser.parse_args(argv)
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(HERE / "bench_smtp.py"), "--sink", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
            folder = Path(tmp)
            key = folder / "dkim.pem"
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", str(key)], check=True, capture_output=True)
            small_dir, big_dir = folder / "small", folder / "big"
            small_dir.mkdir()
            big_dir.mkdir()
            small = make_template(small_dir, max(args.n // 4, args.raw))
            messages = prebuilt(small, small_dir)[:args.raw]
            report = {"readers": args.n, "connections": args.connections, "cores": os.cpu_count(),
                      "database": "sqlite", "load_average_before": os.getloadavg()[0]}
            raw = [raw_smtplib(port, messages, args.connections)]
            quarter = command(fresh(small, small_dir, "run"), port, args.connections, key=key, processes=None,
                              folder=small_dir)
            big = make_template(big_dir, args.n)
            on = command(fresh(big, big_dir, "run"), port, args.connections, key=key, processes=None, folder=big_dir)
            raw.append(raw_smtplib(port, messages, args.connections))
            off = command(fresh(big, big_dir, "run"), port, args.connections, key=None, processes=None, folder=big_dir)
            one = command(fresh(big, big_dir, "run"), port, args.connections, key=key, processes=1, folder=big_dir)
            raw.append(raw_smtplib(port, messages, args.connections))
            raw_rate = sorted(raw)[1]
            report.update(
                send_dkim_on=on, send_dkim_off=off, send_one_process=one, send_quarter_readers=quarter,
                raw_smtplib_per_s=round(raw_rate), vs_raw_smtplib=round(on["per_s"] / raw_rate, 2),
                dkim_on_off=round(on["per_s"] / off["per_s"], 2),
                processes_gain=round(on["per_s"] / one["per_s"], 2),
                peak_rss_mb={"quarter": quarter["peak_rss_mb"], "full": on["peak_rss_mb"]},
                per_digest=per_digest_ms(small, small_dir, key, args.naive),
                load_average_after=os.getloadavg()[0])
        print(json.dumps(report))
        return 0
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    sys.exit(main())
