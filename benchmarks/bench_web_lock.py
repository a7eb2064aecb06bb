"""One-click unsubscribes while another process holds the database's write lock.

Run: python benchmarks/bench_web_lock.py [--posts 50] [--wait 2]. Prints one JSON object. A second
process holds BEGIN EXCLUSIVE on a real SQLite file (as a `digest send` writing does) while
`--posts` concurrent one-click POSTs reach the app under uvicorn; then the lock is released and the
web app's applier drains the spool. Target (issue 13): every POST answers 200 and every reader is
unsubscribed; the batch takes about one DIGEST_WEB_WRITE_WAIT (ratio elapsed / wait near 1, at most
1.5), since the requests wait together and later ones join the spool without waiting.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from digest.db import make_engine, sqlite_path  # noqa: E402
from digest.models import Subscriber  # noqa: E402
from digest.pipeline import Pipeline  # noqa: E402
from digest.web import create_app  # noqa: E402
from subscribers import add_subscriber  # noqa: E402
from tests.web_helpers import LiveServer, build_seeded, copy_seeded, settings_for  # noqa: E402

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-web-lock-"))
    try:
        run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--wait", type=float, default=2.0, help="DIGEST_WEB_WRITE_WAIT")
    args = parser.parse_args()
    url = copy_seeded(build_seeded(folder), folder)
    engine = make_engine(url)
    with Session(engine) as session:
        ids = [add_subscriber(session, email=f"reader{i}@example.com", companies=["OpenAI"]).id
               for i in range(args.posts)]
        session.commit()
    settings = settings_for(url, folder, web_write_wait=args.wait)
    signer = Pipeline(engine, settings).signer
    links = [f"/unsubscribe/{signer.make('unsubscribe', i)}" for i in ids]
    with LiveServer(create_app(settings, engine)) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(sqlite_path(url))], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"

        def post(link):
            return client.post(link, content=b"List-Unsubscribe=One-Click",
                               headers={"content-type": "application/x-www-form-urlencoded"}).status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(args.posts) as pool:
            codes = Counter(pool.map(post, links))
        elapsed = time.perf_counter() - start
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait()
        released = time.perf_counter()
        done = 0
        while time.perf_counter() - released < 60:
            with Session(engine) as session:
                done = len(session.exec(select(Subscriber.id).where(
                    Subscriber.id.in_(ids), Subscriber.status == "unsubscribed")).all())
            if done == len(ids):
                break
            time.sleep(0.05)
        drained = time.perf_counter() - released
    engine.dispose()
    print(json.dumps({"posts": args.posts, "status_codes": dict(codes), "elapsed_s": round(elapsed, 2),
                      "wait_s": args.wait, "ratio_elapsed_to_wait": round(elapsed / args.wait, 2),
                      "unsubscribed": done, "applied_after_release_s": round(drained, 2)}))


if __name__ == "__main__":
    main()
