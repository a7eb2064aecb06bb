"""`digest companies`: list companies with their aliases, add an alias (ByteDance = 바이트댄스)."""

from __future__ import annotations

from collections import defaultdict

import click
from sqlmodel import Session, select

from ..ingest import load_aliases
from ..models import Company, CompanyAlias
from .common import App, emit, handle_errors, json_option, main


@main.group()
def companies() -> None:
    """Companies known from ingested articles, and their other names."""


@companies.command("list")
@json_option
@click.pass_obj
@handle_errors
def list_companies(app: App, as_json: bool) -> None:
    """Every company with its aliases."""
    with Session(app.engine()) as session:
        aliases = defaultdict(list)
        for alias in session.exec(select(CompanyAlias)):
            aliases[alias.company_id].append(alias.alias)
        rows = [{"name": c.name, "slug": c.slug, "aliases": sorted(a for a in aliases[c.id] if a != c.name)}
                for c in session.exec(select(Company).order_by(Company.name))]
    emit({"companies": rows}, as_json,
         "\n".join(f"{r['name']}" + (f"  (also: {', '.join(r['aliases'])})" if r["aliases"] else "") for r in rows))


@companies.command("alias")
@click.argument("name")
@click.argument("aliases", nargs=-1, required=True)
@json_option
@click.pass_obj
@handle_errors
def alias(app: App, name: str, aliases: tuple[str, ...], as_json: bool) -> None:
    """Make ALIASES other names of the company NAME (created if new).

    Articles and follows that use an alias then mean the company: `digest companies alias
    ByteDance 바이트댄스`. Register aliases before ingesting articles that use them.
    """
    with Session(app.engine()) as session:
        added = load_aliases(session, {name: list(aliases)})
    emit({"company": name, "added": added}, as_json, f"{added} new alias(es) for {name}")
