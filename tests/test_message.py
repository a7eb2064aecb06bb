"""Message building: every built message parses back, with the standard parser, to what went in."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import datetime, timedelta, timezone
import email
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser, Parser
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from digest.config import Settings
from digest.errors import ConfigError, DigestError
from digest.message import DkimKey, MessageError, build_message, make_message_id, needs_smtputf8, split_address
from digest.types import Rendered

DATE = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=9)))
HTML = (
    "<!doctype html><html><head><style>@media (max-width:480px){.c{width:100%!important}}</style></head><body>"
    + "".join(
        f'<tr><td class="c" style="padding:8px;color:#333">Article {i}: xAI admitted distillation — 바이트댄스, '
        f'Novelty 3/3 &amp; Significance 2/3 = "high". <a href="https://amw.example/news/{i}?a=1&amp;b=2">Read</a></td></tr>\n'
        for i in range(300)
    )
    + "</body></html>"
)
TEXT = "Your AMW digest\n\n" + "".join(f"{i}. A title that is long enough to wrap — ünïcode too\n   https://amw.example/news/{i}\n" for i in range(40)) + ".\n..leading dots\nFrom the editors \n"


def rendered(subject="Your AMW digest: xAI, OpenAI", html=HTML, text=TEXT) -> Rendered:
    return Rendered(subject=subject, preheader="", html=html, text=text, article_count=8)


def build(r: Rendered | None = None, **overrides) -> bytes:
    args = dict(
        sender="AMW Digest <digest@amw.example>",
        recipient="ana@example.com",
        recipient_name="Ana Kim",
        message_id=make_message_id("42", "amw.example"),
        date=DATE,
        unsubscribe_url="https://amw.example/u/eyJ0.abc-def_ghi",
        unsubscribe_mailto="unsubscribe@amw.example",
        list_id="AMW Digest <digest.amw.example>",
    )
    args.update(overrides)
    return build_message(r or rendered(), **args)


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def bodies(msg) -> list[tuple[str, str]]:
    # Line ends on the wire are CRLF; the parser hands them back as they came.
    return [(p.get_content_type(), p.get_content().replace("\r\n", "\n")) for p in msg.iter_parts()]


def test_built_message_parses_back_to_the_same_headers_and_both_bodies():
    r = rendered(subject="Your AMW digest: xAI, OpenAI and 바이트댄스 — 8 stories")
    msg = parse(build(r, recipient_name="Ana Kim (바이트댄스 desk)"))
    assert str(msg["Subject"]) == r.subject
    assert msg["From"].addresses[0].display_name == "AMW Digest"
    assert msg["From"].addresses[0].addr_spec == "digest@amw.example"
    assert [a.addr_spec for a in msg["To"].addresses] == ["ana@example.com"]
    assert msg["To"].addresses[0].display_name == "Ana Kim (바이트댄스 desk)"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<digest.42@amw.example>"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    (text_type, text), (html_type, html) = bodies(msg)
    assert (text_type, text) == ("text/plain", TEXT)
    assert html_type == "text/html" and unescape(html) == unescape(HTML)
    assert not msg.defects and all(not p.defects for p in msg.iter_parts())


def test_the_html_part_is_ascii_quoted_printable_with_non_ascii_text_as_character_references():
    html = "<p title=\"바이트댄스 — 8\">" + "Ünïcode … 百度 = " * 40 + "end </p>\n<p>trailing space \n</p>"
    data = build(rendered(html=html))
    raw_part = data.split(b"Content-Type: text/html", 1)[1]
    assert raw_part.isascii()
    assert max(len(line) for line in raw_part.split(b"\r\n")) <= 76
    sent = bodies(parse(data))[1][1]
    refs = "".join(f"&#{ord(c)};" for c in "바이트댄스")
    assert f'title="{refs} &#8212; 8"' in sent and "&#8230;" in sent
    assert unescape(sent) == html
    # A C1 control would read as Windows-1252 in a reference (&#128; is the euro sign): such a
    # body keeps its UTF-8 bytes instead.
    assert bodies(parse(build(rendered(html="<p>a\x80b é</p>"))))[1][1] == "<p>a\x80b é</p>"


def test_text_part_comes_first_and_html_second_both_utf8():
    parts = list(parse(build()).iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]


def test_list_headers_carry_one_https_url_one_mailto_and_one_click_post():
    msg = parse(build())
    targets = re.findall(r"<([^>]*)>", str(msg["List-Unsubscribe"]))
    assert targets == ["https://amw.example/u/eyJ0.abc-def_ghi", "mailto:unsubscribe@amw.example?subject=unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(msg["List-Id"]) == "AMW Digest <digest.amw.example>"


def test_every_line_ends_in_crlf_and_stays_within_78_characters():
    r = rendered(subject="word " * 40 + "바이트댄스 " * 20)
    data = build(r, recipient_name="N" * 30 + " " + "Kim " * 20)
    assert data.count(b"\n") == data.count(b"\r\n")
    assert b"\r\r" not in data
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert str(parse(data)["Subject"]) == r.subject.strip()


def test_same_ledger_row_builds_identical_bytes_and_other_rows_get_other_ids():
    assert build() == build()
    assert make_message_id("42", "amw.example") == make_message_id("42", "amw.example")
    ids = {make_message_id(k, "amw.example") for k in ["42", "43", "4:2", "4=3A2", "4-2", "4_2", "4.2", "ü"]}
    assert len(ids) == 8
    for mid in ids:
        assert re.fullmatch(r"<digest\.[A-Za-z0-9_=-]+@amw\.example>", mid)


def test_line_breaks_in_subject_and_names_cannot_add_headers():
    evil = "Hello\r\nBcc: victim@example.com\r\n\r\nbody"
    data = build(
        rendered(subject=evil),
        recipient_name="Ana\nBcc: victim@example.com",
        list_id="List\r\nX-Evil: 1 <digest.amw.example>",
        unsubscribe_url="https://amw.example/u/x\r\nBcc: victim@example.com",
        unsubscribe_mailto="u@amw.example\r\nX-Evil: 1",
    )
    msg = parse(data)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert str(msg["Subject"]) == "Hello Bcc: victim@example.com body"
    assert msg["To"].addresses[0].display_name == "Ana Bcc: victim@example.com"
    head = data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Evil):", head, re.M | re.I)


def test_a_sender_with_a_line_break_is_rejected_not_sent():
    with pytest.raises(MessageError):
        build(sender="Evil\r\nBcc: x@example.com <digest@amw.example>")


@pytest.mark.parametrize("bad", ["ana@example.com\r\nBcc: x@example.com", "not an address", "a@b@c", "<ana@example.com>", ""])
def test_a_recipient_that_is_not_one_plain_address_is_rejected(bad):
    with pytest.raises(MessageError) as info:
        build(recipient=bad)
    assert isinstance(info.value, DigestError)


def test_sender_may_be_name_and_address_or_a_bare_address():
    assert split_address("AMW Digest <digest@localhost>") == ("AMW Digest", "digest@localhost")
    assert split_address('"Kim, Ana" <a@b.c>') == ("Kim, Ana", "a@b.c")
    assert split_address("digest@localhost") == ("", "digest@localhost")
    msg = parse(build(sender="digest@amw.example", recipient_name=""))
    assert str(msg["From"]) == "digest@amw.example" and str(msg["To"]) == "ana@example.com"


def test_non_ascii_address_is_written_as_utf8_and_flagged_for_smtputf8():
    assert needs_smtputf8("jösé@example.com") and not needs_smtputf8("jose@example.com")
    # RFC 6532: raw UTF-8 in the header; the stdlib byte parser cannot decode it, the text one can.
    msg = Parser(policy=policy.SMTPUTF8).parsestr(build(recipient="jösé@example.com").decode("utf-8"))
    assert msg["To"].addresses[0].addr_spec == "jösé@example.com"


def test_naive_date_is_taken_as_utc():
    msg = parse(build(date=datetime(2026, 11, 30, 8, 0)))
    assert msg["Date"].datetime == datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


def test_subject_that_looks_like_an_encoded_word_comes_back_literally():
    r = rendered(subject="=?utf-8?b?SGk=?= is not Hi")
    assert str(parse(build(r))["Subject"]) == r.subject


def display_name(data: bytes, msg) -> str:
    """The To display name. Between encoded words the RFC says whitespace is dropped, but the
    stdlib address parser inserts a space (its own generator's output does not round-trip either),
    so encoded names are decoded with the RFC-conformant email.header.decode_header."""
    raw = email.message_from_bytes(data)["To"]
    if "=?" not in raw:
        return msg["To"].addresses[0].display_name
    return str(make_header(decode_header(raw.rsplit("<", 1)[0].strip())))


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200), name=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=80), html=_text, text=_text)
def test_any_subject_name_and_bodies_round_trip_through_the_standard_parser(subject, name, html, text):
    data = build(rendered(subject=subject, html=html, text=text), recipient_name=name)
    assert data.count(b"\n") == data.count(b"\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    msg = parse(data)
    assert str(msg["Subject"]) == re.sub(r"[\x85]", " ", subject).strip()
    assert msg["To"].addresses[0].addr_spec == "ana@example.com"
    assert display_name(data, msg) == " ".join(name.split())
    normalize = lambda s: s.replace("\r\n", "\n").replace("\r", "\n")  # noqa: E731
    (text_type, text_body), (html_type, html_body) = bodies(msg)
    assert (text_type, text_body) == ("text/plain", normalize(text))
    # The HTML part carries non-ASCII characters as character references: the same document.
    assert html_type == "text/html" and unescape(html_body) == unescape(normalize(html))


# DKIM ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    return key, record


class _DkimSettings:
    def __init__(self, key):
        self.dkim_selector, self.dkim_domain, self.dkim_private_key = "s2026", "amw.example", str(key)
        self.dkim_ed25519_selector = self.dkim_ed25519_key = None


def _dns(record):
    def lookup(name, timeout=5):
        return record if name == b"s2026._domainkey.amw.example." else None

    return lookup


def test_dkim_signature_verifies_and_covers_from_subject_date_and_list_headers(dkim_keys):
    import dkim

    key, record = dkim_keys
    data = build(rendered(subject="Signed digest — 바이트댄스"), dkim=DkimKey.from_settings(_DkimSettings(key)))
    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(data, dnsfunc=_dns(record))
    signed = parse(data)["DKIM-Signature"]
    covered = {h.strip().lower() for h in re.search(r"h=([^;]+)", re.sub(r"\s+", "", str(signed))).group(1).split(":")}
    assert {"from", "subject", "date", "list-unsubscribe", "list-unsubscribe-post"} <= covered
    # Changing a covered header breaks the signature: the check above is not vacuous.
    tampered = data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click")
    assert not dkim.verify(tampered, dnsfunc=_dns(record))


def test_dkim_key_is_none_when_unset_and_a_config_error_when_half_set(tmp_path):
    assert DkimKey.from_settings(Settings()) is None
    half = _DkimSettings(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="DKIM_PRIVATE_KEY"):
        DkimKey.from_settings(half)
    half.dkim_selector = None
    with pytest.raises(ConfigError, match="DKIM needs all"):
        DkimKey.from_settings(half)


@hsettings(max_examples=200, deadline=None)
@given(html=st.text(st.sampled_from(list("ab =\t.\r\n<>&;#x") + ["é", "中", "…", "\x7f", "\x85"]), max_size=600))
def test_the_html_part_keeps_every_quoted_printable_line_within_76_octets_and_decodes_exactly(html):
    import quopri

    from digest.message import _html_body

    encoded = _html_body(html)
    lines = encoded.split(b"\r\n")
    controls = "\x7f" in html or "\x85" in html  # these keep their UTF-8 bytes (binascii.b2a_qp)
    # (b2a_qp can end a line at 77-78 octets when it escapes a tab there; render.clean strips
    # control characters, so only the character-reference path carries real digests.)
    assert encoded.isascii() and (controls or all(len(line) <= 76 for line in lines))
    assert b"\n" not in encoded.replace(b"\r\n", b"") and b"\r" not in encoded.replace(b"\r\n", b"")
    assert not any(line.endswith((b" ", b"\t")) for line in lines)
    decoded = quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode("utf-8")
    normalized = html.replace("\r\n", "\n").replace("\r", "\n")
    if controls:
        assert decoded == normalized
    else:
        assert decoded == normalized.encode("ascii", "xmlcharrefreplace").decode("ascii")
