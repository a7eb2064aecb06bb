"""DKIM (digest/dkim.py): every signature the project makes verifies with dkimpy, for RSA and Ed25519.

The keys are made by the openssl command line, not by the code under test, and dkimpy (an
independent implementation) verifies through a dnsfunc that serves the public key records.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from digest.config import Settings, load_settings
from digest.dkim import DkimKey, canonical_body, canonical_header, sign
from digest.errors import ConfigError
from digest.message import SIGNED_HEADERS, build_message, make_message_id
from digest.types import Rendered
from tests.conftest import ROOT

DOMAIN = "amw.example"


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dkim")
    rsa_key, ed_key = folder / "rsa.pem", folder / "ed25519.pem"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(rsa_key))
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(ed_key))
    rsa_der = _openssl("pkey", "-in", str(rsa_key), "-pubout", "-outform", "DER")
    ed_der = _openssl("pkey", "-in", str(ed_key), "-pubout", "-outform", "DER")
    records = {
        b"rsa2026._domainkey.amw.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_der),
        # RFC 8463: the record holds the raw 32-byte key, the end of the DER SubjectPublicKeyInfo.
        b"ed2026._domainkey.amw.example.": b"v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_der[-32:]),
    }
    return rsa_key, ed_key, records


def _settings(rsa_key=None, ed_key=None, **changes) -> Settings:
    values = dict(dkim_selector="rsa2026", dkim_domain=DOMAIN, dkim_private_key=str(rsa_key) if rsa_key else None)
    if ed_key:
        values.update(dkim_ed25519_selector="ed2026", dkim_ed25519_key=str(ed_key))
    values.update(changes)
    return Settings().replace(**values)


@pytest.fixture(scope="module")
def both(keys):
    rsa_key, ed_key, _ = keys
    return DkimKey.from_settings(_settings(rsa_key, ed_key))


def _dns(records):
    def lookup(name, timeout=5):
        return records.get(name)

    return lookup


def verify_all(data: bytes, records) -> list[bool]:
    """dkimpy's verdict on every DKIM-Signature of the message, in order."""
    count = len(re.findall(rb"(?im)^dkim-signature:", data.split(b"\r\n\r\n", 1)[0]))
    checker = dkim.DKIM(data)
    verdicts = []
    for i in range(count):
        try:
            verdicts.append(checker.verify(idx=i, dnsfunc=_dns(records)))
        except dkim.DKIMException:  # a body hash mismatch is raised, not returned
            verdicts.append(False)
    return verdicts


def _algorithms(data: bytes) -> list[str]:
    return re.findall(r"a=([\w-]+);", data.split(b"\r\n\r\n", 1)[0].decode())


def _build(subject="Your AMW digest", name="Ana Kim", text="Hello\n", html="<p>Hello</p>", key=None) -> bytes:
    return build_message(
        Rendered(subject=subject, preheader="", html=html, text=text, article_count=1),
        sender="AMW Digest <digest@amw.example>", recipient="ana@example.com", recipient_name=name,
        message_id=make_message_id("7", DOMAIN), date=datetime(2026, 12, 6, 8, 0),
        unsubscribe_url="https://amw.example/u/tok", unsubscribe_mailto="unsubscribe@amw.example",
        list_id="AMW Digest <digest.amw.example>", dkim=key,
    )


HOSTILE_BUILT = {
    "folded subject": dict(subject="A subject long enough to be folded at spaces " * 4),
    "non-ascii subject and name": dict(subject="Signed digest — 바이트댄스 ünïcode", name="Zoë 바이트댄스 \"Desk\""),
    "encoded-word lookalike name": dict(name="=?utf-8?q?not_encoded?= Ana", subject="=?utf-8?b?AAAA?= text"),
    "trailing whitespace and tab runs": dict(text="line with spaces   \n\ttabbed\t\tline \t\n\n\n", html="<p>a  \t b</p>   \n"),
    "empty body": dict(text="", html=""),
    "long lines": dict(text="x" * 5000 + "\n" + "word " * 2000, html="<p>" + "y" * 20000 + "</p>"),
    "body without a final line break": dict(text="no newline at the end", html="<b>end</b>"),
}


@pytest.mark.parametrize("case", HOSTILE_BUILT, ids=list(HOSTILE_BUILT))
def test_built_messages_verify_for_both_algorithms(both, keys, case):
    data = _build(key=both, **HOSTILE_BUILT[case])
    assert _algorithms(data) == ["rsa-sha256", "ed25519-sha256"]
    assert verify_all(data, keys[2]) == [True, True]


