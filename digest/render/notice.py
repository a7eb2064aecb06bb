"""Notices: the short emails that are not a digest (the signup confirmation, the preferences link).

Each is an MJML template and its text twin in the templates folder (`<kind>.mjml.j2`,
`<kind>.txt.j2`), compiled once per content hash by the digest's recipe (compiler.compile_html) and
rendered with Jinja's i18n extension: every reader-visible string is a `_("...")` call, so a
catalog installed on the environment (install_translations) translates them; without one the
null translations give the English source.
"""

from __future__ import annotations

import threading
from pathlib import Path

import jinja2

from ..types import Rendered
from .compiler import compile_html, find_templates, templates_hash
from .filters import FILTERS, clean

__all__ = ["NOTICES", "NoticeRenderer", "install_translations"]

NOTICES = ("confirm", "manage")


def install_translations(env: jinja2.Environment) -> jinja2.Environment:
    """Add the i18n extension and, when no translations are installed yet, the null ones (newstyle)."""
    env.add_extension("jinja2.ext.i18n")
    if "gettext" not in env.globals:
        env.install_null_translations(newstyle=True)
    return env


def _environment(loader, *, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=loader, autoescape=html, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                             finalize=None if html else (lambda v: "" if v is None else v))
    env.filters.update(FILTERS)
    return install_translations(env)


class NoticeRenderer:
    """Renders a notice (`confirm` or `manage`) from the templates folder; compiles each once."""

    _lock = threading.Lock()
    _compiled: dict[tuple[str, str], str] = {}  # (templates hash, kind) -> compiled HTML with Jinja

    def __init__(self, templates_dir: str | Path, *, fallback_dir: str | Path | None = None,
                 postal_address: str = "", lang: str = "en"):
        self.templates_dir = find_templates(templates_dir)
        self.fallback_dir = find_templates(fallback_dir) if fallback_dir else None
        self.postal_address = clean(postal_address)
        self.lang = lang
        self.html_env = _environment(None, html=True)
        self.text_env = _environment(None, html=False)

    def _folder(self, kind: str) -> Path:
        # A templates folder copied before notices existed still works: the packaged notice is used.
        if (self.templates_dir / f"{kind}.mjml.j2").is_file() or self.fallback_dir is None:
            return self.templates_dir
        return self.fallback_dir

    def _html_source(self, folder: Path, kind: str) -> str:
        key = (templates_hash(folder), kind)
        with self._lock:
            html = self._compiled.get(key)
            if html is None:
                html = compile_html((folder / f"{kind}.mjml.j2").read_text(encoding="utf-8"), folder)
                self._compiled[key] = html
            return html

    def render(self, kind: str, **values) -> Rendered:
        """Subject, preheader, HTML and text of a notice; values are plain (unescaped) text.

        The text twin sets `subject` and `preheader` at its top ({% set subject = _("...") %}), so
        every string of a notice lives in its two templates.
        """
        if kind not in NOTICES:
            raise ValueError(f"unknown notice {kind!r}")
        folder = self._folder(kind)
        context = {"lang": self.lang, "dir": "ltr", "postal_address": self.postal_address, **values}
        text_template = self.text_env.from_string((folder / f"{kind}.txt.j2").read_text(encoding="utf-8"))
        module = text_template.make_module(context)
        text = str(module).lstrip("\n")
        subject, preheader = str(module.subject).strip(), str(getattr(module, "preheader", "")).strip()
        html = self.html_env.from_string(self._html_source(folder, kind)).render(
            {**context, "subject": subject, "preheader": preheader})
        return Rendered(subject=subject, preheader=preheader, html=html,
                        text=text if text.endswith("\n") else text + "\n", article_count=0)
