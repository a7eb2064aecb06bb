"""Email rendering: MJML+Jinja templates compiled once per template version, rendered per subscriber."""

from __future__ import annotations

import hashlib
import html as _html
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from .errors import DigestError
from .fragments import WithFeedback, lift_cards
from .names import slugify
from .types import ArticleData, Choice, Issue, Links, Rendered

__all__ = [
    "Renderer",
    "TemplateCompileError",
    "CompiledTemplates",
    "compile_templates",
    "lint",
    "summary",
    "slugify",
    "wrap",
    "age_label",
]

# Bump when the compile recipe below changes: it is part of the cache key with the templates' bytes.
RECIPE_VERSION = "1"
HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
GMAIL_CLIP_BYTES = 102_000
TEXT_WIDTH = 78

# Card limits keep one card's size bounded whatever the input, so 20 cards fit under 100 KB.
# (characters, UTF-8 bytes): the byte cap keeps Hangul, CJK and emoji cards as small as Latin ones.
MAX_TITLE = (160, 280)
MAX_SUMMARY = (360, 600)
MAX_NOTE = (120, 200)
MAX_WHY = (160, 260)
MAX_NAME = (60, 120)
MAX_CONNECTED = 3
MAX_CONNECTED_TITLE = (100, 180)
MAX_SEGMENTS = 4
MAX_TAGS = 6
MAX_SUBJECT_TITLE = 70


class TemplateCompileError(DigestError):
    """A template breaks the compile-once rules, or compiling it altered its Jinja."""


# --------------------------------------------------------------------------------------------
# Text hygiene and small helpers shared by both parts


# C0/C1 controls and the bidi embeddings/overrides that can reorder what follows them; isolates
# (U+2066..2069) and marks stay, because dir="auto" handles right-to-left text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\ufeff\ufffe\uffff\ud800-\udfff]")
_SPACE = re.compile(r"\s+")


def clean(value: object) -> str:
    """One line of display text: control characters removed, whitespace runs collapsed."""
    if value is None:
        return ""
    text = str(value)
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text).strip()