RAW = {
    "duplicate subject and to": (b"From: a@amw.example\r\nSubject: first\r\nTo: x@example.com\r\n"
                                 b"Subject: second\r\nTo: y@example.com\r\n\r\nbody\r\n"),
    "folded with tabs and trailing space": (b"From:  Ana \t <a@amw.example>  \r\nSubject: one\r\n\t two  \r\n   three \r\n"
                                            b"Date: Sun, 6 Dec 2026 08:00:00 +0000\r\n\r\nbody\r\n"),
    "utf-8 header bytes": "From: Zoë <zoë@amw.example>\r\nSubject: 바이트댄스\r\n\r\nbody\r\n".encode(),
    "empty body": b"From: a@amw.example\r\nSubject: s\r\n\r\n",
    "body of blank lines": b"From: a@amw.example\r\nSubject: s\r\n\r\n\r\n\r\n \r\n\t\r\n",
    "body without final crlf": b"From: a@amw.example\r\nSubject: s\r\n\r\nlast line  \t",
    "long lines and whitespace runs": b"From: a@amw.example\r\nSubject: s\r\n\r\n" + b"z" * 3000 + b"  \t  \r\n" + b"a \t b\r\n" * 500,
    "no blank line after the headers": b"From: a@amw.example\r\nSubject: s\r\n",
    "unsigned headers around the signed ones": (b"Received: from x by y;\r\n Sun, 6 Dec 2026\r\nFrom: a@amw.example\r\n"
                                                b"X-Mailer: z\r\nSubject: s\r\nReply-To: r@amw.example\r\n\r\nbody\r\n"),
}


@pytest.mark.parametrize("case", RAW, ids=list(RAW))
def test_hostile_raw_messages_verify_for_both_algorithms(both, keys, case):
    data = sign(RAW[case], both, SIGNED_HEADERS)
    assert verify_all(data, keys[2]) == [True, True]


def test_every_instance_of_a_duplicate_header_is_signed_bottom_up(both, keys):
    data = sign(RAW["duplicate subject and to"], both, SIGNED_HEADERS)
    assert re.search(rb"h=from:to:to:subject:subject:", data.replace(b"\r\n ", b""))
    # The upper (first) instance is covered too: changing it breaks both signatures.
    assert verify_all(data.replace(b"Subject: first", b"Subject: FIRST"), keys[2]) == [False, False]
    assert verify_all(data.replace(b"Subject: second", b"Subject: SECOND"), keys[2]) == [False, False]


def test_tampering_breaks_the_signatures(both, keys):
    data = _build(key=both, subject="Original subject")
    records = keys[2]
    for changed in (
        data.replace(b"Subject: Original subject", b"Subject: Changed subject"),
        data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: List-Unsubscribe=Two"),
        data.replace(b"<p>Hello</p>", b"<p>Hellp</p>"),
        data + b"appended\r\n",
        # A second Date below the signed one: verifiers take the bottom instance.
        re.sub(rb"(?m)^(Date: [^\r]*\r\n)", rb"\1Date: Mon, 7 Dec 2026 08:00:00 +0000\r\n", data, count=1),
    ):
        assert verify_all(changed, records) == [False, False]
    # A header listed in h= but absent when signed breaks the signature when added anywhere.
    raw = sign(RAW["empty body"], both, SIGNED_HEADERS)
    assert verify_all(raw, records) == [True, True]
    assert verify_all(raw.replace(b"From: a@", b"List-Id: <other.example>\r\nFrom: a@"), records) == [False, False]
    # Whitespace changes that relaxed canonicalization allows keep both valid.
    relaxed = data.replace(b"Subject: Original subject", b"Subject:   Original \t subject  ").replace(b"<p>Hello</p>", b"<p>Hello</p> \t ")
    assert verify_all(relaxed, records) == [True, True]


