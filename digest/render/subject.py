"""The subject line and the preheader (the inbox's preview text) of a digest, built from its cards."""

from __future__ import annotations

from collections.abc import Sequence

from .filters import shorten

__all__ = ["subject_line", "preheader", "MAX_SUBJECT_TITLE", "MAX_PREHEADER", "QUIET_WEEK"]

MAX_SUBJECT_TITLE = 70
MAX_PREHEADER = 140
QUIET_WEEK = "A quiet week: nothing new matched what you follow."


def subject_line(cards: Sequence, period_label: str) -> str:
    """The top story's title (shortened) and how many more follow; for no cards, the period."""
    if not cards:
        return f"Your AMW Digest: {period_label}"
    top = shorten(cards[0].title, MAX_SUBJECT_TITLE)
    rest = len(cards) - 1
    return f"{top} + {rest} more" if rest else top


def preheader(cards: Sequence) -> str:
    """The top story's scores and the next two titles, or the quiet-week note."""
    if not cards:
        return QUIET_WEEK
    first = cards[0]
    lead = f"Novelty {first.novelty}/3, Significance {first.significance}/3"
    others = [c.title for c in cards[1:3]]
    text = lead + (". Also: " + " · ".join(others) if others else "")
    return shorten(text, MAX_PREHEADER)
