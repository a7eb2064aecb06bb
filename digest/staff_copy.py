"""A test copy of a subscriber's issue, sent to a staff address from the staff preview.

The ledger is not touched, and every subscriber link in the copy points at /test-link, so whoever
receives a test cannot unsubscribe or change the real subscriber.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone

from .addresses import normalize_email
from .errors import InputError
from .mailers import get_mailer
from .message import build_message, make_message_id
from .pipeline import Pipeline
from .types import Links, Outgoing


def send_test(pipeline: Pipeline, email: str, as_of: datetime, to: str, *, mailer_factory=None):
    """Send this subscriber's issue to a staff address (DIGEST_STAFF_ADDRESSES, when set); returns
    the mailer's result."""
    settings = pipeline.settings
    address, _, smtputf8 = normalize_email(to)
    allowed = [a.strip().casefold() for a in settings.staff_addresses.split(",") if a.strip()]
    if allowed and address.casefold() not in allowed:
        raise InputError("to", "is not one of the staff addresses (DIGEST_STAFF_ADDRESSES)")
    built = pipeline.preview(email, as_of)
    if built.rendered is None:
        raise InputError("email", f"nothing would be sent to this subscriber: {built.selection.skip_reason}")
    base = settings.base_url.rstrip("/")
    dead = f"{base}/test-link"
    rendered = pipeline.renderer.render(built.issue, Links(unsubscribe=dead, preferences=dead, web_version=dead,
                                                           base=base))
    key = f"test-{uuid.uuid4().hex}"
    message_id = make_message_id(key, pipeline.message_domain)
    data = build_message(replace(rendered, subject="[Test] " + rendered.subject), sender=settings.from_address,
                         recipient=address, recipient_name="", message_id=message_id,
                         date=datetime.now(timezone.utc), unsubscribe_url=dead,
                         unsubscribe_mailto=f"mailto:{settings.unsubscribe_mailto}?subject=unsubscribe",
                         list_id=settings.list_id, dkim=pipeline.dkim)
    out = Outgoing(key=key, sender=pipeline.envelope_sender, recipient=address, data=data, message_id=message_id,
                   smtputf8=smtputf8)
    with (mailer_factory or (lambda: get_mailer(settings.mailer, settings)))() as mailer:
        return mailer.send_messages([out])[0]
