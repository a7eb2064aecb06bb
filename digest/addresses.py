"""Email addresses and display names: normalization, validation and the case-insensitive key."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from .errors import InputError

MAX_NAME = 200
# Characters that would let a name break out of a header line or truncate it in C code.
_FORBIDDEN_IN_NAME = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\x00": "a NUL character"}


def normalize_email(raw: str, *, check_deliverability: bool = False) -> tuple[str, str, bool]:
    """(address to send to, casefolded key, needs SMTPUTF8) for raw; raises InputError("email", ...).

    The address is the ASCII form (IDNA domain) whenever the local part is ASCII, so that any mail
    server takes it; only an internationalized local part needs SMTPUTF8. The key is built from the
    Unicode form, so "user@bücher.de" and "user@xn--bcher-kva.de" are one subscriber. No DNS look-up
    unless check_deliverability is set.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InputError("email", "is empty")
    text = unicodedata.normalize("NFC", raw.strip())
    try:
        result = validate_email(text, check_deliverability=check_deliverability, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InputError("email", f"{raw.strip()!r} is not a valid address: {exc}") from None
    return result.ascii_email or result.normalized, result.normalized.casefold(), bool(result.smtputf8)


def email_key_of(raw: str) -> str:
    """The key of an address; an address that does not validate (a bounce of garbage) keys as itself."""
    try:
        return normalize_email(raw)[1]
    except InputError:
        return unicodedata.normalize("NFC", str(raw).strip()).casefold()


def clean_name(raw: str | None) -> str:
    """A display name in any script, trimmed; CR, LF, NUL and other control characters are rejected."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InputError("name", f"expected text, got {type(raw).__name__}")
    for char, what in _FORBIDDEN_IN_NAME.items():
        if char in raw:
            raise InputError("name", f"contains {what}; a name must be a single line")
    for char in raw:
        if char != "\t" and unicodedata.category(char) == "Cc":
            raise InputError("name", f"contains the control character U+{ord(char):04X}")
    name = unicodedata.normalize("NFC", raw).strip()
    if len(name) > MAX_NAME:
        raise InputError("name", f"is {len(name)} characters long; at most {MAX_NAME} are allowed")
    return name
