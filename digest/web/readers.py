"""Reader links from an email: unsubscribe (RFC 8058 one-click), preferences, feedback, web version, confirm.

Every route reads its signed token first (a bad one gets the neutral page) and every write goes
through writes.request_write: it waits for the database like the CLI, and a lock that outlasts
DIGEST_WEB_WRITE_WAIT is a 503 with Retry-After, except for an unsubscribe, which is spooled and
answered as done (digest/spool.py).
"""

from __future__ import annotations

import logging
import secrets
import zoneinfo
from functools import lru_cache
from typing import Annotated

from babel import Locale, UnknownLocaleError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from ..errors import InputError, NotFound, TokenError
from ..i18n import catalog_for, catalog_languages, language
from ..models import Subscriber
from ..suppression import RECEIVING
from ..render.view import cadence_words
from .deps import EngineDep, PagesDep, SettingsDep, SignerDep, email_response, get_pipeline, mask_email, neutral
from .deps import read_token, subscriber_from
from .writes import WriteBusy, request_write
from subscribers.feedback import apply_feedback, read_feedback
from subscribers.feedback import unmute as remove_mute
from subscribers.follows import Catalog, follow_names
from subscribers.preferences import DAYS, MAX_ARTICLES
from subscribers.records import confirm, undo_unsubscribe, unsubscribe, update_subscriber

log = logging.getLogger("digest.web")

router = APIRouter()
Token = Annotated[str, "a signed subscriber token"]
FormText = Annotated[str | None, Form(max_length=2000)]
FormToken = Annotated[str | None, Form(alias="token", max_length=4096)]


def same_token(form_token: str | None, token: str) -> bool:
    """The form repeats the URL's token (a form posted from elsewhere does not know it)."""
    return form_token is not None and secrets.compare_digest(form_token.encode("utf-8", "replace"), token.encode())


# -- unsubscribe -------------------------------------------------------------------------------

def unsubscribe_context(subscriber: Subscriber, token: str, settings, *, after_unsubscribe: bool = False) -> dict:
    """What the unsubscribe page shows: the way back (offered only to a reader who unsubscribed by
    their own choice, never after a bounce or complaint) and the contact address, if set."""
    own_choice = subscriber.status == "unsubscribed" or (after_unsubscribe and subscriber.status in RECEIVING)
    return {"email": mask_email(subscriber.email), "cadence": cadence_words(subscriber.frequency),
            "token": token, "can_undo": own_choice, "contact": settings.contact_address, "resubscribed": False,
            "lang": subscriber.language}


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe: confirm page (changes nothing)")
def unsubscribe_page(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep,
                     settings: SettingsDep):
    # No preferences link here: whoever holds an unsubscribe URL must not get the preferences one.
    with Session(engine) as session:
        subscriber, _ = subscriber_from(session, signer, "unsubscribe", token)
        done = subscriber.status not in ("pending", "active")
        return pages(request, "unsubscribe.html", done=done, just_done=False,
                     **unsubscribe_context(subscriber, token, settings))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, summary="One-click unsubscribe (RFC 8058)")
def unsubscribe_now(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep,
                    settings: SettingsDep):
    # RFC 8058: the signed URL is the capability and the POST is the request. The body is never
    # read: a provider's malformed or unusual body (multipart without a boundary, a long value)
    # must still unsubscribe the reader.
    subscriber_id, _ = read_token(signer, "unsubscribe", token)
    with Session(engine) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            raise TokenError("this link is invalid or has expired")
        context = unsubscribe_context(subscriber, token, settings, after_unsubscribe=True)
    spool, applier = request.app.state.spool, request.app.state.spool_applier
    if not spool.waiting():
        try:
            with request_write(request) as session:
                changed = unsubscribe(session, subscriber_id, detail="one-click", source="web")
                session.commit()
            if changed:
                log.info("subscriber %s unsubscribed via the web", subscriber_id)
            return pages(request, "unsubscribe.html", done=True, just_done=True, **context)
        except WriteBusy:
            pass
    # The database is busy (or earlier requests already wait in the spool): queue it durably.
    try:
        spool.put(subscriber_id, "one-click")
    except OSError as exc:  # neither the database nor the disk takes it: the reader must try again
        log.error("could not spool the unsubscribe of subscriber %s: %s", subscriber_id, exc)
        raise WriteBusy(settings.web_write_wait) from None
    applier.kick()
    log.info("subscriber %s unsubscribed via the web (spooled: the database is busy)", subscriber_id)
    return pages(request, "unsubscribe.html", done=True, just_done=True, **context)


