"""Benchmark: the whole due pass (Pipeline.send_due) to a loopback SMTP sink against raw smtplib, as JSON.

Both sides send the same messages over the same number of connections to the minimal asyncio sink
of bench_smtp.py, running in its own process. The pipeline side does everything a `digest send`
does per digest (claim, selection, rendering, message building, the re-check before the send, the
SMTP transaction, the ledger write after acceptance) on SQLite; the raw side only sends the bytes
that a previous pipeline run built. The figure that matters is the ratio pipeline/raw measured in
this same run (issue 6 asks at least 0.8 of raw for delivery throughput). A separately
instrumented run says where the pipeline's time goes.

With --dkim the pipeline also runs with DKIM signing on (a 2048-bit RSA key made by openssl), and
the report gives DKIM on against off in the same run.

Run: python benchmarks/bench_send.py [-n 500] [--connections 1 4] [--repeat 3] [--dkim]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_smtp import free_port, raw_smtplib  # noqa: E402

from digest import ledger, pipeline as pipeline_module, queries  # noqa: E402
from digest.config import Settings  # noqa: E402
from digest.db import make_engine, upgrade  # noqa: E402
from digest.mailers.memory import MemoryMailer  # noqa: E402
from digest.mailers.smtp import SMTPMailer  # noqa: E402
from digest.pipeline import Pipeline  # noqa: E402

TARGET_RATIO = 0.8
# Monday 2026-11-23 08:00 in Berlin; every reader is due five minutes later.
SLOT = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
AS_OF = SLOT + timedelta(minutes=5)
COMPANIES = ["xAI", "OpenAI", "Nvidia", "Mistral", "Anthropic"]
WORDS = ("The admission came during testimony about model distillation and what it means for the "
         "market for foundation models, their training data and the licences that govern it. ").split()


def _article(i: int) -> dict:
    company = COMPANIES[i % len(COMPANIES)]
    summary = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(90))
    return {
        "url": f"https://amw.example/news/story-{i}", "title": f"Story {i}: {company} ships something notable",
        "summary": summary, "published_at": (SLOT - timedelta(days=1 + i % 5, hours=i % 7)).isoformat(),
        "category": "Technology", "region": "US", "read_minutes": 3, "companies": [company],
        "segments": ["Foundation Models · Releases"], "tags": ["t", company],
        "scores": {"novelty": {"score": 1 + i % 3, "note": f"novelty note {i}"},
                   "significance": {"score": 1 + (i // 3) % 3, "note": f"significance note {i}"}},
        "related": [f"https://amw.example/news/story-{(i + 5) % 40}"],
    }


def make_template(folder: Path, readers: int) -> Path:
    """A SQLite database with 40 articles and `readers` subscribers, all due at AS_OF."""
    from sqlmodel import Session

    from digest.ingest import ingest_files
    from subscribers.csvio import import_csv

    path = folder / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    articles = folder / "articles.jsonl"
    articles.write_text("\n".join(json.dumps(_article(i)) for i in range(40)), encoding="utf-8")
    csv = folder / "readers.csv"
    lines = ["email,name,companies,segments,timezone,send_day,send_hour,frequency,max_articles"]
    lines += [f"reader{i:05d}@example.com,Reader {i},{';'.join(COMPANIES[i % 5:] + COMPANIES[:i % 5][:1])},,"
              "Europe/Berlin,mon,8,weekly,8" for i in range(readers)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Session(engine) as session:
        assert not ingest_files(session, [articles]).rejected
        report = import_csv(session, csv)
        session.commit()
    assert report.stored == readers, report.rejected[:3]
    engine.dispose()
    return path


SYNCHRONOUS: str | None = None  # --sqlite-synchronous: a what-if for the lead, not a project setting


def engine_for(settings: Settings):
    engine = make_engine(settings.database_url)
    if SYNCHRONOUS:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _synchronous(dbapi_conn, _record):
            dbapi_conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")

    return engine


def settings_for(path: Path, port: int, connections: int, dkim_key: Path | None = None) -> Settings:
    dkim = dict(dkim_selector="bench", dkim_domain="amw.example", dkim_private_key=str(dkim_key)) if dkim_key else {}
    return Settings(database_url=f"sqlite:///{path}", secret_key="bench", mailer="smtp", smtp_host="127.0.0.1",
                    smtp_port=port, smtp_connections=connections, smtp_helo="bench",
                    from_address="AMW Digest <digest@amw.example>", **dkim)


def fresh(template: Path, folder: Path, name: str) -> Path:
    target = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copy(template, target)
    return target


def pipeline_run(template: Path, folder: Path, port: int, connections: int,
                 dkim_key: Path | None = None) -> tuple[float, int]:
    """(messages per second, messages sent) for one whole due pass on a fresh copy of the database."""
    settings = settings_for(fresh(template, folder, "run"), port, connections, dkim_key)
    engine = engine_for(settings)
    pipe = Pipeline(engine, settings)  # template compilation is start-up, not per digest
    mailer = SMTPMailer("127.0.0.1", port, connections=connections, helo="bench", timeout=30)
    start = time.perf_counter()
    with mailer:
        counts = pipe.send_due(mailer, AS_OF)
    elapsed = time.perf_counter() - start
    engine.dispose()
    assert counts.failed == counts.deferred == 0 and counts.sent > 0, counts
    return counts.sent / elapsed, counts.sent


def prebuilt(template: Path, folder: Path) -> list:
    """The exact messages a due pass builds, collected with the memory mailer."""
    settings = settings_for(fresh(template, folder, "prebuilt"), 0, 1)
    engine = make_engine(settings.database_url)
    MemoryMailer.reset()
    Pipeline(engine, settings).send_due(MemoryMailer(), AS_OF)
    engine.dispose()
    messages = list(MemoryMailer.outbox)
    MemoryMailer.reset()
    return messages


class Timers:
    """Wraps functions so that their time in the calling (main) thread adds up under a name."""

    def __init__(self):
        self.total = defaultdict(float)
        self.undo = []

    def wrap(self, owner, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        total = self.total

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                total[name] += time.perf_counter() - start

        setattr(owner, attribute, timed)
        self.undo.append((owner, attribute, original))

    def restore(self) -> None:
        for owner, attribute, original in reversed(self.undo):
            setattr(owner, attribute, original)
        self.undo.clear()


def breakdown(template: Path, folder: Path, port: int, connections: int) -> dict:
    """Milliseconds per sent digest, by stage, from one instrumented due pass (main thread)."""
    settings = settings_for(fresh(template, folder, "profile"), port, connections)
    engine = engine_for(settings)
    pipe = Pipeline(engine, settings)
    mailer = SMTPMailer("127.0.0.1", port, connections=connections, helo="bench", timeout=30)
    timers = Timers()
    for attribute in ("plan", "claim", "expire_leases", "pending_count"):
        timers.wrap(ledger, attribute, "ledger: plan and claim")
    for attribute in ("mark_sent", "mark_retry", "mark_final"):
        timers.wrap(ledger, attribute, "ledger: record outcome")
    timers.wrap(queries, "still_sendable", "re-check before send")
    timers.wrap(queries, "load_readers", "_load")
    timers.wrap(queries, "load_history", "_load")
    timers.wrap(pipe, "build_shared", "_build")  # the send path (a reader rendered alone goes through it too)
    timers.wrap(pipe.renderer, "render", "render")
    timers.wrap(pipeline_module, "build_message", "message")
    timers.wrap(mailer, "send_messages", "_send_messages")
    start = time.perf_counter()
    try:
        with mailer:
            counts = pipe.send_due(mailer, AS_OF)
    finally:
        timers.restore()
    wall = time.perf_counter() - start
    engine.dispose()
    t = timers.total
    # send_messages runs the generator (re-check, build) and on_result (record) in this thread;
    # what is left is time spent waiting for the lanes: the SMTP transactions themselves.
    parts = {
        "ledger: plan and claim": t["ledger: plan and claim"],
        "selection and loading": t["_load"] + t["_build"] - t["render"] - t["message"],
        "render": t["render"],
        "message": t["message"],
        "re-check before send": t["re-check before send"],
        "smtp (waiting for the lanes)": (t["_send_messages"] - t["re-check before send"] - t["ledger: record outcome"]
                                         - t["_build"]),
        "ledger: record outcome": t["ledger: record outcome"],
    }
    parts["other"] = wall - sum(parts.values())
    n = counts.sent
    return {"connections": connections, "sent": n, "wall_ms_per_msg": round(1000 * wall / n, 3),
            "ms_per_msg": {k: round(1000 * v / n, 3) for k, v in parts.items()},
            "share": {k: round(v / wall, 3) for k, v in parts.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=500, help="subscribers (digests) per run")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite-synchronous", choices=["FULL", "NORMAL"],
                        help="override PRAGMA synchronous (the project leaves SQLite's default, FULL)")
    parser.add_argument("--dkim", action="store_true", help="also run the pipeline with DKIM signing on")
    args = parser.parse_args(argv)
    global SYNCHRONOUS
    SYNCHRONOUS = args.sqlite_synchronous
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(HERE / "bench_smtp.py"), "--sink", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
            folder = Path(tmp)
            template = make_template(folder, args.n)
            dkim_key = None
            if args.dkim:
                dkim_key = folder / "dkim.pem"
                subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                                "-out", str(dkim_key)], check=True, capture_output=True)
            messages = prebuilt(template, folder)
            sizes = sorted(len(m.data) for m in messages)
            report = {"digests": args.n, "messages": len(messages), "message_bytes_median": sizes[len(sizes) // 2],
                      "database": "sqlite", "sqlite_synchronous": SYNCHRONOUS or "FULL (default)", "target_ratio": TARGET_RATIO, "runs": [], "breakdown": []}
            ok = True
            for connections in args.connections:
                raw_rates, ours_rates, dkim_rates = [], [], []
                for _ in range(args.repeat):  # interleaved, so drift on a noisy machine hits both alike
                    raw_rates.append(raw_smtplib(port, messages, connections))
                    rate, sent = pipeline_run(template, folder, port, connections)
                    assert sent == len(messages), (sent, len(messages))
                    ours_rates.append(rate)
                    if dkim_key:
                        dkim_rates.append(pipeline_run(template, folder, port, connections, dkim_key)[0])
                raw, ours = statistics.median(raw_rates), statistics.median(ours_rates)
                ok = ok and ours / raw >= TARGET_RATIO
                report["runs"].append({"connections": connections, "raw_smtplib_per_s": round(raw),
                                       "pipeline_per_s": round(ours), "ratio": round(ours / raw, 2)})
                if dkim_rates:
                    signed = statistics.median(dkim_rates)
                    report["runs"][-1].update(pipeline_dkim_per_s=round(signed), dkim_on_off=round(signed / ours, 2))
                report["breakdown"].append(breakdown(template, folder, port, connections))
            report["ok"] = ok
        print(json.dumps(report, ensure_ascii=False))
        return 0 if ok else 1
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    sys.exit(main())
