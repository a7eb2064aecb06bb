"""`Renderer`: an Issue and its Links in, a Rendered (subject, preheader, HTML, text) out.

Per reader only Jinja runs, over the templates compiled once (compiler.py) and the view model
(view.py); the size guard drops the lowest-ranked cards when the HTML would pass max_html_bytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

import jinja2

from .. import metrics
from ..types import Issue, Links, Rendered
from . import view
from .compiler import (
    HTML_TEMPLATE,
    CompiledTemplates,
    compile_templates,
    find_templates,
    jinja_templates,
    mjml_to_inlined_html,
    naive_environment,
)
from .filters import clean

__all__ = ["Renderer"]


class Renderer:
    """Renders an Issue into subject, preheader, HTML and text; compiles the templates once."""

    def __init__(
        self,
        templates_dir: str | Path,
        *,
        company_url: str = "https://amw.example/companies/{slug}",
        postal_address: str = "AMW Media, 1 Example Street, Springfield",
        base_url: str = "http://127.0.0.1:8000",
        max_html_bytes: int = 100_000,
        cache_dir: str | Path | None = None,
        lang: str = "en",
        direction: str = "ltr",
        card_fragments: bool = True,
    ):
        self.templates_dir = find_templates(templates_dir)
        self.company_url = company_url
        self.postal_address = clean(postal_address)
        self.base_url = base_url.rstrip("/")
        self.max_html_bytes = max_html_bytes
        self.cache_dir = cache_dir
        self.lang = lang
        self.direction = direction
        # Render each card once per send and splice the reader's links in (fragments.py);
        # False renders every card for every reader (benchmarks compare the two).
        self.card_fragments = card_fragments
        self._compiled: CompiledTemplates | None = None
        self._html_template: jinja2.Template | None = None
        self._text_template: jinja2.Template | None = None
        self._plain_text_template: jinja2.Template | None = None
        self._naive_env: jinja2.Environment | None = None

    # -- compiled templates

    def refresh(self) -> str:
        """Re-read the templates (after an edit); compiles again only if their content changed."""
        compiled = compile_templates(self.templates_dir, self.cache_dir)
        if self._compiled is None or compiled.key != self._compiled.key:
            self._html_template, self._text_template, self._plain_text_template = jinja_templates(
                compiled, self.templates_dir, self.card_fragments)
            # Set last: other threads test _compiled, and must then find both templates ready.
            self._compiled = compiled
        return compiled.key

    @property
    def template_key(self) -> str:
        if self._compiled is None:
            self.refresh()
        return self._compiled.key

    # -- rendering

    def prepare(self, issue: Issue, links: Links, *, now: datetime | None = None) -> view.Prepared:
        """This reader's view model (view.prepare with this renderer's settings)."""
        return view.prepare(issue, links, now=now, company_url=self.company_url, postal_address=self.postal_address,
                            base_url=self.base_url, lang=self.lang, direction=self.direction)

    @metrics.RENDER_SECONDS.time()
    def render(self, issue: Issue, links: Links, *, now: datetime | None = None) -> Rendered:
        """Per subscriber: Jinja over the precompiled HTML and the text template, nothing else."""
        if self._compiled is None:
            self.refresh()
        return self._render(issue, links, now, self._html_template.render, self._text_template.render)

    def render_web(self, issue: Issue, links: Links, *, now: datetime | None = None,
                   only: frozenset[int] | None = None) -> str:
        """The issue's web page: the email's HTML, with the stories that did not fit the email (the
        cards the size guard dropped, then issue.overflow) as cards under id="more", where the
        email's "N more stories" link points. `only` (article ids, as the ledger recorded the
        overflow) keeps just those stories."""
        rendered = self.render(issue, links, now=now)
        kept = rendered.article_count
        extra = (*issue.choices[kept:], *issue.overflow)
        if only is not None:
            extra = tuple(c for c in extra if c.article.id in only)
        if not extra:
            return rendered.html
        prepared = self.prepare(issue, links, now=now)
        html_ctx = view.html_context(view.context(prepared, issue, kept), prepared, kept)
        reference = now or issue.window_end
        html_ctx["more"] = view.html_value(view.more_label(len(extra)))
        html_ctx["overflow"] = [view.card_views(c, reference, self.company_url)[1] for c in extra]
        return self._html_template.render(html_ctx)

    def render_naive(self, issue: Issue, links: Links, *, now: datetime | None = None) -> Rendered:
        """The reference path: Jinja, then MJML, then inlining, per subscriber (tests, benchmarks)."""
        if self._naive_env is None:
            self._naive_env = naive_environment(self.templates_dir)
        if self._compiled is None:
            self.refresh()
        mjml_template = self._naive_env.get_template(HTML_TEMPLATE)

        def html_render(ctx: dict) -> str:
            return mjml_to_inlined_html(mjml_template.render(ctx))

        return self._render(issue, links, now, html_render, self._plain_text_template.render)

    def _render(self, issue: Issue, links: Links, now: datetime | None,
                html_render: Callable[[dict], str], text_render: Callable[[dict], str]) -> Rendered:
        prepared = self.prepare(issue, links, now=now)
        shown = len(prepared.cards)
        ctx = view.context(prepared, issue, shown)
        html = html_render(view.html_context(ctx, prepared, shown))
        size = len(html.encode("utf-8"))
        notes: list[str] = []
        if size > self.max_html_bytes and shown:
            # Drop the lowest-ranked cards into the "more on the web" link rather than be clipped.
            while size > self.max_html_bytes and shown > 0:
                shown -= 1
                ctx = view.context(prepared, issue, shown)
                html = html_render(view.html_context(ctx, prepared, shown))
                size = len(html.encode("utf-8"))
            notes.append(f"dropped {len(prepared.cards) - shown} lowest-ranked cards to keep the HTML "
                         f"under {self.max_html_bytes} bytes")
        text = text_render(ctx)
        # lint() is for people (preview, staff pages), who call it; a send does not pay for it.
        return Rendered(
            subject=ctx["subject"],
            preheader=ctx["preheader"],
            html=html,
            text=text if text.endswith("\n") else text + "\n",
            article_count=shown,
            warnings=tuple(notes),
        )