@router.post("/unsubscribe/{token}/undo", response_class=HTMLResponse, summary="Changed your mind: resubscribe")
def unsubscribe_undo(request: Request, token: Token, pages: PagesDep, signer: SignerDep, settings: SettingsDep,
                     form_token: FormToken = None):
    # The form repeats the URL's token, as the preferences form does: a form posted from another
    # site does not know it, so it cannot subscribe anyone back.
    subscriber_id, _ = read_token(signer, "unsubscribe", token)
    if not same_token(form_token, token):
        return neutral(request)
    with request_write(request) as session:
        request.app.state.spool.apply(session)  # an unsubscribe still spooled must not undo this later
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            raise TokenError("this link is invalid or has expired")
        outcome = undo_unsubscribe(session, subscriber)
        session.commit()
        context = unsubscribe_context(subscriber, token, settings)
    if outcome == "resubscribed":
        log.info("subscriber %s resubscribed via the web", subscriber_id)
    context["resubscribed"] = outcome in ("resubscribed", "receiving")
    return pages(request, "unsubscribe.html", done=not context["resubscribed"], just_done=False, **context)


# -- preferences -------------------------------------------------------------------------------

def preferences_context(session: Session, subscriber: Subscriber) -> dict:
    catalog = Catalog(session)
    companies, segments = follow_names(session, [subscriber.id], catalog)[subscriber.id]
    all_segments = sorted((s.name for s in catalog.segments.values()), key=str.casefold)
    return {"s": subscriber, "companies": companies, "followed_segments": set(segments),
            "all_segments": all_segments, "days": DAYS, "max_articles_limit": MAX_ARTICLES,
            "zones": zone_names(), "email": mask_email(subscriber.email),
            "languages": language_choices(subscriber.language),
            "stopped": subscriber.status not in ("pending", "active"), "lang": subscriber.language,
            "muted": [m for m in (subscriber.muted or []) if isinstance(m, dict) and m.get("name")]}


def language_choices(current: str) -> list[tuple[str, str]]:
    """("", "default") and each catalog language by its own name; a stored language without a
    catalog stays selectable, so that saving the form does not change it."""
    tags = list(catalog_languages())
    if current and current not in tags:
        tags.append(current)
    return [("", "")] + [(tag, language_name(tag)) for tag in tags]  # "": the template says "Default"


def language_name(tag: str) -> str:
    try:
        return Locale.parse(tag.replace("-", "_")).get_display_name().capitalize() or tag
    except (UnknownLocaleError, ValueError):
        return tag


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


@router.get("/preferences/{token}", response_class=HTMLResponse, summary="Preferences form")
def preferences_page(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep,
                     welcome: bool = False):
    with Session(engine) as session:
        subscriber, _ = subscriber_from(session, signer, "preferences", token)
        saved = "welcome" if welcome and subscriber.status == "active" else False
        return pages(request, "preferences.html", token=token, saved=saved, errors=[],
                     **preferences_context(session, subscriber))


@router.post("/preferences/{token}", response_class=HTMLResponse, summary="Save preferences")
def preferences_save(
    request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep,
    form_token: FormToken = None,
    follows_shown: FormText = None,
    companies: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 (FastAPI copies defaults)
    add_companies: FormText = None,
    segments: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006
    timezone_name: Annotated[str | None, Form(alias="timezone", max_length=64)] = None,
    send_day: FormText = None, send_hour: FormText = None, frequency: FormText = None,
    paused_until: FormText = None, min_significance: FormText = None, max_articles: FormText = None,
    unmute: Annotated[str | None, Form(max_length=300)] = None,
    language: Annotated[str | None, Form(max_length=35)] = None,
):
    read_token(signer, "preferences", token)
    if not same_token(form_token, token):
        return neutral(request)
    if unmute:
        kind, _, name = unmute.partition(":")
        with request_write(request) as session:
            subscriber, _ = subscriber_from(session, signer, "preferences", token)
            removed = remove_mute(subscriber, kind, name)
            session.add(subscriber)
            session.commit()
            return pages(request, "preferences.html", token=token, errors=[],
                         saved=f"Unmuted {name}." if removed else "That was not muted; nothing changed.",
                         **preferences_context(session, subscriber))
    changes = {name: value for name, value in (
        ("timezone", timezone_name), ("send_day", send_day), ("send_hour", send_hour),
        ("frequency", frequency), ("paused_until", paused_until), ("min_significance", min_significance),
        ("max_articles", max_articles), ("language", language)) if value is not None}
    if follows_shown:
        extra = [n.strip() for n in (add_companies or "").replace(";", ",").split(",") if n.strip()]
        changes["companies"] = list(dict.fromkeys([*companies, *extra]))
        changes["segments"] = list(dict.fromkeys(segments))
    with request_write(request) as session:
        subscriber, _ = subscriber_from(session, signer, "preferences", token)
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


