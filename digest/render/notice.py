"""Notices: the short emails that are not a digest (the signup confirmation, the preferences link).

Each is an MJML template and its text twin in the templates folder (`<kind>.mjml.j2`,
`<kind>.txt.j2`), compiled once per content hash by the digest's recipe (compiler.compile_html) and
rendered with Jinja's i18n extension in the reader's language: every reader-visible string is a
`_("...")` call translated by that language's catalog (digest/i18n.py), and the HTML is compiled once
per language with its typography (font stack, word-break), like the digest.
"""

from __future__ import annotations

import threading
from pathlib import Path

import jinja2

from ..i18n import language
from ..types import Rendered
from .compiler import compile_html, find_templates, templates_hash
from .filters import FILTERS, clean

__all__ = ["NOTICES", "NoticeRenderer"]

NOTICES = ("confirm", "manage")


def _environment(tag: str, *, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(autoescape=html, undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"],
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                             finalize=None if html else (lambda v: "" if v is None else v))
    env.filters.update(FILTERS)
    env.install_gettext_translations(language(tag).messages, newstyle=True)
    return env


class NoticeRenderer:
    """Renders a notice (`confirm` or `manage`) from the templates folder; compiles each once."""

    _lock = threading.Lock()
    _compiled: dict[tuple[str, str, str], str] = {}  # (templates hash, kind, language) -> compiled HTML with Jinja

    def __init__(self, templates_dir: str | Path, *, fallback_dir: str | Path | None = None,
                 postal_address: str = ""):
        self.templates_dir = find_templates(templates_dir)
        self.fallback_dir = find_templates(fallback_dir) if fallback_dir else None
        self.postal_address = clean(postal_address)
        self._envs: dict[tuple[str, bool], jinja2.Environment] = {}

    def _env(self, tag: str, *, html: bool) -> jinja2.Environment:
        env = self._envs.get((tag, html))
        if env is None:
            env = self._envs[(tag, html)] = _environment(tag, html=html)
        return env

    def _folder(self, kind: str) -> Path:
        # A templates folder copied before notices existed still works: the packaged notice is used.
        if (self.templates_dir / f"{kind}.mjml.j2").is_file() or self.fallback_dir is None:
            return self.templates_dir
        return self.fallback_dir

    def _html_source(self, folder: Path, kind: str, tag: str) -> str:
        key = (templates_hash(folder), kind, tag)
        with self._lock:
            html = self._compiled.get(key)
            if html is None:
                html = compile_html((folder / f"{kind}.mjml.j2").read_text(encoding="utf-8"), folder,
                                    language(tag).typography)
                self._compiled[key] = html
            return html

    def render(self, kind: str, *, lang: str = "en", **values) -> Rendered:
        """Subject, preheader, HTML and text of a notice in the catalog language `lang`; values are
        plain (unescaped) text.

        The text twin sets `subject` and `preheader` at its top ({% set subject = _("...") %}), so
        every string of a notice lives in its two templates.
        """
        if kind not in NOTICES:
            raise ValueError(f"unknown notice {kind!r}")
        folder = self._folder(kind)
        context = {"lang": lang, "dir": "ltr", "postal_address": self.postal_address, **values}
        text_env, html_env = self._env(lang, html=False), self._env(lang, html=True)
        text_template = text_env.from_string((folder / f"{kind}.txt.j2").read_text(encoding="utf-8"))
        module = text_template.make_module(context)
        text = str(module).lstrip("\n")
        subject, preheader = str(module.subject).strip(), str(getattr(module, "preheader", "")).strip()
        html = html_env.from_string(self._html_source(folder, kind, lang)).render(
            {**context, "subject": subject, "preheader": preheader})
        return Rendered(subject=subject, preheader=preheader, html=html,
                        text=text if text.endswith("\n") else text + "\n", article_count=0)
