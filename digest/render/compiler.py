"""Compile once: MJML + Jinja templates to inlined HTML per template version, cached; the template lookup.

The recipe (includes expanded, comments dropped, rules checked, MJML compiled, the inline CSS inlined,
Jinja tags verified intact) runs once per content hash of the template files; per reader only Jinja
runs over the result. docs/rendering.md explains each step and the rules templates must follow.
"""

from __future__ import annotations

import hashlib
import html as _html
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2

from ..errors import DigestError
from ..i18n import DEFAULT_TYPOGRAPHY
from .filters import FILTERS
from .fragments import lift_cards

__all__ = [
    "RECIPE_VERSION", "HTML_TEMPLATE", "TEXT_TEMPLATE", "TemplateCompileError", "CompiledTemplates",
    "find_templates", "templates_hash", "expand_includes", "check_rules", "compile_html",
    "compile_templates", "jinja_templates", "naive_environment", "mjml_to_inlined_html", "break_lines",
]

# Bump when the compile recipe below changes: it is part of the cache key with the templates' bytes.
RECIPE_VERSION = "3"
HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"


class TemplateCompileError(DigestError):
    """A template breaks the compile-once rules, or compiling it altered its Jinja."""


def find_templates(templates_dir: str | Path) -> Path:
    """The folder that holds the email templates (HTML_TEMPLATE, TEXT_TEMPLATE and partials/).

    The one place the template set is looked up: everything else reads files relative to it.
    """
    return Path(templates_dir)


# With lstrip_blocks and trim_blocks Jinja drops the indentation before a block tag on its own line
# and the newline after it; the expansion must do the same to give byte-identical output.
_INCLUDE = re.compile(r"""(?:^[ \t]*)?\{%-?\s*include\s+["']([^"']+)["']\s*-?%\}\n?""", re.M)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_INLINE_STYLE = re.compile(r"<mj-style\s+inline=\"inline\"\s*>(.*?)</mj-style>", re.S)
_MJ_STYLE = re.compile(r"<mj-style[^>]*>(.*?)</mj-style>", re.S)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*"([^"]*)\"""")
_FORBIDDEN_ATTRS = {
    "class", "css-class", "mj-class", "style", "width", "height", "padding", "padding-top",
    "padding-bottom", "padding-left", "padding-right", "border", "border-radius", "font-size",
    "line-height", "letter-spacing", "color", "background-color", "background-url", "inline",
}
_ATTR_EXPR_OK = re.compile(r"^\{\{[^{}\s]+\|(url|attr)\}\}$")
_FORBIDDEN_IN_TAG = re.compile(r"[<>&]")
_STYLE_ATTR = re.compile(r' style="[^"]*"')
# Compile-time values of a language's typography (i18n.Language.typography): [[font_family]] and
# [[word_break]] in the MJML source; each language's HTML is compiled once with its own.
_TYPOGRAPHY = re.compile(r"\[\[(\w+)\]\]")


@dataclass(frozen=True)
class CompiledTemplates:
    """The compiled HTML (Jinja left in) and the text template source, for one template version."""

    key: str
    html_source: str
    text_source: str


@lru_cache(maxsize=1)
def _tool_versions() -> str:
    """The compilers' versions: a new MRML or premailer may write different HTML."""
    found = []
    for name in ("mjml-python", "premailer", "lxml"):
        try:
            found.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name}=?")
    return ",".join(found)


