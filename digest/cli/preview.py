"""`digest preview`: render what one subscriber would receive; nothing is sent or recorded."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..render import lint
from .common import App, emit, handle_errors, json_option, main, parse_time


@main.command()
@click.argument("email")
@click.option("--as-of", "as_of", metavar="ISO-TIME", help="Render as of this time (default: now).")
@click.option("--format", "fmt", type=click.Choice(["html", "text", "eml"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@json_option
@click.pass_obj
@handle_errors
def preview(app: App, email: str, as_of: str | None, fmt: str, out: Path | None, as_json: bool) -> None:
    """Render exactly what EMAIL would receive at that time; nothing is sent or recorded."""
    built = app.pipeline().preview(email, parse_time(as_of))
    summary = {"email": email, "period": built.issue.period, "window_start": built.issue.window_start.isoformat(),
               "window_end": built.issue.window_end.isoformat(), "articles": len(built.issue.choices)}
    if built.rendered is None:
        summary.update(sent=False, reason=built.selection.skip_reason)
        emit(summary, as_json, f"nothing would be sent: {built.selection.skip_reason}")
        return
    warnings = list(dict.fromkeys([*built.rendered.warnings, *lint(built.rendered)]))
    summary.update(subject=built.rendered.subject, html_bytes=len(built.rendered.html.encode()),
                   message_bytes=len(built.message), warnings=warnings,
                   choices=[{"url": c.article.url, "title": c.article.title, "rating": c.rating,
                             "reasons": list(c.reasons)} for c in built.issue.choices])
    content = {"html": built.rendered.html.encode(), "text": built.rendered.text.encode(), "eml": built.message}[fmt]
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
        summary["out"] = str(out)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        emit(summary, True)
    elif out:
        click.echo(f"wrote {fmt} to {out}: {summary['articles']} articles, "
                   f"HTML {summary['html_bytes'] / 1000:.1f} KB, subject: {summary['subject']}")
    else:
        sys.stdout.buffer.write(content)
