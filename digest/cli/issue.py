"""`digest issue`: the editor's hand on the issues of a period: a note at the top, a story pinned, a
story pulled (digest/editorial.py), each for a window of send times and recorded with who and when."""

from __future__ import annotations

import getpass
from datetime import datetime, timezone

import click
from sqlmodel import Session

from subscribers.follows import resolve_company, resolve_segment

from ..editorial import add_control, control_json, controls_in_force, default_window, remove_control
from ..errors import ConfigError
from .common import App, emit, handle_errors, json_option, main


@main.group()
def issue() -> None:
    """Editorial controls per period: notes, pinned stories, pulled stories (and list, remove)."""


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{name} {value!r} is not an ISO 8601 time, like 2026-11-23T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def who_cli() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _window(start: str | None, until: str | None) -> tuple[datetime, datetime]:
    default_start, default_end = default_window(_time(start, "--from"))
    return default_start, _time(until, "--until") or default_end


def _target(session, company: str | None, segment: str | None):
    if company and segment:
        raise ConfigError("give --company or --segment, not both")
    if company:
        return "company", resolve_company(session, company).name
    if segment:
        return "segment", resolve_segment(session, segment).name
    return None


window_options = [
    click.option("--from", "start", metavar="ISO-TIME", help="First send time it applies to (default: now)."),
    click.option("--until", "until", metavar="ISO-TIME", help="Send times before this (default: seven days after --from)."),
]
target_options = [
    click.option("--company", metavar="NAME", help="Only readers who follow this company."),
    click.option("--segment", metavar="NAME", help="Only readers who follow this segment."),
]


def _apply(options):
    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


def _record(app: App, kind: str, as_json: bool, *, start, until, company=None, segment=None, **values) -> None:
    starts_at, ends_at = _window(start, until)
    with Session(app.engine()) as session:
        row = add_control(session, kind, who=who_cli(), starts_at=starts_at, ends_at=ends_at,
                          target=_target(session, company, segment), **values)
        data = control_json(row)
    whom = f" for readers of {row.target_name}" if row.target_name else ""
    emit(data, as_json, f"{kind} #{row.id}{whom}, sends from {data['from']} until {data['until']}")


@issue.command("note")
@click.argument("text")
@_apply(window_options + target_options)
@json_option
@click.pass_obj
@handle_errors
def note(app: App, text: str, start, until, company, segment, as_json: bool) -> None:
    """Put TEXT at the top of every digest sent in the window (or only to the readers targeted).

    TEXT takes **bold**, *italic* and [links](https://...); anything else stays plain text.
    """
    _record(app, "note", as_json, start=start, until=until, company=company, segment=segment, text=text)


@issue.command("pin")
@click.argument("url")
@_apply(window_options + target_options)
@json_option
@click.pass_obj
@handle_errors
def pin(app: App, url: str, start, until, company, segment, as_json: bool) -> None:
    """Lead every digest of the window (or of the readers targeted) with the story at URL,
    within each reader's maximum and reading budget, with the reason "Editor's pick"."""
    _record(app, "pin", as_json, start=start, until=until, company=company, segment=segment, url=url)


@issue.command("pull")
@click.argument("url")
@_apply(window_options)
@json_option
@click.pass_obj
@handle_errors
def pull(app: App, url: str, start, until, as_json: bool) -> None:
    """Never choose the story at URL for a digest sent in the window; web versions of issues that
    already carried it mark it as withdrawn."""
    _record(app, "pull", as_json, start=start, until=until, url=url)


@issue.command("list")
@json_option
@click.pass_obj
@handle_errors
def list_controls(app: App, as_json: bool) -> None:
    """The notes, pins and pulls in force or still to come, with who made them and when."""
    with Session(app.engine()) as session:
        rows = [control_json(r) for r in controls_in_force(session)]
    lines = [f"#{r['id']} {r['kind']}: {r['text'] or r['url']}"
             + (f" [{r['company'] or r['segment']}]" if r["company"] or r["segment"] else "")
             + f" ({r['from']} .. {r['until']}; by {r['by']} at {r['at']})" for r in rows]
    emit({"controls": rows}, as_json, "\n".join(lines) or "no editorial controls in force")


@issue.command("remove")
@click.argument("control_id", type=int)
@json_option
@click.pass_obj
@handle_errors
def remove(app: App, control_id: int, as_json: bool) -> None:
    """Withdraw the note, pin or pull numbered CONTROL_ID (see `digest issue list`)."""
    with Session(app.engine()) as session:
        row = remove_control(session, control_id, who=who_cli())
        data = control_json(row)
    emit({**data, "removed": True}, as_json, f"removed {row.kind} #{row.id}")
