"""The web app: staff preview, one-click unsubscribe, preferences, feedback and the web version."""

from __future__ import annotations

import logging
import secrets
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import jinja2
from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import queries
from ..config import Settings
from ..errors import DigestError, InputError, NotFound, TokenError
from ..models import Digest, DigestItem, Subscriber
from ..render import GMAIL_CLIP_BYTES, Renderer, lint
from ..types import Links, Outgoing
from . import security
from subscribers.feedback import apply_feedback, read_feedback

log = logging.getLogger("digest.web")

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_BODY = 256 * 1024  # every form here is small; refuse large bodies before parsing them
MAX_PICKER = 1000  # subscribers offered in the preview's picker (any address works in the URL)

Token = Annotated[str, "a signed subscriber token"]
FormText = Annotated[str | None, Form(max_length=2000)]


class Pages:
    """Server-rendered pages: Jinja2 with autoescape, each response with its own CSP nonce."""

    def __init__(self):
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                      trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)

    def __call__(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        nonce = getattr(request.state, "nonce", "")
        html = self.env.get_template(name).render(**{"link": None, **context, "nonce": nonce})
        return HTMLResponse(html, status_code=status)


def neutral(pages: Pages, request: Request) -> HTMLResponse:
    """The one answer to every bad subscriber link: it says nothing about why or about whom."""
    return pages(request, "message.html", 400, title="This link doesn't work",
                 message="The link may be incomplete or out of date. If you copied it from an email, "
                         "check that you copied all of it.")


def mask_email(address: str) -> str:
    """a***@example.com: enough for the reader to recognise, little for whoever sees the screen."""
    local, _, domain = address.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def parse_as_of(value: str | None) -> datetime:
    """An ISO time or a datetime-local value (no zone means UTC); empty means now."""
    if value is None or not value.strip():
        return datetime.now(timezone.utc).replace(second=0, microsecond=0)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("as_of", f"{text[:40]!r} is not a time like 2026-11-23T20:00") from None
    if not 2000 <= parsed.year <= 2100:
        raise InputError("as_of", "must be between the years 2000 and 2100")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The ASGI app for these settings; makes (and disposes) its own engine when none is given."""
    from subscribers.tokens import signer_from_settings

    from ..db import make_engine

    own_engine = engine is None
    engine = engine if engine is not None else make_engine(settings.database_url)
    signer = signer_from_settings(settings)
    renderer = Renderer(settings.templates_dir, company_url=settings.company_url,
                        postal_address=settings.postal_address, base_url=settings.base_url)
    pages = Pages()
    csrf = security.Csrf()
    staff_token = getattr(settings, "staff_token", None) or None
    base_url = settings.base_url.rstrip("/")
    secure_cookie = base_url.startswith("https://")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        if own_engine:
            engine.dispose()

    app = FastAPI(title="AMW Digest", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings, app.state.engine = settings, engine

    def pipeline():
        from ..pipeline import Pipeline

        # A pipeline per request: its article cache is per window and not thread-safe, while
        # the renderer (templates compiled once) is shared.
        made = Pipeline(engine, settings)
        made.renderer = renderer
        return made

    # -- plumbing ----------------------------------------------------------------------------

    @app.middleware("http")
    async def headers(request: Request, call_next):
        request.state.nonce = secrets.token_urlsafe(16)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            response = PlainTextResponse("request body too large", status_code=413)
        else:
            response = await call_next(request)
        for name, value in security.security_headers(request.state.nonce).items():
            if name.lower() not in response.headers:
                response.headers[name] = value
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        titles = {404: "Page not found", 405: "Not allowed here", 400: "Bad request"}
        return pages(request, "message.html", exc.status_code, title=titles.get(exc.status_code, "Error"),
                     message="There is nothing to see at this address." if exc.status_code == 404 else
                     "This request could not be handled.")

    @app.exception_handler(TokenError)
    async def bad_token(request: Request, exc: TokenError):
        # Every subscriber route reads its signed token first; any failure gets the neutral page.
        return neutral(pages, request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # Never echo the input back: it may be a token or an address.
        return pages(request, "message.html", 400, title="Bad request",
                     message="Some of the values sent were not understood.")

    def staff_gate(request: Request) -> tuple[str | None, HTMLResponse | None]:
        access = security.staff_access(request, staff_token)
        if access:
            return access, None
        if staff_token:
            return None, pages(request, "login.html", 401, error=None, csrf=None)
        return None, pages(request, "message.html", 403, title="Staff pages are local",
                           message="The staff preview answers only requests from this machine "
                                   "(127.0.0.1). To use it from elsewhere, set DIGEST_STAFF_TOKEN and sign in.")

    def staff_post_ok(request: Request, access: str, token: str | None) -> bool:
        if access == "header":
            return True
        return security.same_origin(request) and csrf.valid(token)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    @app.get("/healthz", response_class=PlainTextResponse, summary="Liveness and database check")
    def healthz():
        import sqlalchemy as sa

        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return "ok"

    # -- staff -------------------------------------------------------------------------------

    def picker(session: Session, chosen: str | None):
        from subscribers.records import list_subscribers

        people = list_subscribers(session, limit=MAX_PICKER)
        if chosen and all(p.email_key != chosen.casefold() for p in people):
            found = queries.subscriber_by_email(session, chosen) if len(chosen) <= 320 else None
            if found is not None:
                people.append(found)
        return people

    @app.get("/", response_class=HTMLResponse, summary="Staff: subscriber list and preview picker")
    def index(request: Request):
        access, denied = staff_gate(request)
        if denied:
            return denied
        from subscribers.records import subscriber_dicts

        with Session(engine) as session:
            people = picker(session, None)
            rows = subscriber_dicts(session, people)
        return pages(request, "index.html", subscribers=rows, people=people, chosen=None,
                     as_of=_local_value(parse_as_of(None)), csrf=csrf.token(), access=access)

    def preview_page(request: Request, access: str, email: str, as_of: str, *, notice: str | None = None,
                     status: int = 200) -> HTMLResponse:
        context = {"access": access, "csrf": csrf.token(), "notice": notice, "error": None, "built": None,
                   "email": email, "chosen": email, "as_of": as_of}
        try:
            when = parse_as_of(as_of)
            context["as_of"] = _local_value(when)
            if email:
                built = pipeline().preview(email, when)
                context.update(_preview_context(built, email, when))
        except NotFound:
            context["error"], status = "No subscriber has that address.", 404
        except InputError as exc:
            context["error"], status = str(exc), 400
        with Session(engine) as session:
            context["people"] = picker(session, email or None)
        return pages(request, "preview.html", status, **context)

    @app.get("/preview", response_class=HTMLResponse, summary="Staff: preview one subscriber's issue")
    def preview(request: Request, email: Annotated[str, Query(max_length=320)] = "",
                as_of: Annotated[str, Query(max_length=40)] = ""):
        access, denied = staff_gate(request)
        if denied:
            return denied
        return preview_page(request, access, email, as_of)

    @app.get("/preview/email", response_class=HTMLResponse, summary="Staff: the email HTML for the preview frames")
    def preview_email(request: Request, email: Annotated[str, Query(max_length=320)] = "",
                      as_of: Annotated[str, Query(max_length=40)] = ""):
        access, denied = staff_gate(request)
        if denied:
            return denied
        try:
            built = pipeline().preview(email, parse_as_of(as_of))
        except (NotFound, InputError):
            return pages(request, "message.html", 404, title="No preview", message="Nothing to show.")
        if built.rendered is None:
            return pages(request, "message.html", 200, title="Nothing would be sent",
                         message=built.selection.skip_reason or "")
        return _email_response(built.rendered.html, frame_ancestors="'self'")

    @app.post("/preview/send-test", response_class=HTMLResponse, summary="Staff: send a test to a staff address")
    def send_test(request: Request, email: Annotated[str, Form(max_length=320)] = "",
                  as_of: Annotated[str, Form(max_length=40)] = "", to: Annotated[str, Form(max_length=320)] = "",
                  csrf_token: Annotated[str | None, Form(alias="csrf", max_length=200)] = None):
        access, denied = staff_gate(request)
        if denied:
            return denied
        if not staff_post_ok(request, access, csrf_token):
            return pages(request, "message.html", 403, title="Form expired",
                         message="Reload the preview and send the form again.")
        try:
            result = _send_test(pipeline(), settings, email, parse_as_of(as_of), to, base_url)
        except NotFound:
            return preview_page(request, access, email, as_of)
        except DigestError as exc:
            return preview_page(request, access, email, as_of, notice=f"Test not sent: {exc}", status=400)
        word = "sent" if result.accepted else f"not sent ({result.status}: {result.detail})"
        return preview_page(request, access, email, as_of,
                            notice=f"Test to {to}: {word}. Nothing was recorded in the ledger.",
                            status=200 if result.accepted else 502)

    @app.get("/login", response_class=HTMLResponse, summary="Staff: sign-in form")
    def login_form(request: Request):
        if not staff_token:
            return pages(request, "message.html", 404, title="No sign-in",
                         message="Sign-in is off: the staff pages answer only this machine.")
        return pages(request, "login.html", 200, error=None, csrf=None)

    @app.post("/login", response_class=HTMLResponse, summary="Staff: sign in with the staff token")
    def login(request: Request, token: Annotated[str, Form(max_length=500)] = ""):
        if not staff_token or not security.same_origin(request) or not security.token_matches(token, staff_token):
            return pages(request, "login.html", 401, error="That token is not right.", csrf=None)
        response = pages(request, "message.html", 200, title="Signed in",
                         message="You can now use the staff preview.", link=("/", "Open the preview"))
        response.set_cookie(security.STAFF_COOKIE, security.staff_session_value(staff_token), httponly=True,
                            samesite="strict", secure=secure_cookie or request.url.scheme == "https",
                            max_age=12 * 3600)
        return response

    @app.post("/logout", response_class=HTMLResponse, summary="Staff: sign out")
    def logout(request: Request):
        response = pages(request, "message.html", 200, title="Signed out", message="You are signed out.")
        response.delete_cookie(security.STAFF_COOKIE)
        return response

    @app.get("/test-link", response_class=HTMLResponse, summary="Where links in a staff test send point")
    def test_link(request: Request):
        return disabled_link(request)

    @app.post("/test-link", response_class=HTMLResponse, summary="One-click target of a staff test send")
    def test_link_post(request: Request):
        return disabled_link(request)

    def disabled_link(request: Request) -> HTMLResponse:
        return pages(request, "message.html", 200, title="Link disabled in test sends",
                     message="This message was a staff test: its unsubscribe and preference links do nothing.")

    # -- subscribers -------------------------------------------------------------------------

    def subscriber_from(session: Session, purpose: str, token: str) -> tuple[Subscriber, dict]:
        value = signer.read(purpose, token)
        subscriber_id, extra = value if isinstance(value, tuple) else (value, {})
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            raise TokenError("this link is invalid or has expired")
        return subscriber, extra

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe: confirm page (changes nothing)")
    def unsubscribe_page(request: Request, token: Token):
        with Session(engine) as session:
            subscriber, _ = subscriber_from(session, "unsubscribe", token)
            done = subscriber.status not in ("pending", "active")
            return pages(request, "unsubscribe.html", done=done, just_done=False, email=mask_email(subscriber.email),
                         cadence=_cadence(subscriber),
                         preferences=f"/preferences/{signer.make('preferences', subscriber.id)}")

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse, summary="One-click unsubscribe (RFC 8058)")
    def unsubscribe_now(request: Request, token: Token,
                        list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe", max_length=100)] = None):
        # RFC 8058: the body is List-Unsubscribe=One-Click, but the signed URL is the capability;
        # a mail provider that sends it differently must still unsubscribe the reader.
        from subscribers.records import unsubscribe

        with Session(engine) as session:
            subscriber, _ = subscriber_from(session, "unsubscribe", token)
            changed = unsubscribe(session, subscriber.id, detail="one-click" if list_unsubscribe else "web")
            session.commit()
            if changed:
                log.info("subscriber %s unsubscribed via the web", subscriber.id)
            return pages(request, "unsubscribe.html", done=True, just_done=True, email=mask_email(subscriber.email),
                         cadence=_cadence(subscriber), preferences=f"/preferences/{signer.make('preferences', subscriber.id)}")

    def preferences_context(session: Session, subscriber: Subscriber) -> dict:
        from subscribers.follows import Catalog, follow_names
        from subscribers.preferences import DAYS, MAX_ARTICLES

        catalog = Catalog(session)
        companies, segments = follow_names(session, [subscriber.id], catalog)[subscriber.id]
        all_segments = sorted((s.name for s in catalog.segments.values()), key=str.casefold)
        return {"s": subscriber, "companies": companies, "followed_segments": set(segments),
                "all_segments": all_segments, "days": DAYS, "max_articles_limit": MAX_ARTICLES,
                "zones": _zone_names(), "email": mask_email(subscriber.email),
                "stopped": subscriber.status not in ("pending", "active"),
                "muted": [m for m in (subscriber.muted or []) if isinstance(m, dict) and m.get("name")]}

    @app.get("/preferences/{token}", response_class=HTMLResponse, summary="Preferences form")
    def preferences_page(request: Request, token: Token):
        with Session(engine) as session:
            subscriber, _ = subscriber_from(session, "preferences", token)
            return pages(request, "preferences.html", token=token, saved=False, errors=[],
                         **preferences_context(session, subscriber))

    @app.post("/preferences/{token}", response_class=HTMLResponse, summary="Save preferences")
    def preferences_save(
        request: Request, token: Token,
        form_token: Annotated[str | None, Form(alias="token", max_length=4096)] = None,
        follows_shown: FormText = None,
        companies: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 (FastAPI copies defaults)
        add_companies: FormText = None,
        segments: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006
        timezone_name: Annotated[str | None, Form(alias="timezone", max_length=64)] = None,
        send_day: FormText = None, send_hour: FormText = None, frequency: FormText = None,
        paused_until: FormText = None, min_significance: FormText = None, max_articles: FormText = None,
        unmute: Annotated[str | None, Form(max_length=300)] = None,
    ):
        from subscribers.feedback import unmute as remove_mute
        from subscribers.records import update_subscriber

        with Session(engine) as session:
            subscriber, _ = subscriber_from(session, "preferences", token)
            if form_token is None or not secrets.compare_digest(form_token.encode("utf-8", "replace"), token.encode()):
                return neutral(pages, request)
            if unmute:
                kind, _, name = unmute.partition(":")
                removed = remove_mute(subscriber, kind, name)
                session.add(subscriber)
                session.commit()
                return pages(request, "preferences.html", token=token, errors=[],
                             saved=f"Unmuted {name}." if removed else "That was not muted; nothing changed.",
                             **preferences_context(session, subscriber))
            changes = {name: value for name, value in (
                ("timezone", timezone_name), ("send_day", send_day), ("send_hour", send_hour),
                ("frequency", frequency), ("paused_until", paused_until), ("min_significance", min_significance),
                ("max_articles", max_articles)) if value is not None}
            if follows_shown:
                extra = [n.strip() for n in (add_companies or "").replace(";", ",").split(",") if n.strip()]
                changes["companies"] = list(dict.fromkeys([*companies, *extra]))
                changes["segments"] = list(dict.fromkeys(segments))
            try:
                update_subscriber(session, subscriber, **changes)
                session.commit()
            except InputError as exc:
                session.rollback()
                session.refresh(subscriber)
                return pages(request, "preferences.html", 400, token=token, saved=False, errors=str(exc).split("; "),
                             **preferences_context(session, subscriber))
            return pages(request, "preferences.html", token=token, saved=True, errors=[],
                         **preferences_context(session, subscriber))

    @app.get("/feedback/{token}", response_class=HTMLResponse, summary="Relevance feedback: confirm page")
    def feedback_page(request: Request, token: Token):
        with Session(engine) as session:
            feedback = read_feedback(signer, token)
            subscriber = session.get(Subscriber, feedback.subscriber_id)
            if subscriber is None:
                raise TokenError("unknown subscriber")
            return pages(request, "feedback.html", token=token, feedback=feedback, result=None, changed=False,
                         email=mask_email(subscriber.email))

    @app.post("/feedback/{token}", response_class=HTMLResponse, summary="Relevance feedback: apply")
    def feedback_apply(request: Request, token: Token,
                       form_token: Annotated[str | None, Form(alias="token", max_length=4096)] = None):
        with Session(engine) as session:
            feedback = read_feedback(signer, token)
            subscriber = session.get(Subscriber, feedback.subscriber_id)
            if subscriber is None or form_token is None or not secrets.compare_digest(
                    form_token.encode("utf-8", "replace"), token.encode()):
                raise TokenError("unknown subscriber or form")
            try:
                changed, sentence = apply_feedback(session, subscriber, feedback)
                session.commit()
            except NotFound:
                session.rollback()
                return pages(request, "message.html", 400, title="This link can no longer be used",
                             message=f"{feedback.name} is no longer in our list. You can change what you follow "
                                     "on your preferences page.")
            return pages(request, "feedback.html", token=token, feedback=feedback, result=sentence, changed=changed,
                         email=mask_email(subscriber.email),
                         preferences=f"/preferences/{signer.make('preferences', subscriber.id)}")

    @app.get("/web/{token}", response_class=HTMLResponse, summary="Web version of a sent issue")
    def web_version(request: Request, token: Token):
        from ..schedule import Slot

        with Session(engine) as session:
            subscriber, extra = subscriber_from(session, "web", token)
            period = extra.get("p")
            if not isinstance(period, str) or len(period) > 20:
                raise TokenError("no period")
            row = session.exec(select(Digest).where(Digest.subscriber_id == subscriber.id, Digest.period == period,
                                                    Digest.state == "sent")).first()
            if row is None:
                return pages(request, "message.html", 404, title="Issue not found",
                             message="There is no sent issue at this address.")
            reader = queries.load_readers(session, [subscriber])[subscriber.id]
            history = queries.load_history(session, [subscriber.id], before=row.scheduled_for)[subscriber.id]
            made = pipeline()
            built = made.build(session, reader, Slot(row.period, row.scheduled_for), history)
            # The stories the ledger recorded as this issue's overflow, listed under id="more"
            # (an issue recorded before overflow was: the ones that did not fit, as rebuilt).
            overflow = frozenset(session.exec(select(DigestItem.article_id).where(
                DigestItem.digest_id == row.id, DigestItem.kind == "overflow")).all())
        if built.rendered is None:
            return pages(request, "message.html", 404, title="Issue not found",
                         message="This issue can no longer be shown.")
        links = made.links(reader, row.period, tuple(c.article for c in built.issue.choices))
        html = made.renderer.render_web(built.issue, links, only=overflow or None)
        return _email_response(html, frame_ancestors="'none'")

    @app.get("/confirm/{token}", response_class=HTMLResponse, summary="Double opt-in: confirm page")
    def confirm_page(request: Request, token: Token):
        with Session(engine) as session:
            subscriber, _ = subscriber_from(session, "confirm", token)
            return pages(request, "confirm.html", done=subscriber.status == "active", email=mask_email(subscriber.email),
                         cadence=_cadence(subscriber))

    @app.post("/confirm/{token}", response_class=HTMLResponse, summary="Double opt-in: confirm")
    def confirm_now(request: Request, token: Token):
        from subscribers.records import confirm

        with Session(engine) as session:
            subscriber = confirm(session, token, signer)
            session.commit()
            return pages(request, "confirm.html", done=True, email=mask_email(subscriber.email),
                         cadence=_cadence(subscriber))

    return app


# -- helpers -----------------------------------------------------------------------------------

def _cadence(subscriber: Subscriber):
    """The words for the subscriber's cadence ("weekly" / "daily") on the reader pages."""
    from ..render.view import cadence_words

    return cadence_words(subscriber.frequency)


def _local_value(when: datetime) -> str:
    """The value of a datetime-local input (UTC)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")


def _email_response(html: str, *, frame_ancestors: str) -> HTMLResponse:
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = security.EMAIL_CSP.format(ancestors=frame_ancestors)
    response.headers["X-Frame-Options"] = "SAMEORIGIN" if frame_ancestors == "'self'" else "DENY"
    return response


def _zone_names() -> list[str]:
    import zoneinfo

    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def _preview_context(built, email: str, when: datetime) -> dict:
    from urllib.parse import urlencode

    issue, rendered = built.issue, built.rendered
    context = {"built": built, "issue": issue, "skip_reason": built.selection.skip_reason,
               "frame_query": urlencode({"email": email, "as_of": _local_value(when)})}
    if rendered is not None:
        size = len(rendered.html.encode("utf-8"))
        context.update(
            rendered=rendered, html_bytes=size, message_bytes=len(built.message or b""),
            clip_limit=GMAIL_CLIP_BYTES, clipped=size > GMAIL_CLIP_BYTES,
            size_percent=min(100, round(100 * size / GMAIL_CLIP_BYTES)),
            # The clipping warning has its own box on the page.
            warnings=[w for w in dict.fromkeys([*rendered.warnings, *lint(rendered)])
                      if not (size > GMAIL_CLIP_BYTES and "Gmail clips" in w)],
        )
    return context


def _send_test(pipeline, settings: Settings, email: str, as_of: datetime, to: str, base_url: str):
    """Send this subscriber's issue to a staff address; the ledger is not touched.

    Every subscriber link in the test copy points at /test-link, so nobody who receives a test
    can unsubscribe or change the real subscriber by clicking in it.
    """
    from subscribers.addresses import normalize_email

    from ..mailers import get_mailer
    from ..message import build_message, make_message_id, split_address

    address, _, smtputf8 = normalize_email(to)
    allowed = [a.strip().casefold() for a in str(getattr(settings, "staff_addresses", "") or "").split(",") if a.strip()]
    if allowed and address.casefold() not in allowed:
        raise InputError("to", "is not one of the staff addresses (DIGEST_STAFF_ADDRESSES)")
    built = pipeline.preview(email, as_of)
    if built.rendered is None:
        raise InputError("email", f"nothing would be sent to this subscriber: {built.selection.skip_reason}")
    dead = f"{base_url}/test-link"
    rendered = pipeline.renderer.render(built.issue, Links(unsubscribe=dead, preferences=dead, web_version=dead,
                                                           base=base_url))
    rendered = replace(rendered, subject="[Test] " + rendered.subject)
    key = f"test-{uuid.uuid4().hex}"
    message_id = make_message_id(key, pipeline.message_domain)
    data = build_message(rendered, sender=settings.from_address, recipient=address, recipient_name="",
                         message_id=message_id, date=datetime.now(timezone.utc), unsubscribe_url=dead,
                         unsubscribe_mailto=f"mailto:{settings.unsubscribe_mailto}?subject=unsubscribe",
                         list_id=settings.list_id, dkim=pipeline.dkim)
    out = Outgoing(key=key, sender=split_address(settings.from_address)[1], recipient=address, data=data,
                   message_id=message_id, smtputf8=smtputf8)
    with get_mailer(settings.mailer, settings) as mailer:
        results = mailer.send_messages([out])
    return results[0]
