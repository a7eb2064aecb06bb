"""The front door: GET/POST /subscribe (form and JSON, CORS allow-list), /manage (a preferences
link by email), each answered alike whatever the address, with limits kept in the database.

POST /subscribe answers 202 with one body for every well-formed request, 422 naming the field of
a malformed one, 429 with Retry-After past a limit and 403 to an origin outside DIGEST_CORS_ORIGINS.
The email (a confirmation, or the preferences link for a reader who is already subscribed) is
claimed in signup_mail inside the request's write transaction, sent after the commit and recorded.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from ..addresses import normalize_email
from ..config import cors_origins, secret_keys
from ..errors import InputError
from ..models import Subscriber, utcnow
from ..notices import Notices
from . import security
from .limits import Limited, count_hit, limit_key
from .signup_form import HONEYPOT, SIGNUP_BODY, form_context, form_values, json_values
from .writes import request_write
from subscribers.signup import Outcome, mail_done, manage, signup, validated

log = logging.getLogger("digest.web")
router = APIRouter()

ACCEPTED = {"status": "accepted",
            "message": "If this address can receive the AMW Digest, an email is on its way to it."}
SCRIPT_CSP = security.PAGE_CSP + "; script-src 'nonce-{nonce}'"


class Forbidden(Exception):
    """A request from an origin outside the allow-list."""


# -- CORS --------------------------------------------------------------------------------------

def _own_origins(request: Request) -> set[str]:
    parts = urlsplit(request.app.state.settings.base_url)
    return {f"{parts.scheme}://{parts.netloc}", f"{request.url.scheme}://{request.url.netloc}"}


def allowed_origin(request: Request) -> str | None:
    """The Origin to echo in Access-Control-Allow-Origin (None: same origin or no Origin);
    Forbidden for an origin that is neither this site nor on DIGEST_CORS_ORIGINS."""
    origin = request.headers.get("origin")
    if origin in _own_origins(request):
        return None
    if origin is not None and origin in cors_origins(request.app.state.settings):
        return origin
    # This site's own form (its pages send no referrer, so a browser posts it with `Origin: null`), or
    # a client without an Origin: nothing is echoed, so no script elsewhere can read the answer.
    if (origin is None or origin == "null") and security.same_origin(request):
        return None
    raise Forbidden()


def _cors(response: Response, origin: str | None) -> Response:
    response.headers["Vary"] = "Origin"
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


@router.options("/subscribe", include_in_schema=False)
def subscribe_preflight(request: Request):
    try:
        origin = allowed_origin(request)
    except Forbidden:
        return _cors(Response(status_code=403), None)
    response = Response(status_code=204)
    response.headers.update({"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "Content-Type",
                             "Access-Control-Max-Age": "600"})
    return _cors(response, origin)


# -- the form ------------------------------------------------------------------------------------

def page_with_script(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """A page that runs its own nonce'd script (the picker, the browser's time zone)."""
    response = request.app.state.pages(request, name, status, **context)
    response.headers["Content-Security-Policy"] = SCRIPT_CSP.format(nonce=request.state.nonce)
    return response


@router.get("/subscribe", response_class=HTMLResponse, summary="Signup form")
def subscribe_page(request: Request, company: str | None = None, segment: str | None = None):
    with Session(request.app.state.engine) as session:
        context = form_context(session, company=company, segment=segment)
    return page_with_script(request, "subscribe.html", **context, error=None)


@router.post("/subscribe", summary="Sign up (form or JSON); 202 for every well-formed request",
             status_code=202, responses={202: {"content": {"application/json": {"example": ACCEPTED}}},
                                         422: {"description": "a malformed field, named in `field`"},
                                         429: {"description": "too many requests; see Retry-After"}},
             openapi_extra=SIGNUP_BODY)
async def subscribe(request: Request):
    is_json = "json" in request.headers.get("content-type", "")
    try:
        origin = allowed_origin(request)
    except Forbidden:
        return _cors(JSONResponse({"error": "forbidden", "message": "This origin may not sign readers up."}, 403), None)
    values: dict = {}
    try:
        values, trap = await (json_values(request) if is_json else form_values(request))
        outcome = await _run(request, "signup", values, trap)
    except Limited as exc:
        response = _answer(request, is_json, 429, {"error": "too_many_requests",
                                                   "message": "Too many requests. Please try again later."})
        response.headers["Retry-After"] = str(exc.retry_after)
        return _cors(response, origin)
    except InputError as exc:
        body = {"error": "invalid", "field": exc.field, "message": exc.message}
        return _cors(_answer(request, is_json, 422, body, values=values), origin)
    await run_in_threadpool(_deliver, request, outcome)
    return _cors(_answer(request, is_json, 202, ACCEPTED), origin)


def _answer(request: Request, is_json: bool, status: int, body: dict, values: dict | None = None) -> Response:
    if is_json:
        return JSONResponse(body, status_code=status)
    if status == 422:
        with Session(request.app.state.engine) as session:
            context = form_context(session, values=values or {})
        return page_with_script(request, "subscribe.html", 422, **context, error=body)
    return request.app.state.pages(request, "subscribe_sent.html", status, refused=status == 429)


# -- manage ------------------------------------------------------------------------------------

@router.get("/manage", response_class=HTMLResponse, summary="Get a link to your preferences by email")
def manage_page(request: Request):
    return request.app.state.pages(request, "manage.html", sent=False, refused=False)


@router.post("/manage", response_class=HTMLResponse, summary="Send the preferences link (same answer for any address)")
async def manage_send(request: Request):
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:  # not a form at all: answered like any other request, nothing sent
        form = {}
    email = str(form.get("email") or "")[:320].strip()
    try:
        outcome = await _run(request, "manage", {"email": email}, bool(form.get(HONEYPOT)))
    except Limited as exc:
        response = request.app.state.pages(request, "manage.html", 429, sent=False, refused=True)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except InputError:
        outcome = Outcome(None)  # not an address: answered like any other, nothing sent
    await run_in_threadpool(_deliver, request, outcome)
    return request.app.state.pages(request, "manage.html", sent=True, refused=False)


# -- shared ------------------------------------------------------------------------------------

async def _run(request: Request, kind: str, values: dict, trap: bool) -> Outcome:
    """Count the request against the limits, then apply it (write transactions, in a thread)."""
    return await run_in_threadpool(_apply, request, kind, values, trap)


def _apply(request: Request, kind: str, values: dict, trap: bool) -> Outcome:
    state = request.app.state
    settings, now = state.settings, utcnow()
    secret = secret_keys(settings)[0]
    client = request.client.host if request.client else "unknown"
    with request_write(request) as session:
        count_hit(session, f"{kind}-ip", limit_key(secret, "ip", client), settings.signup_limit_ip, now)
        session.commit()
    with request_write(request) as session:
        check = settings.email_check_deliverability
        # A malformed request is refused (422) before it counts against the address.
        key = validated(session, values, check).key if kind == "signup" else normalize_email(values["email"])[1]
        if trap:
            return Outcome(None)
        count_hit(session, f"{kind}-address", limit_key(secret, "address", key), settings.signup_limit_address, now)
        if kind == "signup":
            outcome = signup(session, values, mails_per_day=settings.signup_mails_per_day, now=now,
                             check_deliverability=check)
        else:
            outcome = manage(session, values["email"], mails_per_day=settings.signup_mails_per_day, now=now)
        session.commit()
        return outcome


def _deliver(request: Request, outcome: Outcome) -> None:
    """Send the claimed email and record how it went; a failure is logged (never shown: the answer
    must not differ), and a failed email no longer counts against the day's cap."""
    if outcome.mail is None or outcome.claim_id is None:
        return
    state = request.app.state
    notices = getattr(state, "notices", None)
    if notices is None:
        notices = state.notices = Notices(state.settings, state.signer)
    sent, message_id, detail = False, None, None
    try:
        with Session(state.engine) as session:
            subscriber = session.get(Subscriber, outcome.subscriber_id)
            built = notices.build(outcome.mail, subscriber, outcome.claim_id)
        result = notices.send(built.outgoing)
        sent, message_id, detail = result.accepted, built.outgoing.message_id, result.detail
    except Exception as exc:  # a mailer or template fault: the visitor's answer stays the same
        log.exception("signup email %s could not be sent", outcome.claim_id)
        detail = f"{type(exc).__name__}: {exc}"
    if not sent:
        log.warning("signup email %s was not accepted: %s", outcome.claim_id, detail)
    with request_write(request) as session:
        mail_done(session, outcome.claim_id, sent=sent, message_id=message_id, detail=(detail or "")[:500])
        session.commit()