def test_only_rsa_when_no_ed25519_key_and_fields_as_configured(keys):
    rsa_key, _, records = keys
    key = DkimKey.from_settings(_settings(rsa_key))
    data = sign(RAW["duplicate subject and to"], key, SIGNED_HEADERS, now=1796000000)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert _algorithms(data) == ["rsa-sha256"] and verify_all(data, records) == [True]
    unfolded = head.replace("\r\n ", " ")
    assert "d=amw.example;" in unfolded and "s=rsa2026;" in unfolded and "t=1796000000;" in unfolded
    assert "c=relaxed/relaxed;" in unfolded
    # Absent listed headers appear once (a later addition breaks the signature); present ones per instance.
    listed = re.search(r"h=([^;]+);", head.replace("\r\n ", "")).group(1).split(":")
    assert listed == ["from", "to", "to", "subject", "subject", "date", "message-id", "list-unsubscribe",
                      "list-unsubscribe-post", "list-id", "mime-version", "content-type"]
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    stamp = int(re.search(r"t=(\d+);", _build(key=key).decode()).group(1))
    assert abs(stamp - time.time()) < 600


def test_the_key_is_loaded_once_not_per_message(tmp_path, keys):
    rsa_key, ed_key, records = keys
    copies = [tmp_path / "rsa.pem", tmp_path / "ed.pem"]
    for source, copy in zip((rsa_key, ed_key), copies):
        copy.write_bytes(source.read_bytes())
    key = DkimKey.from_settings(_settings(copies[0], copies[1]))
    for copy in copies:
        copy.unlink()  # signing must not read the files again
    assert verify_all(_build(key=key), records) == [True, True]


def test_the_key_survives_pickling_for_another_process(both, keys):
    import pickle

    copy = pickle.loads(pickle.dumps(both))
    assert (copy.selector, copy.domain, copy.ed25519_selector) == ("rsa2026", DOMAIN, "ed2026")
    assert verify_all(_build(key=copy), keys[2]) == [True, True]


def test_partial_or_wrong_configuration_is_a_clear_config_error(tmp_path, keys):
    rsa_key, ed_key, _ = keys
    assert DkimKey.from_settings(Settings()) is None
    cases = [
        (_settings(rsa_key, dkim_ed25519_key=str(ed_key)), "needs both DIGEST_DKIM_ED25519_SELECTOR and DIGEST_DKIM_ED25519_KEY"),
        (_settings(rsa_key, dkim_ed25519_selector="ed2026"), "needs both DIGEST_DKIM_ED25519_SELECTOR and DIGEST_DKIM_ED25519_KEY"),
        (_settings(None, ed_key), "DKIM needs all of DIGEST_DKIM_SELECTOR, DIGEST_DKIM_DOMAIN and DIGEST_DKIM_PRIVATE_KEY"),
        (_settings(rsa_key, ed_key, dkim_ed25519_selector="rsa2026"), "must differ from DIGEST_DKIM_SELECTOR"),
        (_settings(rsa_key, ed_key, dkim_ed25519_key=str(tmp_path / "missing.pem")), "DIGEST_DKIM_ED25519_KEY: cannot read"),
        (_settings(rsa_key, rsa_key), "DIGEST_DKIM_ED25519_KEY: .*not an Ed25519 private key"),
        (_settings(ed_key), "DIGEST_DKIM_PRIVATE_KEY: .*not an RSA private key"),
    ]
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
    cases.append((_settings(rsa_key, garbage), "DIGEST_DKIM_ED25519_KEY: .*not a usable PEM private key"))
    public = tmp_path / "public.pem"
    public.write_bytes(_openssl("pkey", "-in", str(ed_key), "-pubout"))
    cases.append((_settings(rsa_key, public), "DIGEST_DKIM_ED25519_KEY: .*not a PEM private key"))
    for settings, message in cases:
        with pytest.raises(ConfigError, match=message):
            DkimKey.from_settings(settings)


