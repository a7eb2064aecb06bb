"""Who may see staff pages, CSRF for staff forms, security headers, and token-free access logs."""

from __future__ import annotations

import copy
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets

from starlette.requests import Request

from ..errors import ConfigError

STAFF_COOKIE = "digest_staff"
# Hosts a browser on this machine uses to reach a loopback-bound server. Anything else in the Host
# header of a loopback request is a DNS-rebinding page and gets no staff access.
_LOCAL_HOSTNAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")
MIN_STAFF_TOKEN = 16

# Pages of the app carry only their own inline CSS (with a per-response nonce) and no script at all.
PAGE_CSP = ("default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; frame-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Rendered email (web version, preview frames): inline styles and remote images as in a mail
# client, never a script, and a sandbox even when the document is opened on its own.
EMAIL_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; font-src https:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}; "
             "sandbox allow-popups allow-popups-to-escape-sandbox")


def is_loopback_address(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _hostname(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_local_request(request: Request) -> bool:
    """A request from this machine, made directly (no proxy in between) to a local host name.

    A reverse proxy on the same host makes every visitor look local, so any forwarding header
    takes the trust away; the Host check defeats DNS rebinding.
    """
    client = request.client.host if request.client else ""
    if not is_loopback_address(client):
        return False
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    return _hostname(request.headers.get("host", "")) in _LOCAL_HOSTNAMES


def presented_token(request: Request) -> str | None:
    """The staff token sent in a header (Authorization: Bearer or X-Staff-Token), if any."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-staff-token")


def token_matches(given: str | None, staff_token: str | None) -> bool:
    if not staff_token or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), staff_token.encode("utf-8"))


def staff_access(request: Request, staff_token: str | None) -> str | None:
    """How this request may act as staff without a session: "local", "header", or None (the
    session cookie is checked against the database by deps.staff_access)."""
    if is_local_request(request):
        return "local"
    if staff_token and token_matches(presented_token(request), staff_token):
        return "header"
    return None


def check_staff_token(staff_token: str | None) -> None:
    """Refuse a DIGEST_STAFF_TOKEN anyone could guess: fewer than 16 non-blank characters.

    Checked whatever the listening address: the documented deployment is a proxy in front of
    127.0.0.1, which puts the staff pages on the network all the same.
    """
    if staff_token is not None and len("".join(staff_token.split())) < MIN_STAFF_TOKEN:
        raise ConfigError(f"DIGEST_STAFF_TOKEN must be at least {MIN_STAFF_TOKEN} non-blank random characters "
                          "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or unset it "
                          "to keep the staff pages to this machine")


class Csrf:
    """Tokens for staff forms: ambient credentials (loopback, cookie) could be used by another site.

    A header-authenticated request cannot be forged cross-site, so it needs no form token.
    """

    def __init__(self, key: str | None = None):
        self._key = (key or secrets.token_urlsafe(32)).encode()

    def token(self) -> str:
        nonce = secrets.token_urlsafe(12)
        mac = hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{nonce}.{mac}"

    def valid(self, value: str | None) -> bool:
        if not value or value.count(".") != 1:
            return False
        nonce, mac = value.split(".")
        expected = hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode())


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site.

    Sec-Fetch-Site, set by the browser and never by a page, decides where it is sent. Without it (an
    older browser, a script) the Origin decides; our pages send no referrer, so a browser posts their
    forms with `Origin: null`, which is let through here: every form that changes something also
    needs its CSRF token, which no other site can read."""
    site = request.headers.get("sec-fetch-site")
    if site:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.lower().partition("://")[2] == request.headers.get("host", "").lower()


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": PAGE_CSP.format(nonce=nonce),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # Tokens live in URLs: never send them on to the sites a page links to.
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


# -- access log ----------------------------------------------------------------------------

_TOKEN_PATH = re.compile(r"^(/(?:unsubscribe|preferences|web|feedback|confirm))/[^/?#\s]+")
SUBSCRIBER_PREFIXES = ("/unsubscribe/", "/preferences/", "/web/", "/feedback/", "/confirm/")


def redact_path(path: str) -> str:
    """The path as it may appear in a log: no token, no query string (it can hold an address)."""
    path, _, query = str(path).partition("?")
    path = _TOKEN_PATH.sub(r"\1/<token>", path)
    return path + ("?<query>" if query else "")


class RedactAccessLog(logging.Filter):
    """Rewrites uvicorn's access-log records: tokens and queries redacted, subscriber IPs dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3:
            path = str(args[2])
            client = "-" if path.startswith(SUBSCRIBER_PREFIXES) else args[0]
            record.args = (client, args[1], redact_path(path), *args[3:])
        return True


def uvicorn_log_config(json_key: bytes | None = None) -> dict:
    """uvicorn's default logging config with the redacting filter on the access log; with a key
    (DIGEST_LOG_FORMAT=json, digest.logs.json_key), JSON lines like every other command's."""
    from uvicorn.config import LOGGING_CONFIG  # uvicorn: only `digest serve` loads the server

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "digest.web.security.RedactAccessLog"}
    config["handlers"]["access"]["filters"] = ["redact"]
    if json_key is not None:
        for name in ("default", "access"):
            config["formatters"][name] = {"()": "digest.logs.JsonFormatter", "key": json_key}
    return config