def templates_hash(templates_dir: Path) -> str:
    """Content hash of every file of the template set (names and bytes) plus the recipe version."""
    digest = hashlib.sha256(RECIPE_VERSION.encode() + _tool_versions().encode())
    # The packaged set is also a Python package: its bytecode (written on first import, racing this
    # walk) is no template.
    for path in sorted(p for p in templates_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(templates_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def expand_includes(source: str, templates_dir: Path, _depth: int = 0) -> str:
    """Inline literal {% include "x" %} tags, so MJML sees every element the partials hold."""
    if _depth > 10:
        raise TemplateCompileError("includes nested more than 10 deep")

    def _sub(match: re.Match) -> str:
        path = templates_dir / match.group(1)
        if not path.is_file():
            raise TemplateCompileError(f"included template not found: {match.group(1)}")
        text = path.read_text(encoding="utf-8")
        # Jinja drops one trailing newline of a loaded template; do the same.
        if text.endswith("\n"):
            text = text[:-1]
        return expand_includes(text, templates_dir, _depth + 1)

    return _INCLUDE.sub(_sub, source)


def check_rules(source: str) -> None:
    """Refuse constructs that measurements showed MJML or the inliner would break."""
    problems = []
    for tag in _JINJA.findall(source):
        if _FORBIDDEN_IN_TAG.search(tag[2:-2]):
            problems.append(f"'<', '>' or '&' inside a Jinja tag (use tests like 'is gt(2)'): {tag}")
    for style in _MJ_STYLE.findall(source):
        if "{{" in style or "{%" in style:
            problems.append("Jinja inside mj-style CSS")
    for name, value in _ATTR.findall(source):
        if "{{" not in value and "{%" not in value:
            continue
        if name.lower() in _FORBIDDEN_ATTRS:
            problems.append(f"Jinja in the {name!r} attribute: {value}")
        elif not _ATTR_EXPR_OK.match(value):
            problems.append(f"attribute {name!r} must hold exactly one {{{{expr|url}}}} or {{{{expr|attr}}}}, no spaces: {value}")
    if problems:
        raise TemplateCompileError("; ".join(problems))


def _mjml_to_html(source: str) -> str:
    # Imported here: the Rust extension is needed only to compile, never when the disk cache hits.
    import mjml

    try:
        return mjml.mjml2html(source, disable_comments=True, fonts={})
    except Exception as exc:  # MRML raises plain exceptions with its parser message
        raise TemplateCompileError(f"MJML: {exc}") from None


def _inline(html: str, css: str) -> str:
    """Inline only the mj-style inline CSS (as official MJML does), not MJML's reset sheet."""
    # Imported here: premailer pulls in cssutils and lxml (slow to import), needed only to compile.
    import premailer

    # Keep the doctype (premailer drops a lowercase one) and leave the other style blocks alone.
    html = re.sub(r"^<!doctype html>", "<!DOCTYPE html>", html, flags=re.I)
    html = re.sub(r"<style\b(?![^>]*data-premailer)", '<style data-premailer="ignore"', html)
    transformer = premailer.Premailer(
        html,
        css_text=css or None,
        keep_style_tags=False,
        strip_important=False,
        remove_classes=False,
        disable_validation=True,
        allow_network=False,
        disable_link_rewrites=True,
        cssutils_logging_level=logging.CRITICAL,
    )
    html = transformer.transform(pretty_print=False)
    html = _drop_unused_classes(html).replace(' data-premailer="ignore"', "")
    # premailer writes "a:b; c:d"; the spaces cost ~2 KB per digest. No Jinja lives in style="".
    return break_lines(_STYLE_ATTR.sub(lambda m: m.group(0).replace("; ", ";").replace(": ", ":"), html))


# The space between a start tag's name and its first attribute.
_TAG_NAME_SPACE = re.compile(r"(<[A-Za-z][A-Za-z0-9:-]*) ")


def break_lines(html: str) -> str:
    """MJML writes the body as one line of some 30 KB; a line break in place of the space after each
    start tag's name (whitespace inside a tag, which means nothing to any HTML reader) gives lines of
    at most a few hundred characters, so a reader's personal parts (a link's token, the greeting) sit
    on lines of their own, and the rest of a shared render is encoded once (digest/stamp.py)."""
    return _TAG_NAME_SPACE.sub("\\1\n", html)


_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)
_CLASS_ATTR = re.compile(r' class="([^"{}%]*)"')


def _drop_unused_classes(html: str) -> str:
    """Remove class names no remaining style block mentions: once inlined they only cost bytes."""
    used = set(re.findall(r"\.([A-Za-z_][\w-]*)", " ".join(_STYLE_BLOCK.findall(html))))

    def _sub(match: re.Match) -> str:
        kept = [c for c in match.group(1).split() if c in used]
        return f' class="{" ".join(kept)}"' if kept else ""

    return _CLASS_ATTR.sub(_sub, html)


def _repair_jinja(html: str) -> str:
    """Undo what the serializer did to Jinja tags inside attributes (%20, entities)."""

    def _fix(match: re.Match) -> str:
        tag = match.group(0)
        return _html.unescape(tag.replace("%20", " ").replace("%7B", "{").replace("%7D", "}"))

    return re.sub(r"(?:\{|%7B)(?:\{|%7B|%).*?(?:\}|%|%7D)(?:\}|%7D)", _fix, html, flags=re.S)


def _strip_comments(source: str) -> str:
    """Drop {# #} comments as Jinja would: {#- and -#} eat whitespace, trim_blocks one newline."""

    def _sub(match: re.Match) -> str:
        before, dash_open, dash_close, after = match.group(1), match.group(2), match.group(3), match.group(4)
        if dash_close:
            after = ""
        elif after.startswith("\n"):
            after = after[1:]
        return ("" if dash_open else before) + after

    return re.sub(r"(\s*)\{#(-?).*?(-?)#\}(\s*)", _sub, source, flags=re.S)


def apply_typography(source: str, typography: dict[str, str]) -> str:
    """The source with each [[name]] replaced by the language's value (its CSS, quotes escaped)."""
    typography = {**DEFAULT_TYPOGRAPHY, **typography}

    def _sub(match: re.Match) -> str:
        if match.group(1) not in typography:
            raise TemplateCompileError(f"unknown typography value [[{match.group(1)}]]")
        return _html.escape(typography[match.group(1)], quote=True)

    return _TYPOGRAPHY.sub(_sub, source)


def compile_html(source: str, templates_dir: Path, typography: dict[str, str] | None = None) -> str:
    """MJML+Jinja source -> inlined HTML that still holds every Jinja tag unchanged."""
    source = apply_typography(expand_includes(source, templates_dir), typography or {})
    source = _strip_comments(source)
    check_rules(source)
    inline_css = "\n".join(_INLINE_STYLE.findall(source))
    source = _INLINE_STYLE.sub("", source)
    html = _repair_jinja(_inline(_mjml_to_html(source), inline_css))
    # MJML may copy an expression (lang, title) to several places, but every tag must survive
    # verbatim and statements must keep their exact count, or the structure would change.
    before, after = _JINJA.findall(source), _JINJA.findall(html)
    lost = set(before) - set(after)
    statements = Counter(t for t in before if t.startswith("{%")) != Counter(t for t in after if t.startswith("{%"))
    if lost or statements or set(after) - set(before):
        changed = sorted(lost | (set(after) ^ set(before)))[:5]
        raise TemplateCompileError(f"compiling altered Jinja tags: {changed or 'statement counts differ'}")
    return html


_CACHE: dict[str, CompiledTemplates] = {}
_CACHE_LOCK = threading.Lock()


def compile_templates(templates_dir: str | Path, cache_dir: str | Path | None = None,
                      typography: dict[str, str] | None = None) -> CompiledTemplates:
    """The compiled template set for templates_dir in one language's typography, made once per
    content hash and typography (memory, then disk)."""
    templates_dir = find_templates(templates_dir)
    typography = {**DEFAULT_TYPOGRAPHY, **(typography or {})}
    key = templates_hash(templates_dir) + "-" + hashlib.sha256(repr(sorted(typography.items())).encode()).hexdigest()[:12]
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        text_source = (templates_dir / TEXT_TEMPLATE).read_text(encoding="utf-8")
        disk = Path(cache_dir) / f"digest-{key}.html" if cache_dir else None
        if disk is not None and disk.is_file():
            html = disk.read_text(encoding="utf-8")
        else:
            html = compile_html((templates_dir / HTML_TEMPLATE).read_text(encoding="utf-8"), templates_dir, typography)
            if disk is not None:
                disk.parent.mkdir(parents=True, exist_ok=True)
                tmp = disk.with_suffix(".tmp")
                tmp.write_text(html, encoding="utf-8")
                tmp.replace(disk)
        compiled = CompiledTemplates(key, html, text_source)
        _CACHE[key] = compiled
        return compiled


_TEMPLATES: dict[tuple, tuple[jinja2.Template, jinja2.Template, jinja2.Template]] = {}


def jinja_templates(compiled: CompiledTemplates, templates_dir: Path, card_fragments: bool, messages=None):
    """(HTML, text, plain text) Jinja templates for a compiled set in one language (`messages`, its
    gettext catalog), made once per content hash and language and shared by every Renderer: card
    fragments are stored on the shared card views per lifted template, so renderers of the same
    templates must share one."""
    with _CACHE_LOCK:
        made = _TEMPLATES.get((compiled.key, card_fragments, id(messages)))
        if made is None:
            text_env = _environment(jinja2.FileSystemLoader(str(templates_dir)), html=False, messages=messages)
            html_env = _environment(html=True, messages=messages)
            plain_text = text_env.from_string(compiled.text_source)
            if card_fragments:
                # Both parts render each card once per send and splice the reader's links in.
                made = (lift_cards(html_env, compiled.html_source)[0],
                        lift_cards(text_env, compiled.text_source)[0], plain_text)
            else:
                made = (html_env.from_string(compiled.html_source), plain_text, plain_text)
            _TEMPLATES[(compiled.key, card_fragments, id(messages))] = made
        return made


def _environment(loader=None, *, html: bool, messages=None) -> jinja2.Environment:
    """A Jinja environment for one part of the email (html: autoescape), with the email's filters
    and one language's messages (templates write {{ _("Hi %(name)s,", name=...) }}, newstyle)."""
    env = jinja2.Environment(
        loader=loader,
        extensions=["jinja2.ext.i18n"],
        autoescape=html,
        # HTML: autoescape is on, and the view model arrives already escaped (escape_html) so that
        # each value is escaped once per card rather than once per reader.
        finalize=None if html else (lambda v: "" if v is None else v),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    if messages is None:
        env.install_null_translations(newstyle=True)
    else:
        env.install_gettext_translations(messages, newstyle=True)
    return env


class _TypographyLoader(jinja2.FileSystemLoader):
    """The reference path's loader: the MJML source with the language's typography filled in."""

    def __init__(self, path: str, typography: dict[str, str]):
        super().__init__(path)
        self.typography = typography

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        return apply_typography(source, self.typography), filename, uptodate


def naive_environment(templates_dir: Path, messages=None, typography: dict[str, str] | None = None) -> jinja2.Environment:
    """The HTML environment of the reference path, which renders the MJML source itself per reader."""
    return _environment(_TypographyLoader(str(templates_dir), typography or {}), html=True, messages=messages)


def mjml_to_inlined_html(source: str) -> str:
    """The reference path's per-reader step over rendered MJML: MJML to HTML, then the inline CSS."""
    inline_css = "\n".join(_INLINE_STYLE.findall(source))
    return _inline(_mjml_to_html(_INLINE_STYLE.sub("", source)), inline_css)