# -- feedback ----------------------------------------------------------------------------------

@router.get("/feedback/{token}", response_class=HTMLResponse, summary="Relevance feedback: confirm page")
def feedback_page(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep):
    feedback = read_feedback(signer, token)
    with Session(engine) as session:
        subscriber = session.get(Subscriber, feedback.subscriber_id)
        if subscriber is None:
            raise TokenError("unknown subscriber")
        return pages(request, "feedback.html", token=token, feedback=feedback, result=None, changed=False,
                     email=mask_email(subscriber.email), lang=subscriber.language)


@router.post("/feedback/{token}", response_class=HTMLResponse, summary="Relevance feedback: apply")
def feedback_apply(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep,
                   form_token: FormToken = None):
    feedback = read_feedback(signer, token)
    if not same_token(form_token, token):
        raise TokenError("unknown form")
    with request_write(request) as session:
        subscriber = session.get(Subscriber, feedback.subscriber_id)
        if subscriber is None:
            raise TokenError("unknown subscriber")
        try:
            lang = language(catalog_for(subscriber.language, pages.default_language)[0])
            changed, sentence = apply_feedback(session, subscriber, feedback, lang)
            session.commit()
        except NotFound:
            session.rollback()
            return pages(request, "message.html", 400, title="This link can no longer be used",
                         message=f"{feedback.name} is no longer in our list. You can change what you follow "
                                 "on your preferences page.")
        return pages(request, "feedback.html", token=token, feedback=feedback, result=sentence, changed=changed,
                     email=mask_email(subscriber.email), lang=subscriber.language,
                     preferences=f"/preferences/{signer.make('preferences', subscriber.id)}")


# -- web version -------------------------------------------------------------------------------

@router.get("/web/{token}", response_class=HTMLResponse, summary="Web version of a sent issue")
def web_version(request: Request, token: Token, pages: PagesDep, signer: SignerDep):
    subscriber_id, extra = read_token(signer, "web", token)
    period = extra.get("p")
    if not isinstance(period, str) or len(period) > 20:
        raise TokenError("no period")
    html = get_pipeline(request).web_version(subscriber_id, period)
    if html is None:
        return pages(request, "message.html", 404, title="Issue not found",
                     message="There is no sent issue at this address.")
    return email_response(html, frame_ancestors="'none'")


# -- double opt-in -----------------------------------------------------------------------------

@router.get("/confirm/{token}", response_class=HTMLResponse, summary="Double opt-in: confirm page")
def confirm_page(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep):
    with Session(engine) as session:
        subscriber, _ = subscriber_from(session, signer, "confirm", token)
        return pages(request, "confirm.html", done=subscriber.status == "active", email=mask_email(subscriber.email),
                     cadence=cadence_words(subscriber.frequency), lang=subscriber.language)


@router.post("/confirm/{token}", response_class=HTMLResponse, summary="Double opt-in: confirm")
def confirm_now(request: Request, token: Token, engine: EngineDep, pages: PagesDep, signer: SignerDep):
    read_token(signer, "confirm", token)
    with request_write(request) as session:
        subscriber = confirm(session, token, signer)
        session.commit()
        # On to the reader's preferences (a 303 makes the browser GET them): what to follow, when.
        return RedirectResponse(f"/preferences/{signer.make('preferences', subscriber.id)}?welcome=1", 303)
