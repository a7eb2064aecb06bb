"""DKIM signatures (RFC 6376): relaxed/relaxed canonicalization on bytes, signed through OpenSSL.

A signature costs one SHA-256 over the body, one over a dozen short header fields, and one
private-key operation in the `cryptography` package (OpenSSL): about 1 ms with a 2048-bit RSA
key, well under that with Ed25519. The canonicalization runs as bytes operations and regexes that
skip the work when the body cannot need it (quoted-printable bodies have no trailing whitespace).
An optional Ed25519-SHA256 signature (RFC 8463) is added beside the RSA one; receivers that do not
know the algorithm ignore it and check the RSA signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigError

__all__ = ["DkimKey", "canonical_body", "canonical_header", "canonical_lines", "sign"]

_WSP_RUN = re.compile(rb"[ \t]+")
_SPACE_RUN = re.compile(rb"  +")
_FIELD_START = re.compile(rb"\r\n(?![ \t])")
_LINE = 76  # folded lines of the DKIM-Signature stay within this many characters


@dataclass(frozen=True, slots=True)
class DkimKey:
    """What DKIM signing needs: selector, signing domain and the loaded private key(s).

    `private_key` is the RSA key; `ed25519_key` (with its own `ed25519_selector`, since one DNS
    record holds one key) adds a second, Ed25519-SHA256 signature when set. Keys are loaded once.
    """

    selector: str
    domain: str
    private_key: Any
    ed25519_selector: str | None = None
    ed25519_key: Any = None

    @classmethod
    def from_pem(cls, selector: str, domain: str, pem: bytes, *, ed25519_selector: str | None = None,
                 ed25519_pem: bytes | None = None) -> "DkimKey":
        """Load the keys from PEM bytes; raises ValueError naming what is wrong with a key."""
        rsa_key = _load(pem, "rsa")
        ed_key = _load(ed25519_pem, "ed25519") if ed25519_pem is not None else None
        return cls(selector, domain, rsa_key, ed25519_selector if ed_key is not None else None, ed_key)

    def __reduce__(self):
        # Key objects do not pickle; a process that receives the key (multiprocessing) gets PEM bytes.
        from cryptography.hazmat.primitives import serialization  # see _load: imported with the key

        def pem(key):
            return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())

        ed_pem = pem(self.ed25519_key) if self.ed25519_key is not None else None
        return _from_pem, (self.selector, self.domain, pem(self.private_key), self.ed25519_selector, ed_pem)

    @classmethod
    def from_settings(cls, settings) -> "DkimKey | None":
        """The key(s) named by the dkim_* settings, or None when none is set; ConfigError otherwise."""
        selector, domain, path = settings.dkim_selector, settings.dkim_domain, settings.dkim_private_key
        ed_selector, ed_path = settings.dkim_ed25519_selector, settings.dkim_ed25519_key
        if not (selector or domain or path or ed_selector or ed_path):
            return None
        if not (selector and domain and path):
            raise ConfigError(
                "DKIM needs all of DIGEST_DKIM_SELECTOR, DIGEST_DKIM_DOMAIN and DIGEST_DKIM_PRIVATE_KEY"
                + (" (the Ed25519 signature is a second one, beside the RSA signature)" if ed_selector or ed_path else "")
            )
        if bool(ed_selector) != bool(ed_path):
            raise ConfigError(
                "an Ed25519 DKIM signature needs both DIGEST_DKIM_ED25519_SELECTOR and DIGEST_DKIM_ED25519_KEY"
            )
        if ed_selector and ed_selector == selector:
            raise ConfigError(
                "DIGEST_DKIM_ED25519_SELECTOR must differ from DIGEST_DKIM_SELECTOR: each selector's DNS record holds one key"
            )
        rsa_key = _read_key("DIGEST_DKIM_PRIVATE_KEY", path, "rsa")
        ed_key = _read_key("DIGEST_DKIM_ED25519_KEY", ed_path, "ed25519") if ed_path else None
        return cls(selector, domain, rsa_key, ed_selector or None, ed_key)


def _from_pem(selector, domain, pem, ed25519_selector, ed25519_pem) -> DkimKey:
    return DkimKey.from_pem(selector, domain, pem, ed25519_selector=ed25519_selector, ed25519_pem=ed25519_pem)


def _read_key(variable: str, path: str, kind: str):
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    try:
        return _load(pem, kind)
    except ValueError as exc:
        raise ConfigError(f"{variable}: {path}: {exc}") from None


def _load(pem: bytes, kind: str):
    """A private key object from PEM bytes, checked to be of the kind named (rsa or ed25519)."""
    # The cryptography package takes ~15 ms to import: loaded only when a DKIM key is configured.
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # likewise

    if b"PRIVATE KEY" not in pem:
        raise ValueError("not a PEM private key (expected a -----BEGIN PRIVATE KEY----- block)")
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a usable PEM private key without a passphrase ({exc})") from None
    if kind == "rsa":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"not an RSA private key (it is {_key_name(key)})")
        if key.key_size < 1024:
            raise ValueError(f"a {key.key_size}-bit RSA key is too short for DKIM: use 2048 bits")
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 private key (it is {_key_name(key)})")
    return key


def _key_name(key) -> str:
    return type(key).__name__.lstrip("_").replace("PrivateKey", " key")


def canonical_lines(data: bytes) -> bytes:
    """The line rules of the relaxed body canonicalization (RFC 6376 §3.4.4): each run of tabs and
    spaces one space, none before a line end. They hold line by line, so whole lines canonicalized
    apart and joined with CRLF are the canonical form of the lines joined; the end-of-body rule is
    canonical_body's."""
    # Tabs become spaces, each run of spaces one space (a regex that needs two spaces to match, so
    # single spaces between words cost nothing), then the one space left before a line end goes:
    # the same bytes as the RFC's steps, all in C.
    if b"\t" in data:
        data = data.replace(b"\t", b" ")
    if b"  " in data:
        data = _SPACE_RUN.sub(b" ", data)
    return data.replace(b" \r\n", b"\r\n") if b" \r\n" in data else data


