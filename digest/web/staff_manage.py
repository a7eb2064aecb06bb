"""Staff pages that manage subscribers: search by address, name, company or segment; one
subscriber's follows, state, suppression evidence and last digests; edit, unsubscribe, unsuppress.
Behind the staff gate; every form carries the CSRF token (refused without it)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, select

from ..bounces import events_of, unsuppress
from ..errors import DigestError
from ..models import Company, CompanyAlias, Digest, Follow, Segment, Subscriber
from . import security
from .deps import EngineDep, PagesDep, Staff
from .writes import request_write
from subscribers.records import subscriber_dicts, unsubscribe, update_subscriber

router = APIRouter()
MAX_RESULTS = 200
LAST_DIGESTS = 8
FormText = Annotated[str, Form(max_length=320)]
CsrfField = Annotated[str | None, Form(alias="csrf", max_length=200)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def form_ok(request: Request, access: str, token: str | None) -> bool:
    """A staff form may change something: sent with a header token, or same-origin with a valid CSRF token."""
    if access == "header":
        return True
    return security.same_origin(request) and request.app.state.csrf.valid(token)


def refused(request: Request, pages) -> HTMLResponse:
    return pages(request, "message.html", 403, title="Form expired",
                 message="Reload the page and send the form again.")


def who(request: Request, access: str) -> str:
    """How a change is recorded: the staff access it came through (the staff share one token)."""
    return f"staff:{access}"


def _like(text: str) -> str:
    return "%" + text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Session, q: str, limit: int = MAX_RESULTS) -> list[Subscriber]:
    """Subscribers whose address or name contains q, or who follow a company (by any alias) or a
    segment whose name contains q; case-insensitive."""
    query = select(Subscriber).order_by(Subscriber.id).limit(limit)
    if q.strip():
        pattern = _like(q.strip())
        companies = select(CompanyAlias.company_id).where(sa.func.lower(CompanyAlias.alias).like(pattern, escape="\\"))
        companies = companies.union(select(Company.id).where(sa.func.lower(Company.name).like(pattern, escape="\\")))
        segments = select(Segment.id).where(sa.func.lower(Segment.name).like(pattern, escape="\\"))
        followers = select(Follow.subscriber_id).where(sa.or_(
            sa.and_(Follow.kind == "company", Follow.target_id.in_(companies)),
            sa.and_(Follow.kind == "segment", Follow.target_id.in_(segments))))
        query = query.where(sa.or_(sa.func.lower(Subscriber.email).like(pattern, escape="\\"),
                                   sa.func.lower(Subscriber.name).like(pattern, escape="\\"),
                                   Subscriber.id.in_(followers)))
    return list(session.exec(query))


@router.get("/staff/subscribers", response_class=HTMLResponse, summary="Staff: find subscribers")
def subscribers_page(request: Request, access: Staff, engine: EngineDep, pages: PagesDep,
                     q: Annotated[str, Query(max_length=200)] = ""):
    with Session(engine) as session:
        rows = subscriber_dicts(session, search(session, q))
    return pages(request, "staff_subscribers.html", rows=rows, q=q, limit=MAX_RESULTS, access=access,
                 csrf=request.app.state.csrf.token())


def subscriber_context(session: Session, subscriber_id: int) -> dict | None:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    row = subscriber_dicts(session, [subscriber])[0]
    digests = session.exec(select(Digest).where(Digest.subscriber_id == subscriber_id)
                           .order_by(Digest.scheduled_for.desc()).limit(LAST_DIGESTS)).all()
    return {"s": row, "language": getattr(subscriber, "language", None), "digests": digests,
            "events": events_of(session, subscriber.email, limit=10)}


def subscriber_page(request: Request, access: str, engine, pages, subscriber_id: int, *, notice=None, error=None,
                    status: int = 200) -> HTMLResponse:
    with Session(engine) as session:
        context = subscriber_context(session, subscriber_id)
    if context is None:
        return pages(request, "message.html", 404, title="No such subscriber", message="Nobody has that number.")
    return pages(request, "staff_subscriber.html", status, access=access, csrf=request.app.state.csrf.token(),
                 notice=notice, error=error, **context)


@router.get("/staff/subscribers/{subscriber_id}", response_class=HTMLResponse, summary="Staff: one subscriber")
def subscriber_detail(request: Request, subscriber_id: RowId, access: Staff, engine: EngineDep, pages: PagesDep):
    return subscriber_page(request, access, engine, pages, subscriber_id)


@router.post("/staff/subscribers/{subscriber_id}/edit", response_class=HTMLResponse, summary="Staff: edit")
def subscriber_edit(request: Request, subscriber_id: RowId, access: Staff, engine: EngineDep, pages: PagesDep,
                    name: FormText = "", timezone: FormText = "", send_day: FormText = "", send_hour: FormText = "",
                    frequency: FormText = "", max_articles: FormText = "", csrf_token: CsrfField = None):
    if not form_ok(request, access, csrf_token):
        return refused(request, pages)
    values = {"timezone": timezone, "send_day": send_day, "send_hour": send_hour, "frequency": frequency,
              "max_articles": max_articles}
    try:
        with request_write(request) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is None:
                return pages(request, "message.html", 404, title="No such subscriber", message="Nobody has that number.")
            update_subscriber(session, subscriber, name=name, **{k: v for k, v in values.items() if v.strip()})
            session.commit()
    except DigestError as exc:
        return subscriber_page(request, access, engine, pages, subscriber_id, error=f"Not saved: {exc}", status=400)
    return RedirectResponse(f"/staff/subscribers/{subscriber_id}?done=saved", status_code=303)


@router.post("/staff/subscribers/{subscriber_id}/unsubscribe", response_class=HTMLResponse,
             summary="Staff: unsubscribe")
def subscriber_unsubscribe(request: Request, subscriber_id: RowId, access: Staff, engine: EngineDep, pages: PagesDep,
                           csrf_token: CsrfField = None):
    if not form_ok(request, access, csrf_token):
        return refused(request, pages)
    with request_write(request) as session:
        if session.get(Subscriber, subscriber_id) is None:
            return pages(request, "message.html", 404, title="No such subscriber", message="Nobody has that number.")
        unsubscribe(session, subscriber_id, detail=f"by {who(request, access)} on the staff pages", source="staff")
        session.commit()
    return RedirectResponse(f"/staff/subscribers/{subscriber_id}?done=unsubscribed", status_code=303)


@router.post("/staff/subscribers/{subscriber_id}/unsuppress", response_class=HTMLResponse,
             summary="Staff: lift a bounce suppression")
def subscriber_unsuppress(request: Request, subscriber_id: RowId, access: Staff, engine: EngineDep, pages: PagesDep,
                          reason: Annotated[str, Form(max_length=500)] = "", force: FormText = "",
                          csrf_token: CsrfField = None):
    if not form_ok(request, access, csrf_token):
        return refused(request, pages)
    try:
        with request_write(request) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is None:
                return pages(request, "message.html", 404, title="No such subscriber", message="Nobody has that number.")
            unsuppress(session, subscriber.email, f"{reason.strip()} ({who(request, access)})" if reason.strip() else "",
                       force=force == "yes")
            session.commit()
    except DigestError as exc:
        return subscriber_page(request, access, engine, pages, subscriber_id, error=f"Not lifted: {exc}", status=400)
    return RedirectResponse(f"/staff/subscribers/{subscriber_id}?done=unsuppressed", status_code=303)
