"""ESP webhooks: POST /webhooks/postmark takes Postmark's Bounce, SpamComplaint and
SubscriptionChange events and applies the bounce policy (digest/bounces.py).

Authenticated by HTTP basic credentials (DIGEST_WEBHOOK_USERNAME and DIGEST_WEBHOOK_PASSWORD,
compared in constant time); with no credentials configured the route does not exist (404).
Idempotent by the event's id: Postmark retries a delivery that did not get a 200, and a replay
changes nothing. A body that is not an event of those types gets 4xx and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..addresses import normalize_email
from ..bounces import COMPLAINT, HARD, IGNORED, SOFT, UNSUBSCRIBE, Policy, Report, apply_once
from ..envelope import digest_id_of
from ..errors import InputError, TokenError
from .writes import request_write

log = logging.getLogger("digest.web")

router = APIRouter()

# Postmark bounce types (its Bounce API's list) by what they say about the address.
HARD_TYPES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
SOFT_TYPES = {"SoftBounce", "Transient", "DnsError", "Blocked"}
_SUBSCRIPTION_REASONS = {"HardBounce": HARD, "SpamComplaint": COMPLAINT, "ManualSuppression": UNSUBSCRIBE}
RECORD_TYPES = ("Bounce", "SpamComplaint", "SubscriptionChange")
# Postmark's other webhooks say nothing about an address: acknowledged (200) so Postmark does not retry them.
OTHER_RECORD_TYPES = ("Delivery", "Open", "Click")


class BadEvent(ValueError):
    """The body is not an event this route takes; the message says which field."""


def authorized(header: str | None, username: str, password: str) -> bool:
    """Whether an Authorization header carries these basic credentials; both parts are compared in
    constant time, whatever the first comparison found."""
    scheme, _, encoded = (header or "").partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True) if scheme.lower() == "basic" else b""
    except (binascii.Error, ValueError):
        given = b""
    user, colon, secret = given.partition(b":")
    user_ok = hmac.compare_digest(hashlib.sha256(user).digest(), hashlib.sha256(username.encode("utf-8")).digest())
    secret_ok = hmac.compare_digest(hashlib.sha256(secret).digest(), hashlib.sha256(password.encode("utf-8")).digest())
    return bool(colon) & user_ok & secret_ok


def _text(body: dict, name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadEvent(f"{name} must be a non-empty string")
    return value.strip()


def _address(value: str, name: str) -> str:
    try:
        normalize_email(value)
    except InputError:
        raise BadEvent(f"{name} is not an email address") from None
    return value


def postmark_report(body, signer=None) -> Report:
    """The Report for one Postmark webhook body (raises BadEvent). With a signer, the digest token
    the postmark mailer put in the message's Metadata names the ledger row, when it verifies."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    record_type = body.get("RecordType")
    if record_type not in RECORD_TYPES:
        raise BadEvent(f"RecordType must be one of {', '.join(RECORD_TYPES)}")
    digest_id = _digest_of(body.get("Metadata"), signer)
    if record_type == "SubscriptionChange":
        return _subscription_change(body, digest_id)
    event_id = body.get("ID")
    if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id < 0:
        raise BadEvent("ID must be the event's number")
    email = _address(_text(body, "Email"), "Email")
    kind_of = _text(body, "Type", required=record_type == "Bounce") or record_type
    if record_type == "SpamComplaint" or kind_of == "SpamComplaint":
        kind = COMPLAINT
    elif kind_of in HARD_TYPES or body.get("Inactive") is True:
        kind = HARD  # Postmark deactivated the address: it answers 406 to every send from now on
    elif kind_of in SOFT_TYPES:
        kind = SOFT
    elif kind_of == "Unsubscribe":
        kind = UNSUBSCRIBE
    else:
        kind = IGNORED  # an auto-reply, a challenge, a virus notice: nothing about the address
    detail = body.get("Details") or body.get("Description")
    return Report(kind=kind, email=email, source="webhook", event_key=f"postmark:{record_type}:{event_id}",
                  status_code=kind_of, detail=str(detail) if detail else None, digest_id=digest_id)


def _subscription_change(body: dict, digest_id: int | None) -> Report:
    email = _address(_text(body, "Recipient"), "Recipient")
    suppress_sending = body.get("SuppressSending")
    if not isinstance(suppress_sending, bool):
        raise BadEvent("SuppressSending must be true or false")
    reason = body.get("SuppressionReason")
    if suppress_sending and reason not in _SUBSCRIPTION_REASONS:
        raise BadEvent(f"SuppressionReason must be one of {', '.join(_SUBSCRIPTION_REASONS)}")
    # No event id in this type: the change itself is the key (a retry repeats it byte for byte).
    identity = json.dumps([body.get("MessageID"), email, body.get("ChangedAt"), suppress_sending, reason])
    # Reactivated at Postmark: our suppression stays until staff lift it (`digest subscribers unsuppress`).
    kind = _SUBSCRIPTION_REASONS[reason] if suppress_sending else IGNORED
    origin = body.get("Origin")
    return Report(kind=kind, email=email, source="webhook",
                  event_key="postmark:SubscriptionChange:" + hashlib.sha256(identity.encode()).hexdigest()[:40],
                  status_code=str(reason) if reason else "Reactivated",
                  detail=f"subscription change by {origin}" if isinstance(origin, str) else None, digest_id=digest_id)


def _digest_of(metadata, signer) -> int | None:
    token = metadata.get("digest") if isinstance(metadata, dict) else None
    if signer is None or not isinstance(token, str):
        return None
    try:
        return digest_id_of(signer, token)
    except TokenError:
        return None


@router.post("/webhooks/postmark", include_in_schema=False)
async def postmark(request: Request):
    settings = request.app.state.settings
    if not (settings.webhook_username and settings.webhook_password):
        raise StarletteHTTPException(404)  # not configured: as if the route did not exist
    if not authorized(request.headers.get("authorization"), settings.webhook_username, settings.webhook_password):
        return JSONResponse({"error": "unauthorized"}, 401, headers={"WWW-Authenticate": 'Basic realm="webhooks"'})
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "the body is not JSON"}, 400)
    if isinstance(body, dict) and body.get("RecordType") in OTHER_RECORD_TYPES:
        return JSONResponse({"result": "ignored", "kind": body["RecordType"]})
    try:
        report = postmark_report(body, request.app.state.signer)
    except BadEvent as exc:
        return JSONResponse({"error": str(exc)}, 422)
    result = await run_in_threadpool(_apply, request, report)
    log.info("postmark webhook %s (%s): %s", body["RecordType"], report.kind, result)
    return JSONResponse({"result": result, "kind": report.kind})


def _apply(request: Request, report: Report) -> str:
    with request_write(request) as session:
        return apply_once(session, report, Policy.from_settings(request.app.state.settings))
