"""The web app's wiring: state, security headers, error pages and the routers of each audience.

Staff pages live in staff.py, reader links in readers.py, staff sign-in in sessions.py; what the
routes depend on (the staff gate, the signer, pages) in deps.py, web writes in writes.py.
"""

from __future__ import annotations

import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import metrics
from ..config import Settings, company_link
from ..db import make_engine
from ..errors import TokenError
from ..render import Renderer
from ..spool import Spool, spool_folder
from ..tokens import signer_from_settings
from . import archive, ops, readers, security, sessions, signup, staff, staff_manage, staff_newsroom, webhooks
from .deps import Pages, StaffDenied, neutral
from .writes import SpoolApplier, WriteBusy

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_BODY = 256 * 1024  # every form here is small; refuse large bodies before parsing them


def create_app(settings: Settings, engine: sa.Engine | None = None, *, spool_thread: bool = True) -> FastAPI:
    """The ASGI app for these settings; makes (and disposes) its own engine when none is given.

    A DIGEST_STAFF_TOKEN shorter than 16 non-blank characters is a ConfigError, whatever the host
    (a proxy in front of 127.0.0.1 puts the app on the network too). `spool_thread=False` leaves
    spooled unsubscribes to the send passes (tests of that path).
    """
    staff_token = settings.staff_token or None
    security.check_staff_token(staff_token)
    own_engine = engine is None
    engine = engine if engine is not None else make_engine(settings.database_url)
    spool = Spool(spool_folder(settings))
    applier = SpoolApplier(spool, engine, settings.web_write_wait, enabled=spool_thread)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        applier.stop()
        if own_engine:
            engine.dispose()

    app = FastAPI(title="AMW Digest", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, redirect_slashes=False)
    state = app.state
    state.settings, state.engine, state.staff_token = settings, engine, staff_token
    state.signer = signer_from_settings(settings)
    state.renderer = Renderer(settings.templates_dir, company_url=company_link(settings),
                              postal_address=settings.postal_address, base_url=settings.base_url,
                              lang=settings.default_language)
    state.pages, state.csrf = Pages(TEMPLATES, settings.default_language), security.Csrf()
    state.spool, state.spool_applier = spool, applier
    state.metrics = metrics.registry(engine, settings)
    _plumbing(app)
    app.include_router(staff.router)
    app.include_router(staff_manage.router)  # subscribers: search, edit, unsubscribe, unsuppress
    app.include_router(staff_newsroom.router)  # articles and editorial controls, feeds, send dashboard
    app.include_router(sessions.router)
    app.include_router(readers.router)
    app.include_router(webhooks.router)
    app.include_router(ops.router)
    app.include_router(signup.router)
    if settings.public_pages:
        app.include_router(archive.router)
    if spool.waiting():  # left by a process that stopped before applying them
        applier.kick()
    return app


def _plumbing(app: FastAPI) -> None:
    pages = app.state.pages

    @app.middleware("http")
    async def headers(request: Request, call_next):
        request.state.nonce = secrets.token_urlsafe(16)
        request.state.arrived = time.monotonic()  # writes.request_write counts the wait from here
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
        if exc.status_code == 404 and (moved := _slash_twin(request)) is not None:
            return moved
        titles = {404: "Page not found", 405: "Not allowed here", 400: "Bad request"}
        return pages(request, "message.html", exc.status_code, title=titles.get(exc.status_code, "Error"),
                     message="There is nothing to see at this address." if exc.status_code == 404 else
                     "This request could not be handled.")

    @app.exception_handler(TokenError)
    async def bad_token(request: Request, exc: TokenError):
        # Every subscriber route reads its signed token first; any failure gets the neutral page.
        return neutral(request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # Never echo the input back: it may be a token or an address.
        return pages(request, "message.html", 400, title="Bad request",
                     message="Some of the values sent were not understood.")

    @app.exception_handler(StaffDenied)
    async def staff_denied(request: Request, exc: StaffDenied):
        if app.state.staff_token:
            return pages(request, "login.html", 401, error=None, csrf=None)
        return pages(request, "message.html", 403, title="Staff pages are local",
                     message="The staff preview answers only requests from this machine "
                             "(127.0.0.1). To use it from elsewhere, set DIGEST_STAFF_TOKEN and sign in.")

    @app.exception_handler(WriteBusy)
    async def busy(request: Request, exc: WriteBusy):
        response = pages(request, "message.html", 503, title="Busy for a moment",
                         message="Nothing was changed. Please send the form again in a few seconds.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)


def _slash_twin(request: Request) -> Response | None:
    """A 307 to the same path with the trailing slash added or removed, when that path exists.

    The Location is relative and built from the path alone: a redirect built from the Host header
    would send the visitor wherever a forged Host says.
    """
    path = request.url.path
    if path == "/":
        return None
    twin = "/" + (path.rstrip("/") if path.endswith("/") else path + "/").lstrip("/")
    scope = {**request.scope, "path": twin}
    if not any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
        return None
    query = request.url.query
    return RedirectResponse(twin + (f"?{query}" if query else ""), status_code=307)
