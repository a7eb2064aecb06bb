"""Benchmark: per-message assembly of a ~60 KB digest, ours against the stdlib EmailMessage, as JSON."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.headerregistry import Address
from pathlib import Path

from digest.message import DkimKey, build_message, make_message_id
from digest.types import Rendered

TARGET_MS = 2.0


def sample(kb: int = 45) -> Rendered:
    """A digest-shaped HTML of about kb KB (about 60 KB as a QP message at 45) and its text twin."""
    row = (
        '<tr><td class="article" style="padding:12px 24px;font-family:Helvetica,Arial,sans-serif;color:#1a1a1a">'
        '<a href="https://amw.example/news/xai-distillation-admission?utm_source=digest&amp;utm_medium=email" '
        'style="color:#0b57d0;font-weight:700">Elon Musk admitted in court that xAI used distillation</a>'
        "<p>Novelty 3/3 — admission overturns prior stance; Significance 2/3. Why: you follow xAI, 바이트댄스.</p></td></tr>\n"
    )
    html = "<!doctype html><html><body><table>" + row * (kb * 1024 // len(row.encode())) + "</table></body></html>"
    text = "".join(f"{i}. Elon Musk admitted in court that xAI used distillation\n   https://amw.example/news/{i}\n\n" for i in range(40))
    return Rendered(subject="Your AMW digest: xAI, OpenAI and 바이트댄스 — 8 stories", preheader="", html=html, text=text, article_count=8)


def ours(r: Rendered, i: int, dkim: DkimKey | None = None) -> bytes:
    return build_message(
        r,
        sender="AMW Digest <digest@amw.example>",
        recipient=f"reader{i}@example.com",
        recipient_name="Ana Kim",
        message_id=make_message_id(str(i), "amw.example"),
        date=datetime(2026, 11, 30, 8, tzinfo=timezone.utc),
        unsubscribe_url=f"https://amw.example/u/token-{i}",
        unsubscribe_mailto="unsubscribe@amw.example",
        list_id="AMW Digest <digest.amw.example>",
        dkim=dkim,
    )


def stdlib(r: Rendered, i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = Address("AMW Digest", addr_spec="digest@amw.example")
    msg["To"] = Address("Ana Kim", addr_spec=f"reader{i}@example.com")
    msg["Subject"] = r.subject
    msg["Date"] = datetime(2026, 11, 30, 8, tzinfo=timezone.utc)
    msg["Message-ID"] = make_message_id(str(i), "amw.example")
    msg["List-Unsubscribe"] = f"<https://amw.example/u/token-{i}>, <mailto:unsubscribe@amw.example?subject=unsubscribe>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = "AMW Digest <digest.amw.example>"
    msg.set_content(r.text, cte="quoted-printable")
    msg.add_alternative(r.html, subtype="html", cte="quoted-printable")
    return msg.as_bytes(policy=policy.SMTP)


def median_ms(fn, r: Rendered, n: int) -> float:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(r, i)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def dkim_key(folder: Path) -> DkimKey | None:
    key = folder / "dkim.pem"
    try:
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return DkimKey.from_pem("bench", "amw.example", key.read_bytes())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=300, help="messages per variant")
    parser.add_argument("--kb", type=int, default=45, help="HTML size in KB")
    args = parser.parse_args(argv)
    r = sample(args.kb)
    for fn in (ours, stdlib):  # warm up imports and caches
        fn(r, 0)
    ours_ms = median_ms(ours, r, args.n)
    stdlib_ms = median_ms(stdlib, r, max(30, args.n // 5))
    with tempfile.TemporaryDirectory() as tmp:
        key = dkim_key(Path(tmp))
        dkim_ms = median_ms(lambda rr, i: ours(rr, i, key), r, max(20, args.n // 10)) if key else None
    result = {
        "message_bytes": len(ours(r, 0)),
        "ours_ms": round(ours_ms, 3),
        "stdlib_ms": round(stdlib_ms, 3),
        "speedup_vs_stdlib": round(stdlib_ms / ours_ms, 1),
        "ours_with_dkim_ms": round(dkim_ms, 3) if dkim_ms else None,
        "target_ms": TARGET_MS,
        "ok": ours_ms <= TARGET_MS,
    }
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
