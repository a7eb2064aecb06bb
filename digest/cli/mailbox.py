"""`digest mailbox poll`: read the bounce mailbox over IMAP once (digest/mailbox.py); `digest status`:
the period's sends, bounces, complaints and unsubscribes (digest/report.py)."""

from __future__ import annotations

import click

from ..mailbox import poll
from ..report import COMPLAINT_LINE, parse_period, status
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
    counts = poll_mailbox(app)
    human = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
    emit(counts, as_json, f"mailbox {settings.mailbox_folder}: {human}")


def poll_mailbox(app: App) -> dict:
    """One poll of the bounce mailbox (the command, and the scheduler's mailbox job)."""
    return poll(app.engine(), app.settings, signer_from_settings(app.settings))


@main.command("status")
@click.option("--period", default="7d", show_default=True, metavar="LENGTH",
              help="How far back from now: 24h, 7d, 4w.")
@json_option
@click.pass_obj
@handle_errors
def status_command(app: App, period: str, as_json: bool) -> None:
    """Sent, deferred, failed, bounced, complained and unsubscribed in the period, the complaint
    rate against the 0.3% line Gmail and Yahoo hold bulk senders to, and signups: pending
    confirmation, confirmed in the period, expired (pending over 7 days)."""
    result = status(app.engine(), parse_period(period))
    rate = result["complaint_rate"]
    shown = "n/a" if rate is None else f"{rate:.3%}" + (" (over the 0.3% line)" if rate >= COMPLAINT_LINE else "")
    emit(result, as_json, f"{result['from']} to {result['to']}: sent {result['sent']}, deferred {result['deferred']}, "
         f"failed {result['failed']}, bounced {result['hard_bounces']} hard / {result['soft_bounces']} soft, "
         f"complained {result['complained']}, unsubscribed {result['unsubscribed']}; complaint rate {shown}; "
         f"signups: pending {result['signups']['pending']}, confirmed {result['signups']['confirmed']}, "
         f"expired {result['signups']['expired']}")
