"""Staff pages: the subscriber list, the preview of one subscriber's issue, and test sends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, func, select

from .. import queries
from ..errors import DigestError, InputError, NotFound
from ..models import Article, utcnow
from ..report import signup_counts
from ..render import GMAIL_CLIP_BYTES, lint
from ..render.view import period_label
from ..staff_copy import send_test as send_staff_copy
from . import security
from .deps import EngineDep, PagesDep, Staff, email_response, get_pipeline
from subscribers.records import list_subscribers, subscriber_dicts

MAX_PICKER = 1000  # subscribers offered in the preview's picker (any address works in the URL)
LOOK_BACK_ISSUES = 8  # issues tried, from the newest articles back, for one that would hold a story

router = APIRouter()
Email = Annotated[str, Query(max_length=320)]
AsOf = Annotated[str, Query(max_length=40)]


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


def local_value(when: datetime) -> str:
    """The value of a datetime-local input (UTC)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")


def picker(session: Session, chosen: str | None):
    people = list_subscribers(session, limit=MAX_PICKER)
    if chosen and all(p.email_key != chosen.casefold() for p in people):
        found = queries.subscriber_by_email(session, chosen) if len(chosen) <= 320 else None
        if found is not None:
            people.append(found)
    return people


@router.get("/", response_class=HTMLResponse, summary="Staff: subscriber list and preview picker")
def index(request: Request, access: Staff, engine: EngineDep, pages: PagesDep):
    with Session(engine) as session:
        people = picker(session, None)
        rows = subscriber_dicts(session, people)
        now = utcnow()
        signups = signup_counts(session, now - timedelta(days=7), now)
    return pages(request, "index.html", subscribers=rows, people=people, chosen=None, signups=signups,
                 as_of=local_value(parse_as_of(None)), csrf=request.app.state.csrf.token(), access=access)


def preview_page(request: Request, access: str, email: str, as_of: str, *, notice: str | None = None,
                 status: int = 200) -> HTMLResponse:
    state = request.app.state
    context = {"access": access, "csrf": state.csrf.token(), "notice": notice, "error": None, "built": None,
               "email": email, "chosen": email, "as_of": as_of}
    try:
        when = parse_as_of(as_of)
        context["as_of"] = local_value(when)
        if email:
            built = get_pipeline(request).preview(email, when)
            context.update(preview_context(built, email, when))
            if not built.selection.choices:
                context.update(newest_issue(request, email, when, built))
    except NotFound:
        context["error"], status = "No subscriber has that address.", 404
    except InputError as exc:
        context["error"], status = str(exc), 400
    with Session(state.engine) as session:
        context["people"] = picker(session, email or None)
    return state.pages(request, "preview.html", status, **context)


@router.get("/preview", response_class=HTMLResponse, summary="Staff: preview one subscriber's issue")
def preview(request: Request, access: Staff, email: Email = "", as_of: AsOf = ""):
    return preview_page(request, access, email, as_of)


@router.get("/preview/email", response_class=HTMLResponse, summary="Staff: the email HTML for the preview frames")
def preview_email(request: Request, access: Staff, pages: PagesDep, pipeline=Depends(get_pipeline),
                  email: Email = "", as_of: AsOf = ""):
    try:
        built = pipeline.preview(email, parse_as_of(as_of))
    except (NotFound, InputError):
        return pages(request, "message.html", 404, title="No preview", message="Nothing to show.")
    if built.rendered is None:
        return pages(request, "message.html", 200, title="Nothing would be sent",
                     message=built.selection.skip_reason or "")
    return email_response(built.rendered.html, frame_ancestors="'self'")


@router.post("/preview/send-test", response_class=HTMLResponse, summary="Staff: send a test to a staff address")
def send_test(request: Request, access: Staff, pages: PagesDep, pipeline=Depends(get_pipeline),
              email: Annotated[str, Form(max_length=320)] = "", as_of: Annotated[str, Form(max_length=40)] = "",
              to: Annotated[str, Form(max_length=320)] = "",
              csrf_token: Annotated[str | None, Form(alias="csrf", max_length=200)] = None):
    if access != "header" and not (security.same_origin(request) and request.app.state.csrf.valid(csrf_token)):
        # Ambient credentials (loopback, cookie) could be used by another site; a header cannot.
        return pages(request, "message.html", 403, title="Form expired",
                     message="Reload the preview and send the form again.")
    try:
        result = send_staff_copy(pipeline, email, parse_as_of(as_of), to)
    except NotFound:
        return preview_page(request, access, email, as_of)
    except DigestError as exc:
        return preview_page(request, access, email, as_of, notice=f"Test not sent: {exc}", status=400)
    word = "sent" if result.accepted else f"not sent ({result.status}: {result.detail})"
    return preview_page(request, access, email, as_of,
                        notice=f"Test to {to}: {word}. Nothing was recorded in the ledger.",
                        status=200 if result.accepted else 502)


@router.get("/test-link", response_class=HTMLResponse, summary="Where links in a staff test send point")
def test_link(request: Request, pages: PagesDep):
    return disabled_link(request, pages)


@router.post("/test-link", response_class=HTMLResponse, summary="One-click target of a staff test send")
def test_link_post(request: Request, pages: PagesDep):
    return disabled_link(request, pages)


def disabled_link(request: Request, pages) -> HTMLResponse:
    return pages(request, "message.html", 200, title="Link disabled in test sends",
                 message="This message was a staff test: its unsubscribe and preference links do nothing.")


def preview_context(built, email: str, when: datetime) -> dict:
    issue, rendered = built.issue, built.rendered
    context = {"built": built, "issue": issue, "skip_reason": built.selection.skip_reason,
               "frame_query": urlencode({"email": email, "as_of": local_value(when)})}
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


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def newest_issue(request: Request, email: str, when: datetime, built) -> dict:
    """For a preview where nothing would be sent: when the newest articles were published, and this
    reader's latest issue up to them that would hold a story (tried from the first send after the
    newest article back, LOOK_BACK_ISSUES issues), as a one-click preview link."""
    with Session(request.app.state.engine) as session:
        newest = session.exec(select(func.max(Article.published_at))).one()
    if newest is None:
        return {"newest": None, "suggestion": None, "looked_back": LOOK_BACK_ISSUES}
    newest = _utc(newest)
    pipeline, reader = get_pipeline(request), built.issue.reader
    step = timedelta(days=1 if reader.frequency == "daily" else 7)
    current = pipeline.slot_for(reader, when)
    slot = pipeline.slot_for(reader, newest + step)  # the first send after the newest article
    suggestion = None
    for _ in range(LOOK_BACK_ISSUES):
        if slot.scheduled_for != current.scheduled_for:
            candidate = pipeline.preview(email, slot.scheduled_for)
            if candidate.selection.choices:
                suggestion = {"label": period_label(slot.period), "count": len(candidate.selection.choices),
                              "at": slot.scheduled_for,
                              "query": urlencode({"email": email, "as_of": local_value(slot.scheduled_for)})}
                break
        slot = pipeline.slot_for(reader, slot.scheduled_for - timedelta(minutes=1))
    return {"newest": newest, "suggestion": suggestion, "looked_back": LOOK_BACK_ISSUES}
