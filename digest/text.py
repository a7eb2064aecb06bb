"""Text cleaning shared by every stage: control characters out, whitespace runs collapsed.

Three purposes, three rules, kept apart on purpose because each one's output is already stored or
sent byte for byte:

- `clean` (display text in the email): controls, bidi embeddings/overrides, BOM, noncharacters and
  lone surrogates are *removed*, then whitespace runs collapse to one space.
- `header_text` (header text such as Subject and display names): runs of controls and line separators
  become *one space*; nothing else changes, so folding and encoding see the text as it was.
- `clean_input` (article fields at ingest): C0 controls and DEL become a space (one-line fields, then
  whitespace collapses) or are removed (multi-line fields, whose tabs and line breaks stay).
"""

from __future__ import annotations

import re
from typing import Callable

__all__ = ["clean", "header_text", "clean_input", "cut", "DISPLAY_CONTROLS", "LINE_BREAKS", "INPUT_CONTROLS"]

# C0/C1 controls and the bidi embeddings/overrides that can reorder what follows them; isolates
# (U+2066..2069) and marks stay, because dir="auto" handles right-to-left text.
DISPLAY_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\ufeff\ufffe\uffff\ud800-\udfff]")
# Anything below space (CR, LF, TAB, NUL...), DEL and Unicode line breaks: the raw material of
# header injection.
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
# What ingest refuses to keep: C0 controls but tab and line feed, and DEL.
INPUT_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


def clean(value: object) -> str:
    """One line of display text: control characters removed, whitespace runs collapsed."""
    if value is None:
        return ""
    text = str(value)
    text = DISPLAY_CONTROLS.sub("", text)
    return _SPACE.sub(" ", text).strip()


def header_text(value: str) -> str:
    """One line of header text: each run of control characters (CR and LF above all) becomes one space."""
    return LINE_BREAKS.sub(" ", value).strip()


def cut(text: str, limit: int, size: Callable[[str], int]) -> list[str]:
    """text in pieces of whole characters, each as large as fits in `limit` by `size` (a character's
    bytes, display columns...); a character larger than the limit is a piece of its own."""
    pieces, current, used = [], [], 0
    for ch in text:
        n = size(ch)
        if used + n > limit and current:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += n
    if current:
        pieces.append("".join(current))
    return pieces


def clean_input(value: str, *, one_line: bool = True) -> str:
    """An incoming text field: controls become spaces and whitespace collapses (one_line), or
    controls are removed and line breaks and tabs kept (one_line=False); stripped either way."""
    value = INPUT_CONTROLS.sub(" " if one_line else "", value)
    return _SPACE.sub(" ", value).strip() if one_line else value.strip()
