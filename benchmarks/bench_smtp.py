"""Benchmark: SMTPMailer throughput against a raw smtplib loop, same messages and connections, as JSON.

Both talk to a minimal asyncio SMTP sink running in its own process (aiosmtpd would be the
bottleneck). The figure that matters is the ratio mailer/raw measured in this same run; the target
is at least 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time

TARGET_RATIO = 0.8


# The sink ------------------------------------------------------------------------------------


def run_sink(port: int, pipelining: bool = True) -> None:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.smtp_sink import MinimalSMTP

    protocol = MinimalSMTP if pipelining else type(
        "OneCommandAtATime", (MinimalSMTP,), {"extensions": tuple(e for e in MinimalSMTP.extensions if e != b"PIPELINING")})

    async def serve():
        server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The clients ---------------------------------------------------------------------------------


def build_messages(n: int):
    from datetime import datetime, timezone

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from bench_message import sample

    from digest.message import build_message, make_message_id
    from digest.types import Outgoing

    r = sample(45)
    out = []
    for i in range(n):
        mid = make_message_id(str(i), "amw.example")
        recipient = f"reader{i}@example.com"
        data = build_message(
            r,
            sender="AMW Digest <digest@amw.example>",
            recipient=recipient,
            recipient_name="Reader",
            message_id=mid,
            date=datetime(2026, 11, 30, 8, tzinfo=timezone.utc),
            unsubscribe_url=f"https://amw.example/u/{i}",
            unsubscribe_mailto="unsubscribe@amw.example",
            list_id="AMW Digest <digest.amw.example>",
        )
        out.append(Outgoing(key=str(i), sender="digest@amw.example", recipient=recipient, data=data, message_id=mid))
    return out


def raw_smtplib(port: int, messages, connections: int) -> float:
    """Messages per second for a plain smtplib.sendmail loop, one thread per connection."""

    def worker(chunk):
        smtp = smtplib.SMTP("127.0.0.1", port, local_hostname="bench", timeout=30)
        for m in chunk:
            smtp.sendmail(m.sender, [m.recipient], m.data)
        smtp.quit()

    chunks = [messages[i::connections] for i in range(connections)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(messages) / (time.perf_counter() - start)


def mailer(port: int, messages, connections: int) -> float:
    from digest.mailers.smtp import SMTPMailer
    from digest.types import Outcome

    m = SMTPMailer("127.0.0.1", port, connections=connections, helo="bench", timeout=30)
    start = time.perf_counter()
    with m:
        results = m.send_messages(messages)
    elapsed = time.perf_counter() - start
    assert all(r.status == Outcome.SENT for r in results), {r.status for r in results}
    return len(messages) / elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="messages per run")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-pipelining", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink:
        run_sink(args.sink, pipelining=not args.no_pipelining)
        return 0
    # Two sinks: one offers PIPELINING (as real servers do), one makes the mailer send one command
    # at a time, so the gain of pipelining is measured in the same run.
    port, plain_port = free_port(), free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)], stdout=subprocess.PIPE, text=True)
    plain_sink = subprocess.Popen([sys.executable, __file__, "--sink", str(plain_port), "--no-pipelining"],
                                  stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout.readline().strip() == "ready"
        assert plain_sink.stdout.readline().strip() == "ready"
        messages = build_messages(args.n)
        report = {"messages": args.n, "message_bytes": len(messages[0].data), "target_ratio": TARGET_RATIO, "runs": []}
        ok = True
        for connections in args.connections:
            raw_rates, ours_rates, plain_rates = [], [], []
            for _ in range(args.repeat):  # interleaved, so drift on a noisy machine hits all alike
                raw_rates.append(raw_smtplib(port, messages, connections))
                ours_rates.append(mailer(port, messages, connections))
                plain_rates.append(mailer(plain_port, messages, connections))
            raw, ours, plain = (statistics.median(r) for r in (raw_rates, ours_rates, plain_rates))
            ratio = ours / raw
            ok = ok and ratio >= TARGET_RATIO
            report["runs"].append({"connections": connections, "raw_per_s": round(raw), "mailer_per_s": round(ours),
                                   "mailer_without_pipelining_per_s": round(plain), "ratio": round(ratio, 2),
                                   "pipelining_gain": round(ours / plain, 2)})
        report["ok"] = ok
        print(json.dumps(report))
        return 0 if ok else 1
    finally:
        for process in (sink, plain_sink):
            process.terminate()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
