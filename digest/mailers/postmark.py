"""An HTTP provider backend speaking a Postmark-style JSON API: build a payload, parse a reply."""

from __future__ import annotations

import hashlib
import threading
from email import policy
from email.parser import BytesParser

import httpx

from ..config import Settings
from ..errors import ConfigError
from ..types import Outcome, Outgoing, SendResult
from .base import BaseMailer

# Headers the provider must pass through as given; it writes the envelope ones itself.
PASSED_HEADERS = ("Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id")

# Postmark ErrorCode -> outcome. Codes about the account, token or sender are the operator's to
# fix, so they raise ConfigError instead of failing message after message.
_CONFIG_CODES = {10: "bad or missing server token", 400: "sender signature not found", 401: "sender signature not confirmed", 405: "not allowed to send", 412: "account pending approval", 413: "account may not send"}
_STATUS_BY_CODE = {406: Outcome.REJECTED, 300: Outcome.FAILED, 429: Outcome.DEFERRED}


def idempotency_key(key: str) -> str:
    """The provider-side idempotency key for a ledger row: a re-send of the row reuses it."""
    return "digest-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def build_payload(message: Outgoing, stream: str) -> dict:
    """The JSON body for POST /email, taken from the built message (one parse per message)."""
    parsed = BytesParser(policy=policy.default).parsebytes(message.data)
    text = html = None
    for part in parsed.walk():
        if part.get_content_type() == "text/plain" and text is None:
            text = part.get_content().replace("\r\n", "\n")
        elif part.get_content_type() == "text/html" and html is None:
            html = part.get_content().replace("\r\n", "\n")
    payload = {
        "From": str(parsed["From"]),
        "To": str(parsed["To"] or message.recipient),
        "Subject": str(parsed["Subject"] or ""),
        "Headers": [{"Name": name, "Value": str(parsed[name])} for name in PASSED_HEADERS if parsed[name] is not None],
        "MessageStream": stream,
    }
    if text is not None:
        payload["TextBody"] = text
    if html is not None:
        payload["HtmlBody"] = html
    if message.envid:  # comes back in the provider's bounce webhooks, naming the ledger row
        payload["Metadata"] = {"digest": message.envid}
    return payload


def parse_reply(status_code: int, body) -> SendResult:
    """A SendResult for the provider's HTTP reply (raises ConfigError for account problems)."""
    body = body if isinstance(body, dict) else {}
    error_code = body.get("ErrorCode")
    message = str(body.get("Message", "")).strip()
    if status_code == 200 and error_code in (0, None):
        return SendResult(Outcome.SENT, f"accepted as {body.get('MessageID', '?')}", status_code)
    if status_code == 401 or error_code in _CONFIG_CODES:
        what = _CONFIG_CODES.get(error_code, "unauthorized")
        raise ConfigError(f"the mail provider refused the request ({what}): {message}; check DIGEST_POSTMARK_TOKEN and the From address")
    detail = f"HTTP {status_code} ErrorCode {error_code}: {message}".strip()
    if status_code == 429 or status_code >= 500:
        return SendResult(Outcome.DEFERRED, detail, status_code)
    return SendResult(_STATUS_BY_CODE.get(error_code, Outcome.FAILED), detail, status_code)


class PostmarkMailer(BaseMailer):
    """POSTs each message to {url}/email with the X-Postmark-Server-Token header."""

    def __init__(self, token: str | None = None, url: str = "https://api.postmarkapp.com", *, stream: str = "broadcast", timeout: float = 30.0, connections: int = 1, rate_limit: float = 0.0, **options) -> None:
        super().__init__(**options)
        self.token, self.url = token, url.rstrip("/")
        self.stream, self.timeout = stream, float(timeout)
        self.connections, self.rate_limit = max(1, int(connections)), float(rate_limit or 0)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "PostmarkMailer":
        return cls(
            token=settings.postmark_token,
            url=settings.postmark_url,
            stream=settings.postmark_stream,
            timeout=settings.postmark_timeout,
            connections=settings.postmark_connections,
            rate_limit=settings.postmark_rate_limit,
        )

    def open(self) -> bool:
        if self._client is not None:
            return False
        if not self.token:
            raise ConfigError("the postmark mailer needs DIGEST_POSTMARK_TOKEN")
        self._client = httpx.Client(
            base_url=self.url,
            timeout=self.timeout,
            headers={"X-Postmark-Server-Token": self.token, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=self.connections),
        )
        return super().open()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
        super().close()

    def lanes(self):
        # httpx.Client is thread-safe, so lanes share it and its connection pool.
        return [self.send_one] * self.connections

    def send_one(self, message: Outgoing) -> SendResult:
        if self._client is None:
            self.open()
        payload = build_payload(message, self.stream)
        try:
            response = self._client.post("/email", json=payload, headers={"Idempotency-Key": idempotency_key(message.key)})
        except httpx.ReadTimeout as exc:
            # The whole request went out and no reply came: the provider may have taken it. (Its
            # Idempotency-Key lets a provider that honours it drop a resend.)
            return SendResult(Outcome.UNKNOWN, f"no reply within {self.timeout:g} s after the request was sent; "
                                       f"the provider may have accepted it ({type(exc).__name__}: {exc})")
        except httpx.TransportError as exc:
            return SendResult(Outcome.DEFERRED, f"{type(exc).__name__}: {exc}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        return parse_reply(response.status_code, body)
