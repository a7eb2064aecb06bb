"""`digest feeds`: the AMW feeds polled for articles (add, list, remove, poll); see docs/feeds.md."""

from __future__ import annotations

import sys

import click
from sqlmodel import Session, select

from ..errors import ConfigError, NotFound
from ..feeds import FetchError, FetchLimits, check_url, poll_feeds
from ..models import Feed
from .common import EXIT_OK, EXIT_PARTIAL, App, emit, handle_errors, json_option, main


@main.group()
def feeds() -> None:
    """AMW feeds (JSON Feed with `_amw`, Atom or RSS with the AMW namespace) polled for articles."""


def feed_row(feed: Feed) -> dict:
    return {"url": feed.url, "last_status": feed.last_status, "last_polled_at": feed.last_polled_at,
            "last_ok_at": feed.last_ok_at, "last_error": feed.last_error, "items": feed.last_items,
            "etag": feed.etag, "last_modified": feed.last_modified}


@feeds.command("add")
@click.argument("url")
@json_option
@click.pass_obj
@handle_errors
def add(app: App, url: str, as_json: bool) -> None:
    """Poll the feed at URL from now on (`digest feeds poll`, or the scheduler's feed job)."""
    try:
        url = check_url(url)
    except FetchError as exc:
        raise ConfigError(f"url: {exc}") from None
    with Session(app.engine()) as session:
        added = session.exec(select(Feed).where(Feed.url == url)).first() is None
        if added:
            session.add(Feed(url=url))
            session.commit()
    emit({"url": url, "added": added}, as_json, f"{'added' if added else 'already polled'}: {url}")


@feeds.command("list")
@json_option
@click.pass_obj
@handle_errors
def list_feeds(app: App, as_json: bool) -> None:
    """Every feed with its last poll: ok, not_modified (304) or failed, with what went wrong."""
    with Session(app.engine()) as session:
        rows = [feed_row(f) for f in session.exec(select(Feed).order_by(Feed.url))]
    lines = []
    for r in rows:
        when = r["last_polled_at"].isoformat(timespec="seconds") if r["last_polled_at"] else "never"
        state = r["last_status"] or "not polled yet"
        lines.append(f"{r['url']}  {state} ({when})" + (f": {r['last_error']}" if r["last_error"] else ""))
    emit({"feeds": rows}, as_json, "\n".join(lines) or "no feeds; add one with `digest feeds add URL`")


@feeds.command("remove")
@click.argument("url")
@json_option
@click.pass_obj
@handle_errors
def remove(app: App, url: str, as_json: bool) -> None:
    """Stop polling URL; the articles it brought stay."""
    with Session(app.engine()) as session:
        feed = session.exec(select(Feed).where(Feed.url == url.strip())).first()
        if feed is None:
            raise NotFound(f"no feed {url!r}; `digest feeds list` shows them")
        session.delete(feed)
        session.commit()
    emit({"url": url.strip(), "removed": True}, as_json, f"removed: {url.strip()}")


def poll_all_feeds(app: App) -> dict:
    """One poll of every feed (the scheduler's feed job); failures are in the result and the log."""
    with Session(app.engine()) as session:
        return poll_feeds(session, FetchLimits.from_settings(app.settings)).as_json()


@feeds.command("poll")
@click.argument("urls", nargs=-1)
@json_option
@click.pass_obj
@handle_errors
def poll(app: App, urls: tuple[str, ...], as_json: bool) -> None:
    """Fetch every feed (or the URLS given) once and store its new and changed articles.

    Each rejected item is reported as URL#ITEM: field: what is wrong (ITEM counts the feed's items
    from 1); a feed that fails keeps its articles and last good state. Exit 1 if any item was
    rejected or any feed failed.
    """
    with Session(app.engine()) as session:
        known = set(session.exec(select(Feed.url)))
        unknown = [u for u in urls if u not in known]
        if unknown:
            raise NotFound(f"no feed {unknown[0]!r}; add it with `digest feeds add URL`")
        report = poll_feeds(session, FetchLimits.from_settings(app.settings), urls or None)
    for rejected in report.rejected:
        click.echo(str(rejected), err=True)
    for url, error in report.failed:
        click.echo(f"{url}: failed: {error}", err=True)
    emit(report.as_json(), as_json,
         f"{report.feeds} feed(s): stored {report.stored}, updated {report.updated}, unchanged {report.unchanged}, "
         f"not modified {report.not_modified}, rejected {len(report.rejected)}, failed {len(report.failed)}")
    sys.exit(EXIT_PARTIAL if report.rejected or report.failed else EXIT_OK)
