"""An editor's note: a small Markdown subset (**bold**, *italic* or _italic_, [text](https://...)),
as sanitized HTML for the email and the web page, and as plain text for the text part. Everything
else is text: the note is escaped first, and only these three forms become markup."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

MAX_NOTE = 2000
_LINK = re.compile(r"\[([^\[\]\n]{1,200})\]\(((?:https?://|mailto:)[^\s()<>\"]{1,1000})\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])")


def _clean(text: str) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    return text.strip()[:MAX_NOTE]


def _inline(text: str) -> str:
    html = str(escape(text))
    return _ITALIC.sub(r"<i>\1</i>", _BOLD.sub(r"<b>\1</b>", html))


def _paragraph(text: str) -> str:
    parts, pos = [], 0
    for match in _LINK.finditer(text):
        parts.append(_inline(text[pos:match.start()]))
        parts.append(f'<a class="fk" href="{escape(match.group(2))}" style="color:#1d4ed8">{_inline(match.group(1))}</a>')
        pos = match.end()
    parts.append(_inline(text[pos:]))
    return '<p style="margin:0 0 6px">' + "".join(parts).replace("\n", "<br>") + "</p>"


def note_html(text: str) -> Markup:
    """The note as HTML: paragraphs, <b>, <i> and <a href> (http, https, mailto) only."""
    return Markup("".join(_paragraph(p) for p in re.split(r"\n\s*\n", _clean(text)) if p.strip()))


def note_text(text: str) -> str:
    """The note as plain text: markers dropped, a link as "text (url)"."""
    text = _LINK.sub(r"\1 (\2)", _clean(text))
    text = _BOLD.sub(r"\1", text)
    return _ITALIC.sub(r"\1", text)
