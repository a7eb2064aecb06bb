"""What the signup form shows (the picker's companies, aliases and segments, the choices) and how
a posted form or JSON body becomes the signup's values (the subscriber CSV's field names)."""

from __future__ import annotations

import json

from fastapi import Request
from sqlmodel import Session, select

from ..errors import InputError
from ..i18n import catalog_languages
from ..models import Company, CompanyAlias, Segment
from ..names import slugify
from .readers import language_name, zone_names
from subscribers.preferences import DAYS, FREQUENCIES
from subscribers.signup import SIGNUP_FIELDS

HONEYPOT = "website"  # a field people never see (moved off screen by CSS); bots fill it
MAX_TEXT = 2000
MAX_ITEMS = 200

_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_LIST = {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": MAX_ITEMS}
_PROPERTIES = {"email": {"type": "string", "maxLength": 320}, "name": _TEXT, "companies": _LIST, "segments": _LIST,
               "timezone": _TEXT, "language": _TEXT, "frequency": {"type": "string", "enum": list(FREQUENCIES)},
               "send_day": {"type": "string", "enum": list(DAYS)},
               "send_hour": {"type": "integer", "minimum": 0, "maximum": 23}}
SIGNUP_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["email"], "properties": _PROPERTIES}},
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["email"], "properties": {
        **_PROPERTIES, "companies": _LIST, "segments": _LIST}}}}}}


async def json_values(request: Request) -> tuple[dict, bool]:
    """The JSON body's fields (InputError naming a malformed one) and whether the honeypot was filled."""
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InputError("body", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise InputError("body", "expected a JSON object with the subscriber's fields")
    trap = bool(body.pop(HONEYPOT, None))
    values: dict = {}
    for name, value in body.items():
        if name not in SIGNUP_FIELDS:
            raise InputError(name, f"unknown field {name!r}; the fields are {', '.join(SIGNUP_FIELDS)}")
        if value is None:
            continue
        if name in ("companies", "segments"):
            if isinstance(value, str):
                value = [v for v in value.replace(";", ",").split(",")]
            if not isinstance(value, list) or len(value) > MAX_ITEMS or \
                    not all(isinstance(v, str) and len(v) <= 300 for v in value):
                raise InputError(name, "expected a list of names (at most 200, each at most 300 characters)")
        elif isinstance(value, bool) or not isinstance(value, (str, int)) or \
                (isinstance(value, str) and len(value) > MAX_TEXT):
            raise InputError(name, "expected a string (or a number for send_hour)")
        values[name] = value
    return values, trap


async def form_values(request: Request) -> tuple[dict, bool]:
    """The posted form's fields; the picker's free text (`follow`, without script) is kept apart."""
    try:
        form = await request.form(max_files=0, max_fields=MAX_ITEMS * 2 + 20)
    except Exception:  # a body that is not a form at all (starlette raises several kinds)
        raise InputError("body", "the body is not a form") from None
    values: dict = {}
    for name in SIGNUP_FIELDS:
        if name in ("companies", "segments"):
            items = [str(v)[:300] for v in form.getlist(name)][:MAX_ITEMS]
            if items:
                values[name] = items
        elif form.get(name) not in (None, ""):
            values[name] = str(form.get(name))[:MAX_TEXT]
    follow = [n.strip() for n in str(form.get("follow") or "")[:MAX_TEXT].replace(";", ",").split(",") if n.strip()]
    if follow:
        values["follow"] = follow
    return values, bool(form.get(HONEYPOT))


def picker_options(session: Session) -> list[dict]:
    """Every name the picker finds: companies, their aliases (labelled with the company) and segments."""
    companies = {c.id: c.name for c in session.exec(select(Company))}
    options = [{"value": name, "kind": "companies", "name": name, "label": ""} for name in companies.values()]
    for alias in session.exec(select(CompanyAlias)):
        name = companies.get(alias.company_id)
        if name is not None and alias.alias.casefold() != name.casefold():
            options.append({"value": alias.alias, "kind": "companies", "name": name, "label": name})
    options += [{"value": s.name, "kind": "segments", "name": s.name, "label": "Segment"}
                for s in session.exec(select(Segment))]
    return sorted(options, key=lambda o: o["value"].casefold())


def form_context(session: Session, *, company: str | None = None, segment: str | None = None,
                 values: dict | None = None) -> dict:
    """The signup page's context; ?company=slug or ?segment=slug (a Follow button) pre-fills the picker."""
    values = values or {}
    chosen = {"companies": list(values.get("companies") or ()), "segments": list(values.get("segments") or ())}
    if company:
        chosen["companies"] += [c.name for c in session.exec(select(Company).where(Company.slug == company[:200]))]
    if segment:
        chosen["segments"] += [s.name for s in session.exec(select(Segment)) if slugify(s.name) == segment[:300]]
    return {"options": picker_options(session), "chosen": chosen, "zones": zone_names(), "days": DAYS,
            "languages": {tag: language_name(tag) for tag in catalog_languages()}, "v": {k: values.get(k) for k in ("email", "name", "timezone", "language",
                                                                     "frequency", "send_day", "send_hour")}}
