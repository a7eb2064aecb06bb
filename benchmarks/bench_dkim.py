"""Benchmark: DKIM signing of ~60 KB digests, digest/dkim.py against dkimpy's signer in the same run, as JSON.

Both sides sign the same built messages with the same 2048-bit RSA key, relaxed/relaxed, over the
same header list (dkimpy was the project's signer before digest/dkim.py). Timings interleave the
two signers message by message, so drift on a shared machine hits both alike; the figure that
matters is the ratio dkimpy/ours. Every signature of both sides is checked with dkimpy's verifier
once, outside the timing. The Ed25519-SHA256 second signature is timed on top.

Run: python benchmarks/bench_dkim.py [-n 200] [--kb 45]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dkim  # noqa: E402  (dkimpy: the test extras install it)

from bench_message import ours as build, sample  # noqa: E402

from digest.dkim import DkimKey, sign  # noqa: E402
from digest.message import SIGNED_HEADERS  # noqa: E402

TARGET_MS = 1.0


def _keys(folder: Path) -> tuple[bytes, bytes, dict]:
    rsa, ed = folder / "rsa.pem", folder / "ed.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(rsa)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(ed)], check=True, capture_output=True)
    der = lambda path: subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout", "-outform", "DER"],  # noqa: E731
                                      check=True, capture_output=True).stdout
    records = {b"bench._domainkey.amw.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(der(rsa)),
               b"bench-ed._domainkey.amw.example.": b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der(ed)[-32:])}
    return rsa.read_bytes(), ed.read_bytes(), records


def dkimpy_sign(data: bytes, pem: bytes) -> bytes:
    """What digest/message.py did before digest/dkim.py."""
    return dkim.sign(data, b"bench", b"amw.example", pem, canonicalize=(b"relaxed", b"relaxed"),
                     include_headers=[h.lower().encode("ascii") for h in SIGNED_HEADERS], linesep=b"\r\n") + data


def _verified(signed: bytes, records: dict, count: int) -> bool:
    checker = dkim.DKIM(signed)
    return all(checker.verify(idx=i, dnsfunc=lambda name, timeout=5: records.get(name)) for i in range(count))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="messages signed by each signer")
    parser.add_argument("--kb", type=int, default=45, help="HTML size in KB (45: about 60 KB as a message)")
    args = parser.parse_args(argv)
    rendered = sample(args.kb)
    messages = [build(rendered, i) for i in range(args.n)]
    with tempfile.TemporaryDirectory() as tmp:
        rsa_pem, ed_pem, records = _keys(Path(tmp))
    rsa_only = DkimKey.from_pem("bench", "amw.example", rsa_pem)
    both = DkimKey.from_pem("bench", "amw.example", rsa_pem, ed25519_selector="bench-ed", ed25519_pem=ed_pem)
    assert _verified(sign(messages[0], rsa_only, SIGNED_HEADERS), records, 1)
    assert _verified(sign(messages[0], both, SIGNED_HEADERS), records, 2)
    assert _verified(dkimpy_sign(messages[0], rsa_pem), records, 1)
    timings: dict[str, list[float]] = {"ours": [], "ours_rsa_and_ed25519": [], "dkimpy": []}
    for i, data in enumerate(messages):  # interleaved, the order rotating so no signer always follows dkimpy
        signers = [("ours", lambda: sign(data, rsa_only, SIGNED_HEADERS)),
                   ("ours_rsa_and_ed25519", lambda: sign(data, both, SIGNED_HEADERS)),
                   ("dkimpy", lambda: dkimpy_sign(data, rsa_pem))]
        for name, fn in signers[i % 3:] + signers[:i % 3]:
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    ms = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    result = {
        "messages": args.n,
        "message_bytes": len(messages[0]),
        "ours_ms": round(ms["ours"], 3),
        "ours_rsa_and_ed25519_ms": round(ms["ours_rsa_and_ed25519"], 3),
        "dkimpy_ms": round(ms["dkimpy"], 3),
        "speedup_vs_dkimpy": round(ms["dkimpy"] / ms["ours"], 1),
        "target_ms": TARGET_MS,
        "ok": ms["ours"] <= TARGET_MS,
    }
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
