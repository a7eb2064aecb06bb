"""The rules that check each setting's value: each takes the typed value and returns it (normalized)
or raises Invalid with what a valid value looks like (completes "X must be ...")."""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from .errors import DigestError
from .i18n import UnknownLanguage, canonical_language
from .message import split_address


class Invalid(ValueError):
    """A rule's verdict: what a valid value looks like (completes "X must be ...")."""


def at_least(low: int, high: int | None = None, what: str = "a whole number"):
    def rule(value):
        if value < low or (high is not None and value > high):
            raise Invalid(f"{what} from {low} to {high}" if high is not None else f"{what} of at least {low}")
        return value
    return rule


def finite(*, positive: bool, hint: str, most: float = math.inf):
    def rule(value):
        # float() takes "nan" and "inf"; neither is a usable timeout, rate or weight.
        if not math.isfinite(value) or value < 0 or (positive and value == 0) or value > most:
            raise Invalid(hint)
        return value
    return rule


# Upper bounds keep every value inside what sockets, timedelta and datetime can hold (a timeout of
# 1e20 s does not fit a C timeval; 40 attempts would back off past the year 9999).
DAY = 86400
SECONDS = finite(positive=True, most=DAY, hint="a number of seconds greater than 0 and at most 86400, like 30")
RATE = finite(positive=False, hint="a number of messages per second, 0 or more (0: no limit)")
WEIGHT = finite(positive=False, most=1000, hint="a number from 0 to 1000, like 1 or 2.5")
COUNT = at_least(1)


def choice(*options: str):
    def rule(value):
        normalized = value.strip().lower()
        if normalized not in options:
            raise Invalid(", ".join(options[:-1]) + f" or {options[-1]}")
        return normalized
    return rule


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def single_line(value):
    if value is not None and _CONTROL.search(value):
        raise Invalid("a single line without line breaks or control characters")
    return value


def not_empty(value):
    if not value.strip():
        raise Invalid("set (it is empty)")
    return single_line(value)


def token(value):
    if value is not None and (not value.strip() or _CONTROL.search(value) or " " in value.strip()):
        raise Invalid("one word without spaces or line breaks")
    return value if value is None else value.strip()


def http_url(value):
    single_line(value)
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname or any(c.isspace() for c in value.strip()):
        raise Invalid("an http:// or https:// URL with a host, like https://digest.example.com")
    return value.strip()


def origins(value):
    """Comma-separated web origins like https://amw.example (scheme and host, no path)."""
    for item in (part.strip().rstrip("/") for part in value.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query \
                or any(c.isspace() for c in item):
            raise Invalid("comma-separated origins like https://amw.example,https://www.amw.example")
    return value


def company_url(value):
    http_url(value.replace("{slug}", "slug"))
    try:
        value.format(slug="openai")
    except (KeyError, IndexError, ValueError):
        raise Invalid("a URL whose only placeholder is {slug}, like https://amw.example/companies/{slug}") from None
    return value


def address(value: str, *, named: bool):
    from email_validator import EmailNotValidError, validate_email  # 15 ms to import: only when checked

    if _CONTROL.search(value):
        raise Invalid("one address on a single line (no line breaks or control characters)")
    try:
        name, address = split_address(value)
    except DigestError:
        example = "AMW Digest <digest@amw.example>" if named else "unsubscribe@amw.example"
        raise Invalid(f"one address like {example}") from None
    if name and not named:
        raise Invalid("a bare address like unsubscribe@amw.example (no display name)")
    domain = address.rpartition("@")[2]
    # email-validator refuses the special-use name localhost, which the development default uses.
    if domain.lower() != "localhost":
        try:
            validate_email(address, check_deliverability=False, globally_deliverable=False, allow_smtputf8=True)
        except EmailNotValidError as exc:
            raise Invalid(f"one valid address ({exc})") from None
    return value.strip()


def addresses(value):
    for item in (part.strip() for part in value.split(",")):
        if item:
            address(item, named=False)
    return value


# The local part of the VERP envelope sender, before "+<token>": dot-atom characters without "+",
# and short enough that local + "+" + the longest token (19 digits, "-", 16) stays within 64 octets.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*/=?^_`{|}~-]+)*")
BOUNCE_LOCAL_MAX = 64 - 1 - 19 - 1 - 16


def bounce_local(value):
    value = value.strip()
    if not _LOCAL.fullmatch(value) or len(value) > BOUNCE_LOCAL_MAX:
        raise Invalid(f"a plain local part of at most {BOUNCE_LOCAL_MAX} characters without \"+\", like bounces")
    return value


_DOMAIN = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def domain(value):
    value = value.strip().rstrip(".")
    if not _DOMAIN.fullmatch(value):
        raise Invalid("a domain name like amw.example")
    return value.lower()


def language_tag(value):
    try:
        return canonical_language(value)
    except UnknownLanguage:
        raise Invalid("a BCP 47 language tag CLDR knows, like en, ko or ja") from None
