"""`digest companies`: list companies with their aliases, add an alias (ByteDance = 바이트댄스), merge two;
`digest segments rename`."""

from __future__ import annotations

from collections import defaultdict

import click
from sqlmodel import Session, select

from subscribers.follows import resolve_company, resolve_segment

from ..ingest import load_aliases
from ..merge import merge_companies, rename_segment
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


@companies.command("merge")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="INTO")
@json_option
@click.pass_obj
@handle_errors
def merge(app: App, source: str, target: str, as_json: bool) -> None:
    """Merge the company FROM into INTO: its articles, follows, mutes, aliases and editorial
    targets move, FROM's name becomes an alias of INTO, and a reader who followed both follows INTO once."""
    with Session(app.engine()) as session:
        result = merge_companies(session, resolve_company(session, source), resolve_company(session, target))
        session.commit()
    emit(result, as_json, f"merged {result['from']} into {result['into']}: {result['articles']} article link(s), "
         f"{result['follows']} follower(s) ({result['follows_merged']} who followed both), {result['aliases']} alias(es), "
         f"{result['mutes']} mute list(s)")


@main.group()
def segments() -> None:
    """Segments known from ingested articles."""


@segments.command("rename")
@click.argument("old")
@click.argument("new")
@json_option
@click.pass_obj
@handle_errors
def rename(app: App, old: str, new: str, as_json: bool) -> None:
    """Give the segment OLD (and the segments below it) the full name NEW ("Parent · Child"); when NEW
    exists already, OLD is merged into it. Follows, articles, mutes and editorial targets follow."""
    with Session(app.engine()) as session:
        result = rename_segment(session, resolve_segment(session, old), new)
        session.commit()
    emit(result, as_json, f"renamed {result['from']} to {result['to']}: {result['segments']} segment(s), "
         f"{result['articles']} article link(s), {result['follows_merged']} follow(s) merged, {result['mutes']} mute list(s)")