def shorten(text: str, limit: int, max_bytes: int | None = None) -> str:
    """Cut at a word boundary to at most limit characters (and max_bytes of UTF-8), adding an ellipsis."""
    max_bytes = max_bytes or limit * 4
    if len(text) <= limit and len(text.encode("utf-8")) <= max_bytes:
        return text
    cut = text[: limit - 1]
    while len(cut.encode("utf-8")) > max_bytes - 3:
        # Multi-byte scripts: shrink in proportion, then settle on the boundary.
        cut = cut[: max(1, int(len(cut) * (max_bytes - 3) / len(cut.encode("utf-8"))) - 1)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-·") + "…"


def age_label(published: datetime, reference: datetime) -> str:
    """A short age like the AMW site shows: "13h ago", "2d ago", "1w ago", "3mo ago"."""
    seconds = (reference - published).total_seconds()
    if seconds < 3600:
        return "just now" if seconds < 60 else f"{int(seconds // 60)}m ago"
    hours = seconds / 3600
    if hours < 24:
        return f"{int(hours)}h ago"
    days = int(hours // 24)
    if days < 7:
        return f"{days}d ago"
    if days < 30:
        return f"{days // 7}w ago"
    if days < 365:
        return f"{days // 30}mo ago"
    return f"{days // 365}y ago"


_URL_SAFE = "/:?#[]@!$&()*+,;=%~-._"
_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


# Already fit: an allowed scheme and only characters quote() leaves alone (no space or control).
# ASCII matching: case-insensitive Unicode matching would let "ſ" (long s) and "K" (Kelvin) in as s and k.
_FIT_URL = re.compile(r"(?:https?://|mailto:)[A-Za-z0-9/:?#\[\]@!$&()*+,;=%~._-]*", re.I | re.A)


def safe_url(value: object) -> str:
    """A URL fit for an href: http(s)/mailto only, percent-encoded so no serializer re-encodes it."""
    if isinstance(value, str) and _FIT_URL.fullmatch(value):
        return value  # what _quoted_url returns for it, at a tenth of the cost (per-reader links)
    return _quoted_url(value)


def _quoted_url(value: object) -> str:
    url = clean(value)
    if not url.lower().startswith(_ALLOWED_SCHEMES):
        return "#"
    # Quote non-ASCII, spaces and quotes ourselves: libxml2 would otherwise rewrite them later.
    return quote(url, safe=_URL_SAFE)


def _escape_text(text: str) -> str:
    # Quotes stay literal in text (as lxml writes them), so compiled and naive output are identical;
    # attribute values never take raw data (see |url and |attr).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_html(value: object) -> Markup:
    """Escape data for HTML text once, as lxml writes it (quotes stay literal in text)."""
    if isinstance(value, Markup):
        return value
    return Markup(_escape_text("" if value is None else str(value)))


@lru_cache(maxsize=8192)
def _url_filter(value) -> Markup:
    return Markup(safe_url(value).replace("&", "&amp;"))


def _attr_filter(value) -> Markup:
    text = str(value) if isinstance(value, Markup) else _escape_text(clean(value))
    return Markup(text.replace('"', "&quot;"))


def _display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _split_long(word: str, width: int) -> list[str]:
    """Break a word longer than the line (CJK runs, long tokens) by display width; URLs stay whole."""
    if word.startswith(("http://", "https://")) or _display_width(word) <= width:
        return [word]
    pieces, current, used = [], [], 0
    for ch in word:
        w = 2 if not ch.isascii() and unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width and current:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += w
    if current:
        pieces.append("".join(current))
    return pieces


@lru_cache(maxsize=4096)
def wrap(text: str, width: int = TEXT_WIDTH, indent: int = 0, first: str | None = None, hang: int = 0) -> str:
    """Greedy word wrap to width display columns; cached because the same articles recur per reader."""
    first_prefix = " " * indent if first is None else first
    rest_prefix = " " * (indent + hang)
    lines: list[str] = []
    prefix = first_prefix
    line = ""
    for raw in text.split():
        for word in _split_long(raw, max(10, width - len(rest_prefix))):
            if not line:
                line = word
                continue
            if _display_width(prefix) + _display_width(line) + 1 + _display_width(word) <= width:
                line += " " + word
            else:
                lines.append(prefix + line)
                prefix, line = rest_prefix, word
    if line or not lines:
        lines.append(prefix + line)
    return "\n".join(lines)


def _wrap_filter(value, indent: int = 0, first: str | None = None, hang: int = 0) -> str:
    return wrap(str(value), TEXT_WIDTH, indent, first, hang)


# --------------------------------------------------------------------------------------------
# Compiling once: includes expanded, MJML -> HTML, the inline CSS inlined, Jinja left intact

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


@dataclass(frozen=True)
class CompiledTemplates:
    """The compiled HTML (Jinja left in) and the text template source, for one template version."""

    key: str
    html_source: str
    text_source: str


@lru_cache(maxsize=1)
def _tool_versions() -> str:
    """The compilers' versions: a new MRML or premailer may write different HTML."""
    from importlib.metadata import PackageNotFoundError, version

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
    import mjml

    try:
        return mjml.mjml2html(source, disable_comments=True, fonts={})
    except Exception as exc:  # MRML raises plain exceptions with its parser message
        raise TemplateCompileError(f"MJML: {exc}") from None


def _inline(html: str, css: str) -> str:
    """Inline only the mj-style inline CSS (as official MJML does), not MJML's reset sheet."""
    import logging

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
    return _STYLE_ATTR.sub(lambda m: m.group(0).replace("; ", ";").replace(": ", ":"), html)


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


def compile_html(source: str, templates_dir: Path) -> str:
    """MJML+Jinja source -> inlined HTML that still holds every Jinja tag unchanged."""
    source = expand_includes(source, templates_dir)
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


def compile_templates(templates_dir: str | Path, cache_dir: str | Path | None = None) -> CompiledTemplates:
    """The compiled template set for templates_dir, made once per content hash (memory, then disk)."""
    templates_dir = Path(templates_dir)
    key = templates_hash(templates_dir)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        text_source = (templates_dir / TEXT_TEMPLATE).read_text(encoding="utf-8")
        disk = Path(cache_dir) / f"digest-{key}.html" if cache_dir else None
        if disk is not None and disk.is_file():
            html = disk.read_text(encoding="utf-8")
        else:
            html = compile_html((templates_dir / HTML_TEMPLATE).read_text(encoding="utf-8"), templates_dir)
            if disk is not None:
                disk.parent.mkdir(parents=True, exist_ok=True)
                tmp = disk.with_suffix(".tmp")
                tmp.write_text(html, encoding="utf-8")
                tmp.replace(disk)
        compiled = CompiledTemplates(key, html, text_source)
        _CACHE[key] = compiled
        return compiled


_TEMPLATES: dict[tuple[str, bool], tuple[jinja2.Template, jinja2.Template, jinja2.Template]] = {}


def _templates(compiled: CompiledTemplates, templates_dir: Path, card_fragments: bool):
    """(HTML, text, plain text) Jinja templates for a compiled set, made once per content hash and
    shared by every Renderer: card fragments are stored on the shared card views per lifted
    template, so renderers of the same templates must share one."""
    with _CACHE_LOCK:
        made = _TEMPLATES.get((compiled.key, card_fragments))
        if made is None:
            text_env = _environment(jinja2.FileSystemLoader(str(templates_dir)), html=False)
            html_env = _environment(html=True)
            plain_text = text_env.from_string(compiled.text_source)
            if card_fragments:
                # Both parts render each card once per send and splice the reader's links in.
                made = (lift_cards(html_env, compiled.html_source)[0],
                        lift_cards(text_env, compiled.text_source)[0], plain_text)
            else:
                made = (html_env.from_string(compiled.html_source), plain_text, plain_text)
            _TEMPLATES[(compiled.key, card_fragments)] = made
        return made


def _environment(loader=None, *, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        autoescape=html,
        # HTML: autoescape is on, and the view model arrives already escaped (escape_html) so that
        # each value is escaped once per card rather than once per reader.
        finalize=None if html else (lambda v: "" if v is None else v),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["url"] = _url_filter
    env.filters["attr"] = _attr_filter
    env.filters["wrap"] = _wrap_filter
    return env


# --------------------------------------------------------------------------------------------
# The view model: plain dicts that both parts and both paths render


def _period_label(issue: Issue, tz: ZoneInfo) -> tuple[str, str]:
    match = re.fullmatch(r"(\d{4})-W(\d{2})", issue.period or "")
    label = f"Week {int(match.group(2))}, {match.group(1)}" if match else clean(issue.period) or "Your digest"
    start = issue.window_start.astimezone(tz)
    end = (issue.window_end - timedelta(microseconds=1)).astimezone(tz)
    if start.year != end.year:
        window = f"{start:%b} {start.day}, {start.year} – {end:%b} {end.day}, {end.year}"
    elif start.month != end.month:
        window = f"{start:%b} {start.day} – {end:%b} {end.day}, {end.year}"
    else:
        window = f"{start:%b} {start.day} – {end.day}, {end.year}"
    return label, window


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


_PIPS_ON = ("", "●", "●●", "●●●")
_PIPS_OFF = ("○○○", "○○", "○", "")


class View(SimpleNamespace):
    """View-model node: attribute access is what Jinja tries first, so it is the fast path."""


def _score(label: str, value: int, note: str) -> View:
    value = max(1, min(3, int(value or 1)))
    return View(label=label, score=value, on=_PIPS_ON[value], off=_PIPS_OFF[value],
                note=shorten(clean(note), *MAX_NOTE))


def _card(choice: Choice, reference: datetime, company_url: str) -> View:
    """One card's view model (text values; _card_views caches it with its HTML twin)."""
    a: ArticleData = choice.article
    company = shorten(clean(a.primary_company), *MAX_NAME) if a.primary_company else ""
    read = max(1, int(a.read_minutes or 1))
    region = clean(a.region)
    return View(
        title=shorten(clean(a.title), *MAX_TITLE) or "(untitled)",
        url=a.url,
        company=company,
        company_url=company_url.format(slug=slugify(company)) if company else "",
        region=region,
        read=read,
        meta=" · ".join(x for x in (region, f"{read} min read") if x),
        is_update=bool(choice.is_update),
        novelty=max(1, min(3, int(a.novelty or 1))),
        significance=max(1, min(3, int(a.significance or 1))),
        scores=(_score("Novelty", a.novelty, a.novelty_note),
                _score("Significance", a.significance, a.significance_note)),
        summary=shorten(clean(a.summary), *MAX_SUMMARY),
        segments=tuple(s for s in (shorten(clean(s), *MAX_NAME) for s in a.segments[:MAX_SEGMENTS]) if s),
        tags=tuple(t for t in (shorten(clean(t), 30, 60) for t in a.tags[:MAX_TAGS]) if t),
        why=shorten(" · ".join(r for r in (clean(r) for r in choice.reasons) if r), *MAX_WHY),
        fb=None,  # this reader's feedback links, set per render
        fragments={},  # this card's rendered output, per template and variant (digest.fragments)
        connected=tuple(
            View(age=age_label(r.published_at, reference), title=shorten(clean(r.title), *MAX_CONNECTED_TITLE),
                 url=r.url)
            for r in choice.connected[:MAX_CONNECTED]
        ),
    )


@lru_cache(maxsize=1024)
def _feedback_name(name: str) -> tuple[str, Markup]:
    text = shorten(clean(name), *MAX_NAME)
    return text, escape_html(text)


def _feedback(links: dict | None) -> tuple[View | None, View | None]:
    """One pair of feedback links for a card, about its followed company, else its segment: the
    text part's view and the HTML part's (name escaped; URLs raw, for the |url filter)."""
    for kind in ("company", "segment"):
        entry = (links or {}).get(kind)
        if entry and entry.get("name"):
            text, html = _feedback_name(entry["name"])
            return (View(name=text, more_url=entry["more"], less_url=entry["less"]),
                    View(name=html, more_url=entry["more"], less_url=entry["less"]))
    return None, None


def _html_value(value, key: str = ""):
    if isinstance(value, str):
        # URLs stay raw: the |url filter quotes and escapes them.
        return value if key.endswith("url") or key in _RAW_KEYS else escape_html(value)
    if isinstance(value, View):
        return View(**{k: _html_value(v, k) for k, v in vars(value).items()})
    if isinstance(value, tuple | list):
        return tuple(_html_value(v) for v in value)
    return value


# Values the template passes through |attr or |url, which escape them themselves.
_RAW_KEYS = {"lang", "dir", "doc_title", "unsubscribe", "preferences", "web_version", "base"}


@lru_cache(maxsize=4096)
def _card_views(choice: Choice, reference: datetime, company_url: str) -> tuple[View, View]:
    """A card's text and HTML view models; cached, because the same choices recur across a send's
    readers. Both share one fragment store (digest.fragments keys it per template)."""
    card = _card(choice, reference, company_url)
    return card, _html_value(card)


def _follows(issue: Issue) -> str:
    names = sorted(issue.reader.companies, key=str.casefold) + sorted(issue.reader.segments, key=str.casefold)
    names = [clean(n) for n in names if clean(n)]
    if not names:
        return ""
    shown = names[:4]
    if len(names) > 4:
        shown.append(f"{len(names) - 4} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _subject(cards: list[View], period_label: str) -> str:
    if not cards:
        return f"Your AMW Digest: {period_label}"
    top = shorten(cards[0].title, MAX_SUBJECT_TITLE)
    rest = len(cards) - 1
    return f"{top} + {rest} more" if rest else top


def _preheader(cards: list[View], issue: Issue) -> str:
    if not cards:
        return "A quiet week: nothing new matched what you follow."
    first = cards[0]
    lead = f"Novelty {first.novelty}/3, Significance {first.significance}/3"
    others = [c.title for c in cards[1:3]]
    text = lead + (". Also: " + " · ".join(others) if others else "")
    return shorten(text, 140)


def _more_label(count: int) -> str:
    return f"{count} more {'story' if count == 1 else 'stories'} on the web"


@dataclass
class _Prepared:
    cards: list[View | WithFeedback]
    html_cards: list[View | WithFeedback]
    base: dict


# --------------------------------------------------------------------------------------------


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
        self.templates_dir = Path(templates_dir)
        self.company_url = company_url
        self.postal_address = clean(postal_address)
        self.base_url = base_url.rstrip("/")
        self.max_html_bytes = max_html_bytes
        self.cache_dir = cache_dir
        self.lang = lang
        self.direction = direction
        # Render each card once per send and splice the reader's links in (digest/fragments.py);
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
            self._html_template, self._text_template, self._plain_text_template = _templates(
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

    def prepare(self, issue: Issue, links: Links, *, now: datetime | None = None) -> _Prepared:
        reference = now or issue.window_end
        if reference.tzinfo is None:
            reference = reference.replace(tzinfo=timezone.utc)
        tz = _zone(issue.reader.timezone)
        period_label, window_label = _period_label(issue, tz)
        views = [_card_views(c, reference, self.company_url) for c in issue.choices]
        cards = [text for text, _ in views]
        html_cards = [html for _, html in views]
        if links.feedback:
            # Cards are shared across readers; the signed feedback links are this reader's own.
            feedback = [_feedback(links.feedback.get(c.article.id)) for c in issue.choices]
            cards = [WithFeedback(card, fb) for card, (fb, _) in zip(cards, feedback)]
            html_cards = [WithFeedback(card, fb) for card, (_, fb) in zip(html_cards, feedback)]
        name = shorten(clean(issue.reader.name).split(" ")[0], 40) if clean(issue.reader.name) else ""
        follows = _follows(issue)
        base = {
            "lang": self.lang,
            "dir": self.direction,
            "links": View(unsubscribe=links.unsubscribe, preferences=links.preferences,
                          web_version=links.web_version, base=links.base or self.base_url),
            "period_label": period_label,
            "window_label": window_label,
            "doc_title": f"AMW Digest, {period_label}",
            "greeting": f"Hi {name}," if name else "Hi,",
            "email": clean(issue.reader.email),
            "postal_address": self.postal_address,
            "rule": "-" * TEXT_WIDTH,
            "follows": follows,
        }
        return _Prepared(cards, html_cards, base)

    def _context(self, prepared: _Prepared, issue: Issue, shown: int) -> dict:
        cards = prepared.cards[:shown]
        dropped = len(prepared.cards) - shown
        more_count = dropped + max(0, issue.more_count)
        ctx = dict(prepared.base)
        ctx["cards"] = cards
        ctx["more"] = _more_label(more_count) if more_count else ""
        ctx["subject"] = _subject(cards, ctx["period_label"])
        ctx["preheader"] = _preheader(cards, issue)
        count = len(cards)
        follows = ctx["follows"]
        if count:
            ctx["intro"] = (f"{count} {'story' if count == 1 else 'stories'} this week"
                            + (f" on {follows}" if follows else "") + ", ranked by the AMW Read.")
        else:
            ctx["intro"] = "A quiet week: nothing new matched what you follow."
        return ctx

    @staticmethod
    def _html_context(ctx: dict, prepared: _Prepared, shown: int) -> dict:
        html_ctx = {k: _html_value(v, k) for k, v in ctx.items() if k != "cards"}
        html_ctx["cards"] = prepared.html_cards[:shown]
        return html_ctx

    def render(self, issue: Issue, links: Links, *, now: datetime | None = None) -> Rendered:
        """Per subscriber: Jinja over the precompiled HTML and the text template, nothing else."""
        if self._compiled is None:
            self.refresh()
        return self._render(issue, links, now, self._html_template.render, self._text_template.render)

    def render_naive(self, issue: Issue, links: Links, *, now: datetime | None = None) -> Rendered:
        """The reference path: Jinja, then MJML, then inlining, per subscriber (tests, benchmarks)."""
        if self._naive_env is None:
            self._naive_env = _environment(jinja2.FileSystemLoader(str(self.templates_dir)), html=True)
        if self._compiled is None:
            self.refresh()
        mjml_template = self._naive_env.get_template(HTML_TEMPLATE)

        def html_render(ctx: dict) -> str:
            source = mjml_template.render(ctx)
            inline_css = "\n".join(_INLINE_STYLE.findall(source))
            return _inline(_mjml_to_html(_INLINE_STYLE.sub("", source)), inline_css)

        return self._render(issue, links, now, html_render, self._plain_text_template.render)

    def _render(self, issue, links, now, html_render, text_render) -> Rendered:
        prepared = self.prepare(issue, links, now=now)
        shown = len(prepared.cards)
        ctx = self._context(prepared, issue, shown)
        html = html_render(self._html_context(ctx, prepared, shown))
        size = len(html.encode("utf-8"))
        notes: list[str] = []
        if size > self.max_html_bytes and shown:
            # Drop the lowest-ranked cards into the "more on the web" link rather than be clipped.
            while size > self.max_html_bytes and shown > 0:
                shown -= 1
                ctx = self._context(prepared, issue, shown)
                html = html_render(self._html_context(ctx, prepared, shown))
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


# --------------------------------------------------------------------------------------------

_IMG = re.compile(r"<img\b[^>]*>", re.I)
_LINK_TAG = re.compile(r"(?i)<a\b[^>]*\bhref=\"(?:https?:|mailto:)[^\"]+\"")
_UNSUBSCRIBE_TEXT = re.compile(r"(?i)unsubscribe\W*(?:https?://|mailto:)\S+")


def _find_all(text: str, words: tuple[str, ...]):
    # str.find is memchr-fast; case-insensitive regexes over 40-100 KB cost ~0.1 ms each.
    for word in words:
        at = text.find(word)
        while at >= 0:
            yield at
            at = text.find(word, at + 1)


_UNSUBSCRIBE_WORDS = ("nsubscribe", "NSUBSCRIBE")


def _has_unsubscribe_link(html: str) -> bool:
    """A real link (http(s) or mailto) whose own text says unsubscribe."""
    for at in _find_all(html, _UNSUBSCRIBE_WORDS):
        start = html.rfind("<", 0, at)
        if start >= 0 and _LINK_TAG.match(html, start, html.find(">", start) + 1 or len(html)):
            return True
    return False


def _has_unsubscribe_text(text: str) -> bool:
    return any(_UNSUBSCRIBE_TEXT.match(text, max(0, at - 1)) for at in _find_all(text, _UNSUBSCRIBE_WORDS))


def summary(rendered: Rendered) -> dict:
    """What `digest preview` reports: sizes, article count and lint warnings, as JSON-ready data."""
    return {
        "subject": rendered.subject,
        "preheader": rendered.preheader,
        "article_count": rendered.article_count,
        "html_bytes": len(rendered.html.encode("utf-8")),
        "text_bytes": len(rendered.text.encode("utf-8")),
        "warnings": list(rendered.warnings),
    }


def lint(rendered: Rendered, *, max_html_bytes: int = 100_000) -> list[str]:
    """Problems a sender should see before sending: size, missing alt text, missing unsubscribe link."""
    problems = []
    size = len(rendered.html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        problems.append(f"HTML is {size} bytes: Gmail clips messages above about {GMAIL_CLIP_BYTES} bytes")
    elif size > max_html_bytes:
        problems.append(f"HTML is {size} bytes, over the {max_html_bytes}-byte limit")
    images = _IMG.findall(rendered.html) if ("<img" in rendered.html or "<IMG" in rendered.html) else ()
    for img in images:
        if not re.search(r"\balt\s*=", img, re.I):
            problems.append(f"image without alt text: {img[:120]}")
    if not _has_unsubscribe_link(rendered.html):
        problems.append("HTML part has no unsubscribe link")
    if not _has_unsubscribe_text(rendered.text):
        problems.append("text part has no unsubscribe link")
    if not rendered.subject.strip():
        problems.append("subject is empty")
    if not rendered.preheader.strip():
        problems.append("preheader is empty")
    return problems
