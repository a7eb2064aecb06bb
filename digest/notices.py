"""Notices sent outside a digest: the signup confirmation and the preferences link from /manage.

Rendered from their templates (render/notice.py), built by the same message builder as a digest
(List-Unsubscribe included: "never email me again" works on a confirmation too) and handed to the
configured mailer. Which notice goes out, and that it goes out once, is recorded by the caller in
the signup_mail table (subscribers/signup.py claims it before the send).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .config import PACKAGED_TEMPLATES, Settings
from .dkim import DkimKey
from .envelope import Envelope
from .i18n import catalog_for
from .mailers import get_mailer
from .message import build_message, make_message_id, split_address
from .models import Subscriber, utcnow
from .render.notice import NoticeRenderer
from .tokens import Signer
from .types import Outgoing, Rendered, SendResult

__all__ = ["Notices"]

# The page each notice's button opens, and the token purpose it carries.
_LINKS = {"confirm": ("confirm", "/confirm/"), "manage": ("preferences", "/preferences/")}


@dataclass(frozen=True)
class Built:
    rendered: Rendered
    outgoing: Outgoing


class Notices:
    """Renders, builds and sends notices for one configuration."""

    def __init__(self, settings: Settings, signer: Signer):
        self.settings, self.signer = settings, signer
        self.renderer = NoticeRenderer(settings.templates_dir, fallback_dir=PACKAGED_TEMPLATES,
                                       postal_address=settings.postal_address)
        self.envelope = Envelope.from_settings(settings, signer)
        self.dkim = DkimKey.from_settings(settings)
        self.sender = split_address(settings.from_address)[1]
        self.domain = self.sender.rpartition("@")[2] or "localhost"

    def build(self, kind: str, subscriber: Subscriber, claim_id: int, *, now: datetime | None = None) -> Built:
        purpose, path = _LINKS[kind]
        base = self.settings.base_url.rstrip("/")
        link = base + path + self.signer.make(purpose, subscriber.id)
        unsubscribe = f"{base}/unsubscribe/{self.signer.make('unsubscribe', subscriber.id)}"
        lang = catalog_for(subscriber.language or "", self.settings.default_language)[0]
        rendered = self.renderer.render(kind, lang=lang, name=subscriber.name, email=subscriber.email, link=link,
                                        unsubscribe=unsubscribe,
                                        daily=subscriber.frequency == "daily")
        message_id = make_message_id(f"{kind}.{claim_id}", self.domain)
        data = build_message(rendered, sender=self.settings.from_address, recipient=subscriber.email,
                             recipient_name=subscriber.name, message_id=message_id, date=now or utcnow(),
                             unsubscribe_url=unsubscribe, unsubscribe_mailto=self.envelope.mailto(subscriber.id),
                             list_id=self.settings.list_id, dkim=self.dkim)
        outgoing = Outgoing(key=message_id.strip("<>"), sender=self.sender, recipient=subscriber.email, data=data,
                            message_id=message_id, smtputf8=subscriber.smtputf8)
        return Built(rendered, outgoing)

    def send(self, outgoing: Outgoing) -> SendResult:
        """One notice through the configured mailer (opened and closed for it)."""
        return self.send_all([outgoing])[0]

    def send_all(self, outgoing: list[Outgoing]) -> list[SendResult]:
        """Several notices through one opening of the configured mailer (one SMTP connection for a
        whole import); one result per notice handed over, in order (fewer when the mailer halted)."""
        mailer = get_mailer(self.settings.mailer, self.settings)
        return mailer.send_messages(outgoing)
