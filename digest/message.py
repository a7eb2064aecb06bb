"""Build standards-correct digest messages as CRLF bytes, fast, with no header injection possible."""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import quote

from .dkim import DkimKey, canonical_lines
from .dkim import sign as _sign_dkim
from .errors import DeliveryError
from .text import LINE_BREAKS, cut, header_text
from .types import EncodedParts, Rendered

__all__ = [
    "BuiltMessage",
    "DkimKey",
    "MessageError",
    "build_message",
    "make_message_id",
    "needs_smtputf8",
    "part_lines",
    "split_address",
]

SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "MIME-Version",
    "Content-Type",
)


class BuiltMessage(bytes):
    """The bytes build_message wrote: every line ends in CRLF, with no bare CR or LF anywhere, so a
    mailer can send them without checking (about 0.15 ms for a 60 KB message)."""

    __slots__ = ()


class MessageError(DeliveryError):
    """A value cannot be put into a message (an address that is not an address, say)."""


# Characters that may stand in a display name without quoting (RFC 5322 atext plus space).
_ATEXT_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\- ]*")
_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")
_NAME_ADDR = re.compile(r"^(.*?)\s*<([^<>]*)>\s*$", re.S)
_ID_SAFE = re.compile(r"[A-Za-z0-9_-]")
_MAX_WORD_BYTES = 39  # 39 bytes -> 52 base64 chars -> a 64-char encoded word: lines stay under 78
_MAX_LINE = 76


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 encoded words, cut between characters so none exceeds its length limit."""
    words = cut(text, _MAX_WORD_BYTES, lambda ch: len(ch.encode("utf-8", "surrogatepass")))
    return ["=?utf-8?b?" + binascii.b2a_base64(w.encode("utf-8"), newline=False).decode("ascii") + "?=" for w in words]


def _needs_encoding(text: str) -> bool:
    # "=?" would be decoded by readers as an encoded word, so text containing it is encoded too.
    return not text.isascii() or "=?" in text or any(len(w) > 70 for w in text.split(" "))


def _unstructured(name: str, text: str) -> str:
    """A header line (without CRLF) for free text such as Subject, folded at spaces."""
    text = header_text(text)
    if _needs_encoding(text):
        return name + ": " + "\r\n ".join(_encoded_words(text))
    return name + ": " + _fold_at_spaces(text, len(name) + 2)


def _fold_at_spaces(text: str, used: int) -> str:
    if used + len(text) <= _MAX_LINE:
        return text
    words = text.split(" ")
    lines, width = [words[0]], used + len(words[0])
    for word in words[1:]:
        # A fold is CRLF put before a space, so unfolding restores the text exactly; never fold
        # before an empty word, which would leave a line of whitespace only.
        if word and lines[-1].strip() and width + 1 + len(word) > _MAX_LINE:
            lines.append(word)
            width = 1 + len(word)
        else:
            lines[-1] += " " + word
            width += 1 + len(word)
    return "\r\n ".join(lines)


def _phrase(name: str) -> list[str]:
    """A display name as header tokens: atoms, a quoted string, or encoded words."""
    # Readers collapse whitespace runs in encoded display names anyway; collapsing here keeps the
    # name identical however it ends up encoded.
    name = " ".join(header_text(name).split())
    if not name:
        return []
    if _needs_encoding(name):
        return _encoded_words(name)
    if _ATEXT_PHRASE.fullmatch(name) and "  " not in name:
        return [name]
    return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']


def _check_address(address: str, what: str) -> str:
    address = address.strip()
    if LINE_BREAKS.search(address) or not _ADDRESS.fullmatch(address):
        raise MessageError(f"{what}: not a usable email address: {address!r}")
    return address


def split_address(value: str) -> tuple[str, str]:
    """Split 'Name <addr>' (or a bare address) into (name, address); raises MessageError."""
    if LINE_BREAKS.search(value.strip()):
        raise MessageError(f"address contains a line break or control character: {value!r}")
    match = _NAME_ADDR.match(value)
    if match:
        name, address = match.group(1).strip(), match.group(2)
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return name, _check_address(address, "address")
    return "", _check_address(value, "address")


def needs_smtputf8(address: str) -> bool:
    """Whether sending to (or from) this address needs the SMTPUTF8 extension."""
    return not address.isascii()


def _mailbox(name: str, address: str, header: str) -> str:
    return f"{header}: " + _fold_at_spaces(" ".join(_phrase(name) + [f"<{address}>"]) if name.strip() else address, len(header) + 2)


# Printable ASCII that may stay literal in a URL inside <...>; the rest is percent-encoded.
_URL_SAFE = "".join(chr(c) for c in range(33, 127) if chr(c) not in '<>",\\ ')


def _url(value: str) -> str:
    # Percent-encoding every control character makes a CR/LF in a URL inert instead of a new header.
    return quote(value.strip(), safe=_URL_SAFE + "%")


def _list_id(value: str) -> str:
    value = header_text(value)
    match = _NAME_ADDR.match(value)
    name, ident = (match.group(1), match.group(2)) if match else ("", value)
    ident = re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]", "-", ident.strip()).strip(".") or "digest.invalid"
    tokens = _phrase(name.strip().strip('"'))
    return "List-Id: " + _fold_at_spaces(" ".join(tokens + [f"<{ident}>"]), 9)


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID that is the same every time for one ledger row key, e.g. <digest.42@amw.example>.

    Characters outside [A-Za-z0-9_-] are written as =XX (hex of UTF-8), so distinct keys never
    share an id.
    """
    safe = "".join(ch if _ID_SAFE.match(ch) else "".join(f"={b:02X}" for b in ch.encode("utf-8")) for ch in key)
    domain = header_text(domain).strip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", domain):
        domain = "digest.invalid"
    return f"<digest.{safe}@{domain}>"