def canonical_body(body: bytes, *, lines_done: bool = False) -> bytes:
    """The relaxed body canonicalization (RFC 6376 §3.4.4) of the bytes after the blank line
    (`lines_done`: canonical_lines already ran over them, only the end-of-body rule is left)."""
    if not lines_done:
        body = canonical_lines(body)
    end = len(body)
    while end >= 2 and body[end - 2] == 13 and body[end - 1] == 10:  # drop the empty lines at the end
        end -= 2
    if end == 0:
        return b""
    return body if end == len(body) - 2 else body[:end] + b"\r\n"


def canonical_header(name: bytes, value: bytes) -> bytes:
    """The relaxed header canonicalization (RFC 6376 §3.4.2) of one field, with its CRLF."""
    value = value.replace(b"\r\n", b"")
    if b"\n" in value:
        value = value.replace(b"\n", b"")
    if b"  " in value or b"\t" in value:
        value = _WSP_RUN.sub(b" ", value)
    return name.strip(b" \t").lower() + b":" + value.strip(b" \t") + b"\r\n"


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header fields as (name, value) with folds kept, in order; lines without a colon are skipped."""
    fields = []
    for field in _FIELD_START.split(head):
        name, colon, value = field.partition(b":")
        if colon:
            fields.append((name, value))
    return fields


def sign(data: bytes, key: DkimKey, headers: Iterable[str], *, now: float | None = None,
         canonical: bytes | None = None) -> bytes:
    """The message with its DKIM-Signature field(s) prepended (RSA first, then Ed25519 if set).

    Every instance of each header named in `headers` is signed, bottom-up (RFC 6376 §5.4.2); a name
    that the message does not hold is listed once anyway, so adding that header later breaks the
    signature. The body hash covers the body bytes as they are; `canonical`, when the caller has
    it, is canonical_lines of the body (built from parts canonicalized once, digest/stamp.py).
    """
    split = data.find(b"\r\n\r\n")
    if split < 0:
        head, body = (data[:-2] if data.endswith(b"\r\n") else data), b""
    else:
        head, body = data[:split], data[split + 4:]
    wanted_names = dict.fromkeys(h.lower().encode("ascii") for h in headers)
    by_name: dict[bytes, list[bytes]] = {}
    for name, value in _fields(head):
        key_name = name.strip(b" \t").lower()
        if key_name in wanted_names:
            by_name.setdefault(key_name, []).append(canonical_header(name, value))
    names: list[bytes] = []
    hashed: list[bytes] = []
    for wanted in wanted_names:
        present = by_name.get(wanted, ())
        names.extend([wanted] * max(1, len(present)))
        hashed.extend(reversed(present))
    signed_headers = b"".join(hashed)
    canonical = canonical_body(body) if canonical is None else canonical_body(canonical, lines_done=True)
    body_hash = base64.b64encode(hashlib.sha256(canonical).digest())
    timestamp = int(time.time() if now is None else now)
    out = [_signature(b"rsa-sha256", key.selector, key, names, signed_headers, body_hash, timestamp)]
    if key.ed25519_key is not None:
        out.append(_signature(b"ed25519-sha256", key.ed25519_selector, key, names, signed_headers, body_hash, timestamp))
    return b"".join(out) + data


def _signature(algorithm: bytes, selector: str, key: DkimKey, names: list[bytes], signed_headers: bytes,
               body_hash: bytes, timestamp: int) -> bytes:
    """One DKIM-Signature field with its CRLF; b= is computed over the signed headers and the field itself."""
    tags = (b"v=1;", b"a=" + algorithm + b";", b"c=relaxed/relaxed;", b"d=" + key.domain.encode("ascii") + b";",
            b"s=" + selector.encode("ascii") + b";", b"t=%d;" % timestamp)
    # h= may fold after any colon, so the names are pieces joined without a space.
    listed = [b"h=" + names[0]] + names[1:]
    pieces = [(tag, b" ") for tag in tags]
    pieces += [(name + (b";" if i == len(listed) - 1 else b":"), b" " if i == 0 else b"") for i, name in enumerate(listed)]
    pieces.append((b"bh=" + body_hash + b";", b" "))
    lines, line = [], b"DKIM-Signature:"
    for text, sep in pieces:
        if len(line) + len(sep) + len(text) > _LINE:
            lines.append(line)
            line = b" " + text
        else:
            line += sep + text
    lines += [line, b" b="]  # b= starts a line of its own, its value folded below
    unsigned = b"\r\n".join(lines)
    name, _, value = unsigned.partition(b":")
    digest_input = signed_headers + canonical_header(name, value)[:-2]  # the field itself without its CRLF
    if algorithm == b"rsa-sha256":
        from cryptography.hazmat.primitives import hashes  # see _load: imported with the key
        from cryptography.hazmat.primitives.asymmetric import padding  # likewise

        signature = key.private_key.sign(digest_input, padding.PKCS1v15(), hashes.SHA256())
    else:  # RFC 8463: Ed25519 signs the SHA-256 hash of the header data
        signature = key.ed25519_key.sign(hashlib.sha256(digest_input).digest())
    b64 = base64.b64encode(signature)
    first = _LINE - 3
    pieces_b = [b64[:first]] + [b64[i:i + _LINE - 1] for i in range(first, len(b64), _LINE - 1)]
    return unsigned + b"\r\n ".join(pieces_b) + b"\r\n"
