"""Staff pages of the newsroom: the period's articles with their scores, the readers each reached and
pin/pull buttons, the editor's notes and what is in force (digest/editorial.py); the feeds with their
last poll; the send dashboard of the period. Behind the staff gate; CSRF on every form."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, select

from ..dashboard import last_days, period_articles, send_dashboard
from ..editorial import add_control, control_json, controls_in_force, remove_control
from ..errors import DigestError
from ..models import Feed, utcnow
from .deps import EngineDep, PagesDep, Staff
from .staff import parse_as_of
from .staff_manage import CsrfField, RowId, form_ok, refused, who
from .writes import request_write
from subscribers.follows import resolve_company, resolve_segment

router = APIRouter()
Days = Annotated[int, Query(ge=1, le=90)]
AsOf = Annotated[str, Query(max_length=40)]
Text = Annotated[str, Form(max_length=2000)]
Name = Annotated[str, Form(max_length=300)]
When = Annotated[str, Form(max_length=40)]


def _period(days: int, as_of: str) -> tuple:
    """The last `days` days up to as_of (a time like 2026-11-23T20:00; empty: now)."""
    try:
        return last_days(days, parse_as_of(as_of) if as_of.strip() else None)
    except DigestError:
        return last_days(days)


def _articles_page(request: Request, access: str, engine, pages, days: int, *, as_of: str = "",
                   error: str | None = None, status: int = 200) -> HTMLResponse:
    start, end = _period(days, as_of)
    with Session(engine) as session:
        articles = period_articles(session, start, end)
        controls = [control_json(c) for c in controls_in_force(session, after=start)]
    pinned = {c["url"] for c in controls if c["kind"] == "pin"}
    pulled = {c["url"] for c in controls if c["kind"] == "pull"}
    return pages(request, "staff_articles.html", status, access=access, csrf=request.app.state.csrf.token(),
                 as_of=as_of, articles=articles, controls=controls, pinned=pinned, pulled=pulled, days=days, start=start, end=end,
                 error=error, done=request.query_params.get("done"))


@router.get("/staff/articles", response_class=HTMLResponse, summary="Staff: the period's articles and editorial controls")
def articles_page(request: Request, access: Staff, engine: EngineDep, pages: PagesDep, days: Days = 7,
                  as_of: AsOf = ""):
    return _articles_page(request, access, engine, pages, days, as_of=as_of)


@router.post("/staff/editorial", response_class=HTMLResponse, summary="Staff: add a note, pin or pull")
def editorial_add(request: Request, access: Staff, engine: EngineDep, pages: PagesDep,
                  kind: Annotated[str, Form(max_length=10)] = "", text: Text = "",
                  url: Annotated[str, Form(max_length=2000)] = "", company: Name = "", segment: Name = "",
                  start: When = "", until: When = "", as_of: When = "", csrf_token: CsrfField = None):
    if not form_ok(request, access, csrf_token):
        return refused(request, pages)
    try:
        from_time = parse_as_of(start) if start.strip() else utcnow()
        until_time = parse_as_of(until) if until.strip() else from_time + timedelta(days=7)
        with request_write(request) as session:
            target = None
            if company.strip() and kind != "pull":
                target = ("company", resolve_company(session, company).name)
            elif segment.strip() and kind != "pull":
                target = ("segment", resolve_segment(session, segment).name)
            add_control(session, kind, who=who(request, access), starts_at=from_time, ends_at=until_time,
                        text=text, url=url, target=target)
    except DigestError as exc:
        return _articles_page(request, access, engine, pages, 7, as_of=as_of, error=f"Not recorded: {exc}", status=400)
    return RedirectResponse(f"/staff/articles?{urlencode({'done': kind, 'as_of': as_of})}", status_code=303)


@router.post("/staff/editorial/{control_id}/remove", response_class=HTMLResponse, summary="Staff: withdraw a control")
def editorial_remove(request: Request, control_id: RowId, access: Staff, engine: EngineDep, pages: PagesDep,
                     as_of: When = "", csrf_token: CsrfField = None):
    if not form_ok(request, access, csrf_token):
        return refused(request, pages)
    try:
        with request_write(request) as session:
            remove_control(session, control_id, who=who(request, access))
    except DigestError as exc:
        return _articles_page(request, access, engine, pages, 7, as_of=as_of, error=str(exc), status=404)
    return RedirectResponse(f"/staff/articles?{urlencode({'done': 'removed', 'as_of': as_of})}", status_code=303)


@router.get("/staff/feeds", response_class=HTMLResponse, summary="Staff: feeds and their last poll")
def feeds_page(request: Request, access: Staff, engine: EngineDep, pages: PagesDep):
    with Session(engine) as session:
        feeds = session.exec(select(Feed).order_by(Feed.url)).all()
    return pages(request, "staff_feeds.html", access=access, csrf=request.app.state.csrf.token(), feeds=feeds)


@router.get("/staff/sends", response_class=HTMLResponse, summary="Staff: the send dashboard of the period")
def sends_page(request: Request, access: Staff, engine: EngineDep, pages: PagesDep, days: Days = 7,
               as_of: AsOf = ""):
    start, end = _period(days, as_of)
    with Session(engine) as session:
        board = send_dashboard(session, start, end)
    top = max([h["sent"] for h in board["per_hour"]] or [1])
    return pages(request, "staff_sends.html", access=access, csrf=request.app.state.csrf.token(), board=board,
                 days=days, top=top)
