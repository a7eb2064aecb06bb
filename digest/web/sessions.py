"""Staff sessions: sign in with DIGEST_STAFF_TOKEN, get a random session id in a cookie, sign out.

The cookie holds a random id; the database keeps only its SHA-256 and an expiry
(DIGEST_STAFF_SESSION_HOURS), so /logout and expiry end a session on the server, and a copy of
the table is not a set of working cookies.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, delete

from ..models import StaffSession, utcnow
from . import security
from .writes import request_write

COOKIE = security.STAFF_COOKIE

router = APIRouter()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def valid(engine: sa.Engine, request: Request) -> bool:
    """True if the request's staff cookie names a session that has not ended or expired."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > 100:
        return False
    with Session(engine) as session:
        row = session.get(StaffSession, _hash(value))
        return row is not None and row.expires_at > utcnow()


def start(session: Session, hours: int) -> str:
    """A new session (expired ones are removed on the way); returns the cookie value."""
    now = utcnow()
    session.exec(delete(StaffSession).where(StaffSession.expires_at <= now))
    value = secrets.token_urlsafe(32)
    session.add(StaffSession(id_hash=_hash(value), created_at=now, expires_at=now + timedelta(hours=hours)))
    return value


def end(session: Session, value: str | None) -> None:
    if value:
        session.exec(delete(StaffSession).where(StaffSession.id_hash == _hash(value)))


def _secure(request: Request) -> bool:
    return request.app.state.settings.base_url.startswith("https://") or request.url.scheme == "https"


@router.get("/login", response_class=HTMLResponse, summary="Staff: sign-in form")
def login_form(request: Request):
    pages = request.app.state.pages
    if not request.app.state.staff_token:
        return pages(request, "message.html", 404, title="No sign-in",
                     message="Sign-in is off: the staff pages answer only this machine.")
    return pages(request, "login.html", 200, error=None, csrf=None)


@router.post("/login", response_class=HTMLResponse, summary="Staff: sign in with the staff token")
def login(request: Request, token: Annotated[str, Form(max_length=500)] = ""):
    state = request.app.state
    token_ok = security.token_matches(token, state.staff_token)
    if not state.staff_token or not security.same_origin(request) or not token_ok:
        return state.pages(request, "login.html", 401, error="That token is not right.", csrf=None)
    hours = state.settings.staff_session_hours
    with request_write(request) as session:
        value = start(session, hours)
        session.commit()
    response = state.pages(request, "message.html", 200, title="Signed in",
                           message="You can now use the staff preview.", link=("/", "Open the preview"))
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", secure=_secure(request),
                        max_age=hours * 3600)
    return response


@router.post("/logout", response_class=HTMLResponse, summary="Staff: sign out")
def logout(request: Request):
    state = request.app.state
    value = request.cookies.get(COOKIE)
    if value:
        with request_write(request) as session:
            end(session, value)
            session.commit()
    response = state.pages(request, "message.html", 200, title="Signed out", message="You are signed out.")
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=_secure(request))
    return response
