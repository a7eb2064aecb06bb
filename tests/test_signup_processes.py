"""The signup limits hold across web processes: two `digest serve` processes on one SQLite file
share the per-client and per-address counts, and a race between them sends one confirmation."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.web_helpers import SECRET, build_seeded, copy_seeded, free_port


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two")
    url = copy_seeded(build_seeded(folder), folder)
    env = {**os.environ, "DIGEST_DATABASE_URL": url, "DIGEST_SECRET_KEY": SECRET, "DIGEST_MAILER": "file",
           "DIGEST_OUTBOX": str(folder / "outbox"), "DIGEST_SIGNUP_LIMIT_IP": "6", "DIGEST_SIGNUP_LIMIT_ADDRESS": "3",
           "DIGEST_STAFF_TOKEN": ""}
    env.pop("DIGEST_CONFIG", None)
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "digest", "serve", "--port", str(port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=folder))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for base, proc in zip(urls, procs):
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/manage", timeout=1)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(proc.stderr.read().decode(errors="replace")) from None
                    time.sleep(0.1)
        yield urls, folder / "outbox"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def test_limits_are_shared_by_two_processes_and_a_race_sends_one_confirmation(servers):
    (first, second), outbox = servers
    # Four requests for one address, two to each process, at once: one confirmation, and the
    # fourth is past the shared per-address limit of 3.
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda base: httpx.post(base + "/subscribe", json={"email": "both@example.org"},
                                                      timeout=30).status_code, [first, second, first, second]))
    assert sorted(codes) == [202, 202, 202, 429]
    assert len(list(Path(outbox).glob("*.eml"))) == 1
    # The per-client limit (6 an hour) counts what both processes saw: 4 so far.
    codes = [httpx.post(base + "/subscribe", json={"email": f"c{i}@example.org"}, timeout=30).status_code
             for i, base in enumerate([second, first, second])]
    refused = httpx.post(first + "/subscribe", json={"email": "late@example.org"}, timeout=30)
    assert codes == [202, 202, 429] and refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
