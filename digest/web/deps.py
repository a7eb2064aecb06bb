"""What every route of the web app depends on: pages, the signer, the pipeline and the staff gate."""

from __future__ import annotations

from typing import Annotated

import jinja2
import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from ..config import Settings
from ..errors import TokenError
from ..i18n import catalog_for, language, negotiate
from ..models import Subscriber
from ..pipeline import Pipeline
from . import security, sessions
from ..tokens import Signer


class Pages:
    """Server-rendered pages: Jinja2 with autoescape, each response with its own CSP nonce, in the
    reader's language (`lang`: their BCP 47 tag; a page for nobody in particular gets the default).
    Templates write {{ _("...") }} (Jinja's i18n extension, newstyle); one environment per language."""

    def __init__(self, folder, default_language: str = "en"):
        self.folder = str(folder)
        self.default_language = default_language
        self._envs: dict[str, jinja2.Environment] = {}

    def environment(self, tag: str) -> jinja2.Environment:
        env = self._envs.get(tag)
        if env is None:
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(self.folder), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                                     extensions=["jinja2.ext.i18n"])
            env.install_gettext_translations(language(tag).messages, newstyle=True)
            self._envs[tag] = env
        return env

    def language_for(self, request: Request, lang: str | None = None) -> str:
        """The catalog language of a page: a reader's page speaks their language (lang); a page for
        nobody in particular (signup, archive) the browser's first choice among the catalogs, else
        the default."""
        return catalog_for(lang or negotiate(request.headers.get("accept-language")) or "", self.default_language)[0]

    def __call__(self, request: Request, name: str, status: int = 200, *, lang: str | None = None,
                 **context) -> HTMLResponse:
        nonce = getattr(request.state, "nonce", "")
        tag = self.language_for(request, lang)
        html = self.environment(tag).get_template(name).render(
            **{"link": None, **context, "nonce": nonce, "page_lang": tag})
        return HTMLResponse(html, status_code=status)


def neutral(request: Request) -> HTMLResponse:
    """The one answer to every bad subscriber link: it says nothing about why or about whom."""
    return request.app.state.pages(
        request, "message.html", 400, title="This link doesn't work",
        message="The link may be incomplete or out of date. If you copied it from an email, "
                "check that you copied all of it.")


def mask_email(address: str) -> str:
    """a***@example.com: enough for the reader to recognise, little for whoever sees the screen."""
    local, _, domain = address.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def email_response(html: str, *, frame_ancestors: str) -> HTMLResponse:
    """Rendered email as a page: the email CSP (sandboxed), framable only by the preview."""
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = security.EMAIL_CSP.format(ancestors=frame_ancestors)
    response.headers["X-Frame-Options"] = "SAMEORIGIN" if frame_ancestors == "'self'" else "DENY"
    return response


# -- dependencies ------------------------------------------------------------------------------
# The plain ones are async: run on the event loop, they take no worker thread (requests waiting
# for a database lock may hold all of those).

async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> sa.Engine:
    return request.app.state.engine


async def get_pages(request: Request) -> Pages:
    return request.app.state.pages


async def get_signer(request: Request) -> Signer:
    return request.app.state.signer


def get_pipeline(request: Request):
    """A pipeline per request: its article cache is per window and not thread-safe, while the
    renderer (templates compiled once) is shared."""
    state = request.app.state
    return Pipeline(state.engine, state.settings, renderer=state.renderer)


class StaffDenied(Exception):
    """The request may not see staff pages; the app answers with the sign-in or the local-only page."""


def staff_access(request: Request) -> str:
    """How this request acts as staff ("local", "header" or "cookie"); StaffDenied otherwise."""
    state = request.app.state
    access = security.staff_access(request, state.staff_token)
    if access is None and state.staff_token and sessions.valid(state.engine, request):
        access = "cookie"
    if access is None:
        raise StaffDenied()
    return access


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
PagesDep = Annotated[Pages, Depends(get_pages)]
SignerDep = Annotated[Signer, Depends(get_signer)]
Staff = Annotated[str, Depends(staff_access)]


def subscriber_from(session: Session, signer: Signer, purpose: str, token: str) -> tuple[Subscriber, dict]:
    """The subscriber a signed link names (and the link's extra data); TokenError for any failure."""
    subscriber_id, extra = read_token(signer, purpose, token)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise TokenError("this link is invalid or has expired")
    return subscriber, extra


def read_token(signer: Signer, purpose: str, token: str) -> tuple[int, dict]:
    value = signer.read(purpose, token)
    return value if isinstance(value, tuple) else (value, {})
