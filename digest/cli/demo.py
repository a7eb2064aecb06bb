"""`digest demo`: the quickstart's main job on the embedded defaults and the seed data."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path

import click
import sqlalchemy as sa
from sqlmodel import Session, select

from subscribers import import_csv

from ..db import upgrade
from ..ingest import ingest_files, load_aliases
from ..models import Article
from .common import EXIT_OK, EXIT_PARTIAL, App, emit, handle_errors, json_option, main

# The seed data ships inside the package (pyproject.toml maps the repository's seeds/ there).
SEEDS = Path(str(files("digest.seeds")))


def seed_week_end(session: Session) -> datetime:
    """20:00 UTC the day after the newest article: every Monday 08:00 send on Earth has come by then
    (Pago Pago, UTC-11, is the last), so the simulated week's Monday digests cover the newest week."""
    latest = session.exec(select(sa.func.max(Article.published_at))).one()
    if latest is None:
        raise click.ClickException("no articles in the database: ingest some first")
    if isinstance(latest, str):
        latest = datetime.fromisoformat(latest)
    latest = latest.replace(tzinfo=timezone.utc) if latest.tzinfo is None else latest
    return datetime.combine(latest.date() + timedelta(days=1), datetime.min.time(),
                            tzinfo=timezone.utc) + timedelta(hours=20)


@main.command()
@click.option("--articles", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SEEDS / "articles.jsonl", show_default=True, help="Articles to load.")
@click.option("--subscribers", "subscribers_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SEEDS / "subscribers.csv", show_default=True, help="Subscribers to load.")
@click.option("--days", type=click.IntRange(1, 28), default=7, show_default=True,
              help="How many days of hourly runs to simulate, ending with the newest seed day.")
@json_option
@click.pass_obj
@handle_errors
def demo(app: App, articles: Path, subscribers_csv: Path, days: int, as_json: bool) -> None:
    """Set up the database, load the seeds and run a week of sends, as cron would.

    The week is the newest one in the seed data (not today's), so the demo works on any date:
    `digest send --due` runs once an hour over it, and every subscriber gets their digest at
    their own local send time, through the configured mailer (by default .eml files in outbox/).
    Run it again and nothing is sent twice.
    """


    say = (lambda *a, **k: None) if as_json else (lambda msg: click.echo(msg, err=True))
    upgrade(app.settings.database_url)
    with Session(app.engine()) as session:
        aliases = SEEDS / "companies.json"
        if aliases.is_file():
            load_aliases(session, json.loads(aliases.read_text(encoding="utf-8")))
        articles_report = ingest_files(session, [articles])
        say(f"articles: {articles_report.stored} new, {articles_report.updated} updated from {articles}")
        people = import_csv(session, subscribers_csv)
        session.commit()
        say(f"subscribers: {_describe_import(people)} from {subscribers_csv}")
        end = seed_week_end(session)
    start = end - timedelta(days=days)
    pipeline = app.pipeline()
    totals: dict[str, int] = {}
    say(f"simulating hourly `digest send --due` runs from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC ...")
    with app.mailer() as mailer:
        when = start + timedelta(hours=1)
        while when <= end:
            counts = pipeline.send_due(mailer, when, since=start).as_json()
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            when += timedelta(hours=1)
    result = {"articles": articles_report.as_json() | {"rejected": len(articles_report.rejected)},
              "week": {"start": start.isoformat(), "end": end.isoformat()}, **totals,
              "mailer": app.settings.mailer}
    if app.settings.mailer == "file":
        outbox = Path(app.settings.outbox)
        files = sorted(outbox.glob("*.eml"))
        result["outbox"] = {"path": str(outbox), "files": len(files)}
    if as_json:
        emit(result, True)
    else:
        _print_summary(result, app, end)
    sys.exit(EXIT_PARTIAL if totals.get("failed") else EXIT_OK)


def _describe_import(report) -> str:
    text = f"{report.stored} new, {report.updated} updated, {report.unchanged} unchanged"
    if report.rejected:
        text += f", {report.rejected_lines} lines rejected"
    return text


def _print_summary(result: dict, app: App, end: datetime) -> None:
    click.echo(f"\nDigests this run: {result.get('sent', 0)} sent, {result.get('skipped', 0)} skipped "
               f"(nothing new for that reader), {result.get('deferred', 0)} deferred, {result.get('failed', 0)} failed.")
    if "outbox" in result:
        box = result["outbox"]
        click.echo(f"The outbox {box['path']}/ holds {box['files']} .eml files: open one in a mail client, or")
    command = _command()
    click.echo("look at one reader's issue:\n"
               f"  {command} preview ana@example.com --as-of {end:%Y-%m-%dT%H:%MZ} --out preview.html\n"
               f"  {command} serve    (staff preview at http://127.0.0.1:8000/)")


def _command() -> str:
    """How to run `digest` again from here: by name when PATH finds this very program (an activated
    environment), else by the path this run used (`./run demo` runs .venv/bin/digest)."""
    used = Path(sys.argv[0])
    if used.name != "digest":
        return "digest"
    found = shutil.which("digest")
    if found and Path(found).resolve() == used.resolve():
        return "digest"
    return shlex.quote(str(used))
