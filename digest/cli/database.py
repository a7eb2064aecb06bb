"""`digest init`: create or upgrade the schema (and, on PostgreSQL, the job queue's tables)."""

from __future__ import annotations

import click

from ..db import _safe, upgrade
from ..executors import ensure_queue_schema, is_postgres
from .common import App, emit, handle_errors, json_option, main


@main.command()
@json_option
@click.pass_obj
@handle_errors
def init(app: App, as_json: bool) -> None:
    """Create or upgrade the database schema (Alembic migrations; on PostgreSQL also the job queue's)."""
    revision = upgrade(app.settings.database_url)
    result = {"database": _safe(app.settings.database_url), "revision": revision}
    if is_postgres(app.settings.database_url):
        # The job queue of `digest worker` lives in the same database (procrastinate's tables).
        result["queue_schema_created"] = ensure_queue_schema(app.settings.database_url)
    emit(result, as_json, f"database {result['database']} is at schema revision {revision}")
