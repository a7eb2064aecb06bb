"""`digest mailbox poll`: read the bounce mailbox over IMAP once (digest/mailbox.py)."""

from __future__ import annotations

import click

from ..mailbox import poll
from ..tokens import signer_from_settings
from .common import App, emit, handle_errors, json_option, main


@main.group("mailbox")
def mailbox_group() -> None:
    """The bounce mailbox: delivery status notifications, complaints and mailto unsubscribes."""


@mailbox_group.command("poll")
@json_option
@click.pass_obj
@handle_errors
def mailbox_poll(app: App, as_json: bool) -> None:
    """Read every message in DIGEST_MAILBOX_FOLDER once and apply it.

    Hard bounces and complaints suppress the address, soft bounces count toward
    DIGEST_SOFT_BOUNCE_LIMIT, mailto unsubscribes unsubscribe, auto-replies are ignored. Each
    message is moved to DIGEST_MAILBOX_DONE_FOLDER after its effect is committed; unknown messages
    stay for staff. Running it again repeats nothing.
    """
    settings = app.settings
    counts = poll(app.engine(), settings, signer_from_settings(settings))
    human = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
    emit(counts, as_json, f"mailbox {settings.mailbox_folder}: {human}")