def _body(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends (QP output never holds a bare LF of its own)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8", "replace"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\n", b"\r\n")


# Every byte that is not a printable ASCII character, tab or line feed maps to NUL.
_NOT_PLAIN = bytes(b if 32 <= b < 127 or b in (9, 10) else 0 for b in range(256))
_C1_REFERENCE = re.compile(rb"&#1(?:2[89]|[3-5][0-9]);")
# A piece of at most 75 characters that does not end inside an =XX escape (every "=" here starts
# one, so "not one of the last two characters" is enough, and a third quicker than naming hex).
_QP_PIECE = re.compile(rb".{1,75}(?<!=)(?<!=.)")


def _html_body(html: str) -> bytes:
    """The HTML part as quoted-printable, with non-ASCII characters as character references.

    `&#8230;` means exactly what the UTF-8 bytes of "…" mean everywhere the templates put text
    (text, attribute values, <title>; <style> and comments are ASCII), is no longer than their QP
    form, and leaves plain ASCII, which QP-encodes with bytes.replace and one regex: about 0.2 ms
    for 32 KB against 0.4 ms for binascii.b2a_qp, which walks it byte by byte.
    """
    data = html.encode("ascii", "xmlcharrefreplace")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    encoded = _html_plain(data)
    # Control characters (HTML reads &#128;-&#159; as Windows-1252): the general encoder.
    return _body(html) if encoded is None else encoded


def _html_plain(data: bytes) -> bytes | None:
    """Quoted-printable of ASCII HTML with LF line breaks, line by line; None when a control
    character or a C1 reference needs the general encoder."""
    if b"\0" in data.translate(_NOT_PLAIN) or (b"&#1" in data and _C1_REFERENCE.search(data)):
        return None
    lines = []
    for line in data.replace(b"=", b"=3D").split(b"\n"):
        if line.endswith((b" ", b"\t")):  # whitespace before a line break must be encoded
            stripped = line.rstrip(b" \t")
            line = stripped + b"".join(b"=%02X" % c for c in line[len(stripped):])
        if len(line) > 76:
            pieces = _QP_PIECE.findall(line)
            line = b"=\r\n".join(pieces)  # soft line breaks
        lines.append(line)
    return b"\r\n".join(lines)


def part_lines(kind: str, lines: str) -> bytes | None:
    """Whole lines of a part (no line break at the end), quoted-printable as they are inside the
    encoding of the whole part, whatever comes before or after (digest/stamp.py builds a reader's
    parts from such runs). `kind` is "text" or "html"; None: HTML lines that need the general
    encoder (a control character, a C1 reference, a CR), which works on the whole part."""
    if kind == "html":
        data = lines.encode("ascii", "xmlcharrefreplace")
        return None if b"\r" in data else _html_plain(data)
    # b2a_qp treats the last line of its input on its own terms (trailing whitespace near the end of
    # a long line): encoded with the line break that follows them in the whole part, lines come out
    # as they do there.
    return _body(lines + "\n")[:-2]


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    recipient_name: str,
    message_id: str,
    date: datetime,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    list_id: str,
    dkim: DkimKey | None = None,
) -> BuiltMessage:
    """The whole message as CRLF bytes: multipart/alternative with the text part, then the HTML part.

    sender is 'Name <addr>' or a bare address; recipient is a bare address. Every value is
    cleaned of line breaks (or, for addresses, rejected with MessageError), so nothing that comes
    from an article or a subscriber can add a header.
    """
    from_name, from_addr = split_address(sender)
    to_addr = _check_address(recipient, "recipient")
    message_id = message_id.strip()
    if not re.fullmatch(r"<[^\s<>@]+@[^\s<>@]+>", message_id):
        raise MessageError(f"not a Message-ID: {message_id!r}")
    if date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    mailto = unsubscribe_mailto.strip()
    if not mailto.lower().startswith("mailto:"):
        mailto = "mailto:" + mailto + "?subject=unsubscribe"
    # A boundary holding "=_" can never occur in quoted-printable text, so no scan is needed; it is
    # derived from the Message-ID so one ledger row always yields the same bytes.
    boundary = "=_amw_" + hashlib.sha1(message_id.encode("ascii", "replace")).hexdigest()[:24]
    head = "\r\n".join(
        (
            _mailbox(from_name, from_addr, "From"),
            _mailbox(recipient_name, to_addr, "To"),
            _unstructured("Subject", rendered.subject),
            "Date: " + format_datetime(date),
            "Message-ID: " + message_id,
            "MIME-Version: 1.0",
            f"List-Unsubscribe: <{_url(unsubscribe_url)}>,\r\n <{_url(mailto)}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            _list_id(list_id),
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
            "",
            "",
        )
    )
    encoded = rendered.encoded
    if encoded is None:
        encoded = EncodedParts(text=_body(rendered.text), html=_html_body(rendered.html))
    part_head = 'Content-Type: text/{};\r\n charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    pieces = (
        delimiter[2:] + part_head.format("plain").encode("ascii"),
        encoded.text,
        delimiter + part_head.format("html").encode("ascii"),
        encoded.html,
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    )
    data = head.encode("utf-8") + b"".join(pieces)
    if dkim is not None:
        canonical = None
        if encoded.text_canonical is not None and encoded.html_canonical is not None:
            # The parts' canonical forms were made once for a group of readers (digest/stamp.py);
            # the delimiters and part headers are canonicalized here.
            canonical = b"".join((canonical_lines(pieces[0]), encoded.text_canonical, canonical_lines(pieces[2]),
                                  encoded.html_canonical, canonical_lines(pieces[4])))
        data = _sign_dkim(data, dkim, SIGNED_HEADERS, canonical=canonical)
    return BuiltMessage(data)
