"""Email rendering: MJML+Jinja templates compiled once per template version, rendered per subscriber.

Where things are:

- `renderer.py`: `Renderer`, an Issue and its Links in, a Rendered out (the size guard too).
- `view.py`: the view model: cards, reasons, feedback links, header, intro.
- `subject.py`: the subject line and the preheader.
- `filters.py`: the templates' text and URL filters (shorten, ages, safe hrefs, escaping, wrapping).
- `compiler.py`: MJML + premailer compiled once per content hash, its caches, the template lookup.
- `fragments.py`: each card rendered once per send, the reader's links spliced in.
- `lint.py`: `lint` and `summary`, the checks a sender sees before sending.

Text cleaning is digest/text.py (`clean` is re-exported here); company slugs are digest/names.py.
Note: `digest.render.lint` is the function; import the module's other names with
`from digest.render.lint import ...`.
"""

from __future__ import annotations

from ..names import slugify
from .compiler import (
    HTML_TEMPLATE,
    RECIPE_VERSION,
    TEXT_TEMPLATE,
    CompiledTemplates,
    TemplateCompileError,
    check_rules,
    compile_html,
    compile_templates,
    find_templates,
)
from .filters import TEXT_WIDTH, age_label, clean, escape_html, safe_url, shorten, wrap
from .fragments import MAX_VARIANTS_PER_CARD, WithFeedback, lift_cards
from .lint import GMAIL_CLIP_BYTES, lint, summary
from .renderer import Renderer
from .view import MAX_TITLE, View, issue_items

__all__ = [
    "Renderer",
    "TemplateCompileError",
    "CompiledTemplates",
    "compile_templates",
    "compile_html",
    "check_rules",
    "find_templates",
    "RECIPE_VERSION",
    "HTML_TEMPLATE",
    "TEXT_TEMPLATE",
    "lint",
    "summary",
    "GMAIL_CLIP_BYTES",
    "slugify",
    "clean",
    "shorten",
    "safe_url",
    "escape_html",
    "wrap",
    "age_label",
    "TEXT_WIDTH",
    "MAX_TITLE",
    "issue_items",
    "View",
    "WithFeedback",
    "lift_cards",
    "MAX_VARIANTS_PER_CARD",
]
