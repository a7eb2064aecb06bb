"""Signed, per-purpose subscriber tokens for unsubscribe, preferences, confirm and web links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from .config import secret_keys
from .errors import ConfigError, TokenError

PURPOSES = ("unsubscribe", "preferences", "confirm", "web", "feedback")
# Short tokens for addresses, not links: a number and a truncated HMAC in lowercase base32, so one
# fits an email local part (64 octets, RFC 5321) and survives an MTA that folds its case.
# "bounce" names a ledger row (the VERP envelope sender, the DSN ENVID), "mailto" a subscriber
# (the subject of the List-Unsubscribe mailto:).
COMPACT = ("bounce", "mailto")
COMPACT_MAC_BYTES = 10  # 80 bits: 16 base32 characters

# Seconds a confirm token stays valid unless the caller says otherwise. Only confirm tokens carry
# a time: the links in a digest (unsubscribe, preferences, web version, feedback) must keep working
# in mail read years later, unsubscribe by law, and without a timestamp they are also deterministic:
# the web version of an issue renders byte for byte the links the email carried.
TIMED = {"confirm": 7 * 24 * 3600}
DEFAULT_MAX_AGE: dict[str, int | None] = {purpose: TIMED.get(purpose) for purpose in PURPOSES}

_SALT = "amw-digest/"


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the padded key states hashed once: 1.4 µs a message against
    4.4 µs for hmac.digest, which sets OpenSSL up again on every call."""

    def __init__(self, key: bytes):
        key = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

# One message for every kind of rejection, so a response never tells a prober more than "no".
_INVALID = "this link is invalid or has expired"


class Signer:
    """Makes and reads signed tokens; keys are newest first and every key still verifies.

    Each purpose signs with its own derived key (the salt), so a token made for one purpose is
    rejected for every other. The payload is only the subscriber id (and the caller's extra):
    reading a token never needs the database, and a rejected token reveals nothing about an address.
    """

    def __init__(self, keys: list[str]):
        keys = [k for k in keys if k]
        if not keys:
            raise ConfigError("no signing key: set DIGEST_SECRET_KEY")
        self.keys = list(keys)
        # itsdangerous signs with the last key of the list and verifies with all of them.
        self._serializers = {
            purpose: (URLSafeTimedSerializer if purpose in TIMED else URLSafeSerializer)(
                list(reversed(self.keys)), salt=_SALT + purpose, signer_kwargs={"digest_method": hashlib.sha256}
            )
            for purpose in PURPOSES
        }
        # A send signs 3 + 2 per card tokens (19 for 8 cards); through itsdangerous each cost
        # 19 µs (a zlib attempt, key derivation, object set-up per call). The untimed ones are
        # made here with itsdangerous's own derived key, HMAC and format, and read by itsdangerous.
        self._macs = {purpose: _HmacSha256(serializer.make_signer().derive_key())
                      for purpose, serializer in self._serializers.items() if purpose not in TIMED}
        # Compact tokens: one HMAC per key (newest first), each key derived per purpose as above.
        self._compact = {
            purpose: [_HmacSha256(URLSafeSerializer(key, salt=_SALT + purpose, signer_kwargs={
                "digest_method": hashlib.sha256}).make_signer().derive_key()) for key in self.keys]
            for purpose in COMPACT
        }

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        try:
            return self._serializers[purpose]
        except KeyError:
            raise TokenError(f"unknown token purpose {purpose!r}; expected one of {', '.join(PURPOSES)}") from None

    def make(self, purpose: str, subscriber_id: int, *, extra: dict | None = None) -> str:
        """A URL-safe token for this subscriber and purpose."""
        if isinstance(subscriber_id, bool) or not isinstance(subscriber_id, int):
            raise TokenError("a token needs an integer subscriber id")
        payload = [subscriber_id, extra] if extra else [subscriber_id]
        mac = self._macs.get(purpose)
        if mac is None:
            return self._serializer(purpose).dumps(payload)
        # itsdangerous's URL-safe format: base64url(compact JSON) "." base64url(HMAC-SHA256); it
        # would zlib-compress a payload when that is shorter, which ids and names never make worth it.
        body = _b64(_json(payload).encode("utf-8"))
        return (body + b"." + _b64(mac.digest(body))).decode("ascii")

    def read(self, purpose: str, token: str, *, max_age: int | None = None) -> int | tuple[int, dict]:
        """The subscriber id (or (id, extra) when the token carries extra); raises TokenError.

        max_age (seconds) applies to confirm tokens and defaults to a week; the other purposes carry
        no time and never expire, so it is ignored for them.
        """
        serializer = self._serializer(purpose)
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenError(_INVALID)
        try:
            if purpose in TIMED:
                payload = serializer.loads(token, max_age=max_age if max_age is not None else TIMED[purpose])
            else:
                payload = serializer.loads(token)
        except SignatureExpired:
            error = TokenError(_INVALID)
            error.expired = True
            raise error from None
        except (BadSignature, ValueError, TypeError):
            raise TokenError(_INVALID) from None
        if not isinstance(payload, list) or not payload or len(payload) > 2:
            raise TokenError(_INVALID)
        subscriber_id = payload[0]
        if isinstance(subscriber_id, bool) or not isinstance(subscriber_id, int):
            raise TokenError(_INVALID)
        if len(payload) == 2:
            if not isinstance(payload[1], dict):
                raise TokenError(_INVALID)
            return subscriber_id, payload[1]
        return subscriber_id


    def make_compact(self, purpose: str, number: int) -> str:
        """"<number>-<mac>": a short lowercase token naming `number` for this purpose."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise TokenError("a compact token needs a non-negative integer")
        return f"{number}-{self._compact_mac(purpose, 0, number)}"

    def read_compact(self, purpose: str, token: str) -> int:
        """The number a compact token names, whatever its case; raises TokenError for anything
        else (a forged, truncated or other-purpose token)."""
        if not isinstance(token, str) or len(token) > 64:
            raise TokenError(_INVALID)
        number, dash, mac = token.strip().lower().partition("-")
        if not dash or not number.isascii() or not number.isdigit() or len(number) > 19 or number != str(int(number)):
            raise TokenError(_INVALID)
        for index in range(len(self.keys)):
            if hmac.compare_digest(mac, self._compact_mac(purpose, index, int(number))):
                return int(number)
        raise TokenError(_INVALID)

    def _compact_mac(self, purpose: str, index: int, number: int) -> str:
        try:
            macs = self._compact[purpose]
        except KeyError:
            raise TokenError(f"unknown compact token purpose {purpose!r}; expected one of {', '.join(COMPACT)}") from None
        digest = macs[index].digest(str(number).encode("ascii"))[:COMPACT_MAC_BYTES]
        return base64.b32encode(digest).decode("ascii").lower()


def signer_from_settings(settings) -> Signer:
    """The Signer for the configured keys (DIGEST_SECRET_KEY first, then DIGEST_SECRET_KEYS_OLD)."""
    return Signer(secret_keys(settings))
