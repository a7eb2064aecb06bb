"""`digest ingest`: load article files (JSON arrays or JSONL); each bad record named, the rest stored."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlmodel import Session

from ..feeds import FetchLimits, fetch
from ..ingest import ingest_files
from .common import EXIT_OK, EXIT_PARTIAL, App, emit, handle_errors, json_option, main


@main.command()
@click.argument("files", nargs=-1, required=True)
@json_option
@click.pass_obj
@handle_errors
def ingest(app: App, files: tuple[str, ...], as_json: bool) -> None:
    """Load articles from JSON (an array) or JSONL files, or from such a file at an https:// URL;
    a url already stored is updated.

    Valid records are stored even when others are rejected; each rejected record is reported as
    FILE:LINE: field: what is wrong. Exit 0 if all were stored, 1 if some were rejected.
    """
    limits = FetchLimits.from_settings(app.settings)

    def get(url: str) -> bytes:
        return fetch(url, timeout=limits.timeout, max_bytes=limits.max_bytes).body

    sources = [f if f.startswith(("https://", "http://")) else Path(f) for f in files]
    with Session(app.engine()) as session:
        report = ingest_files(session, sources, fetch=get)
    for rejected in report.rejected:
        click.echo(str(rejected), err=True)
    emit(report.as_json(), as_json,
         f"stored {report.stored}, updated {report.updated}, rejected {len(report.rejected)}")
    sys.exit(EXIT_PARTIAL if report.rejected else EXIT_OK)