def test_the_ed25519_settings_are_read_from_the_environment(tmp_path, keys):
    rsa_key, ed_key, _ = keys
    settings = load_settings({"DIGEST_DKIM_SELECTOR": "rsa2026", "DIGEST_DKIM_DOMAIN": DOMAIN,
                              "DIGEST_DKIM_PRIVATE_KEY": str(rsa_key), "DIGEST_DKIM_ED25519_SELECTOR": "ed2026",
                              "DIGEST_DKIM_ED25519_KEY": str(ed_key), "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})
    assert (settings.dkim_ed25519_selector, settings.dkim_ed25519_key) == ("ed2026", str(ed_key))
    with pytest.raises(ConfigError, match="DIGEST_DKIM_ED25519_SELECTOR"):
        load_settings({"DIGEST_DKIM_ED25519_SELECTOR": "two words", "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})


# Canonicalization against dkimpy's own functions ------------------------------------------------

_BODY_PIECES = st.sampled_from([b"a", b"word", b" ", b"  ", b"\t", b" \t ", b"\r\n", b"\r\n\r\n", b"\r", b"\n",
                                b"=", b"\xc3\xa9", b"\x00", b"\x0b", b"\x0c", b"."])
_HEADER_PIECES = st.sampled_from([b"a", b"Word", b" ", b"  ", b"\t", b"\r\n ", b"\r\n\t", b"\r\n  \t", b";", b":",
                                  b"=?utf-8?b?w6k=?=", b"\xc3\xa9", b"<x@y>", b"\""])


@hsettings(max_examples=400, deadline=None)
@given(st.lists(_BODY_PIECES, max_size=60).map(b"".join))
def test_body_canonicalization_matches_dkimpy(body):
    assert canonical_body(body) == Relaxed.canonicalize_body(body)


@hsettings(max_examples=400, deadline=None)
@given(st.from_regex(rb"\A[\x21-\x39\x3b-\x7e]{1,20}\Z", fullmatch=True), st.lists(_HEADER_PIECES, max_size=30).map(b"".join))
def test_header_canonicalization_matches_dkimpy(name, value):
    [(cname, cvalue)] = Relaxed.canonicalize_headers([(name, value + b"\r\n")])
    assert canonical_header(name, value) == cname + b":" + cvalue


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=st.lists(_HEADER_PIECES.filter(lambda p: b"\r\n" not in p) | st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8).map(str.encode), max_size=12).map(b"".join),
    body=st.lists(_BODY_PIECES.filter(lambda p: p not in (b"\r", b"\n")), max_size=80).map(b"".join),
    extra=st.lists(st.sampled_from(["From", "To", "Subject", "Date", "List-Id"]), max_size=3),
)
def test_random_messages_verify_for_both_algorithms(both, keys, subject, body, extra):
    head = b"From: Ana <a@amw.example>\r\nTo: b@example.com\r\nSubject: " + subject + b"\r\n"
    head += b"".join(name.encode() + b": extra  value \r\n" for name in extra)
    data = sign(head + b"\r\n" + body, both, SIGNED_HEADERS)
    assert verify_all(data, keys[2]) == [True, True]


# Through the real `digest` command ----------------------------------------------------------------


def test_every_message_of_a_real_send_carries_both_signatures_and_they_verify(tmp_path, keys):
    rsa_key, ed_key, records = keys
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=f"sqlite:///{tmp_path / 'digest.db'}", DIGEST_OUTBOX=str(tmp_path / "outbox"),
               DIGEST_SECRET_KEY="k", DIGEST_MAILER="file", DIGEST_GRACE_HOURS="48",
               DIGEST_DKIM_SELECTOR="rsa2026", DIGEST_DKIM_DOMAIN=DOMAIN, DIGEST_DKIM_PRIVATE_KEY=str(rsa_key),
               DIGEST_DKIM_ED25519_SELECTOR="ed2026", DIGEST_DKIM_ED25519_KEY=str(ed_key))

    def digest(*args, environ=env):
        return subprocess.run([sys.executable, "-m", "digest", *args], env=environ, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)

    for args in (["init"], ["ingest", str(ROOT / "seeds/articles.jsonl")],
                 ["subscribers", "import", str(ROOT / "seeds/subscribers.csv")]):
        assert digest(*args).returncode == 0
    # A wrong key stops the send before anything is claimed, with what to fix.
    wrong = digest("send", "--due", "--as-of", "2026-11-23T20:00:00Z", environ={**env, "DIGEST_DKIM_ED25519_KEY": str(rsa_key)})
    assert wrong.returncode == 2 and "DIGEST_DKIM_ED25519_KEY" in wrong.stderr and "not an Ed25519 private key" in wrong.stderr
    assert not (tmp_path / "outbox").exists()
    proc = digest("send", "--due", "--as-of", "2026-11-23T20:00:00Z", "--json")
    assert proc.returncode == 0, proc.stderr
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert files and len(files) == json.loads(proc.stdout)["sent"]
    for path in files:
        data = path.read_bytes()
        assert _algorithms(data) == ["rsa-sha256", "ed25519-sha256"], path.name
        assert verify_all(data, records) == [True, True], path.name
