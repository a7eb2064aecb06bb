"""`Renderer`: an Issue and its Links in, a Rendered (subject, preheader, HTML, text) out.

Per reader only Jinja runs, over the templates compiled once (compiler.py) and the view model
(view.py); the size guard drops the lowest-ranked cards when the HTML would pass max_html_bytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable, NamedTuple

import jinja2

from .. import metrics
from ..i18n import Language, catalog_for, language
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


class _LanguageTemplates(NamedTuple):
    compiled: CompiledTemplates
    html: jinja2.Template
    text: jinja2.Template
    plain_text: jinja2.Template


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
        lang: str = "en",  # the default language (DIGEST_DEFAULT_LANGUAGE): readers without one get it
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
        # Per language (catalog tag): (compiled set, HTML, text, plain-text templates), made once.
        self._languages: dict[str, _LanguageTemplates] = {}
        self._naive_envs: dict[str, jinja2.Environment] = {}

    # -- compiled templates

    def refresh(self) -> str:
        """Re-read the templates (after an edit); compiles again only if their content changed.
        Returns the default language's key; the other languages are checked on their next render."""
        stale, self._languages = self._languages, {}
        for tag in stale:
            self._templates(tag)
        return self._templates(self.default_language()[0]).compiled.key

    @property
    def template_key(self) -> str:
        return self._templates(self.default_language()[0]).compiled.key

    def default_language(self) -> tuple[str, str | None]:
        return catalog_for("", self.lang)

    def language_of(self, issue: Issue) -> tuple[Language, str | None]:
        """The catalog language this issue's reader gets, and a warning when it is not theirs."""
        tag, warning = catalog_for(issue.reader.language, self.lang)
        return language(tag), warning

    def _templates(self, tag: str) -> _LanguageTemplates:
        """One language's compiled HTML and Jinja templates (compiled once per language)."""
        made = self._languages.get(tag)
        if made is None:
            lang = language(tag)
            compiled = compile_templates(self.templates_dir, self.cache_dir, lang.typography)
            made = _LanguageTemplates(compiled, *jinja_templates(compiled, self.templates_dir, self.card_fragments,
                                                                 lang.messages))
            self._languages[tag] = made
        return made

    # -- rendering

    def prepare(self, issue: Issue, links: Links, *, now: datetime | None = None) -> view.Prepared:
        """This reader's view model (view.prepare with this renderer's settings, in their language)."""
        return view.prepare(issue, links, now=now, company_url=self.company_url, postal_address=self.postal_address,
                            base_url=self.base_url, lang=self.language_of(issue)[0], direction=self.direction,
                            default_language=self.default_language()[0])

    @metrics.RENDER_SECONDS.time()
    def render(self, issue: Issue, links: Links, *, now: datetime | None = None) -> Rendered:
        """Per subscriber: Jinja over the precompiled HTML and the text template of the reader's
        language, nothing else."""
        made = self._templates(self.language_of(issue)[0].tag)
        return self._render(issue, links, now, made.html.render, made.text.render)

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
        lang = self.language_of(issue)[0]
        html_ctx["more"] = view.html_value(view.more_label(len(extra), lang))
        texts = tuple(dict.fromkeys((lang.tag, self.default_language()[0])))
        html_ctx["overflow"] = [view.card_views(c, reference, self.company_url, lang, texts)[1] for c in extra]
        return self._templates(lang.tag).html.render(html_ctx)

    def render_naive(self, issue: Issue, links: Links, *, now: datetime | None = None) -> Rendered:
        """The reference path: Jinja, then MJML, then inlining, per subscriber (tests, benchmarks)."""
        lang = self.language_of(issue)[0]
        env = self._naive_envs.get(lang.tag)
        if env is None:
            env = self._naive_envs[lang.tag] = naive_environment(self.templates_dir, lang.messages, lang.typography)
        made = self._templates(lang.tag)
        mjml_template = env.get_template(HTML_TEMPLATE)

        def html_render(ctx: dict) -> str:
            return mjml_to_inlined_html(mjml_template.render(ctx))

        return self._render(issue, links, now, html_render, made.plain_text.render)

    def _render(self, issue: Issue, links: Links, now: datetime | None,
                html_render: Callable[[dict], str], text_render: Callable[[dict], str]) -> Rendered:
        prepared = self.prepare(issue, links, now=now)
        shown = len(prepared.cards)
        ctx = view.context(prepared, issue, shown)
        html = html_render(view.html_context(ctx, prepared, shown))
        size = len(html.encode("utf-8"))
        warning = self.language_of(issue)[1]
        notes: list[str] = [warning] if warning else []
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
