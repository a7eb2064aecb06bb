"""The subject line and the preheader (the inbox's preview text) of a digest, built from its cards."""

from __future__ import annotations

from collections.abc import Sequence

from .filters import shorten

__all__ = ["subject_line", "preheader", "quiet_note", "MAX_SUBJECT_TITLE", "MAX_PREHEADER", "QUIET_WEEK", "QUIET_DAY"]

MAX_SUBJECT_TITLE = 70
MAX_PREHEADER = 140
QUIET_WEEK = "A quiet week: nothing new matched what you follow."
QUIET_DAY = "A quiet day: nothing new matched what you follow."


def quiet_note(frequency: str = "weekly") -> str:
    """What an issue with no story says, in the reader's cadence."""
    return QUIET_DAY if frequency == "daily" else QUIET_WEEK


def subject_line(cards: Sequence, period_label: str) -> str:
    """The top story's title (shortened) and how many more follow; for no cards, the period."""
    if not cards:
        return f"Your AMW Digest: {period_label}"
    top = shorten(cards[0].title, MAX_SUBJECT_TITLE)
    rest = len(cards) - 1
    return f"{top} + {rest} more" if rest else top


def preheader(cards: Sequence, frequency: str = "weekly") -> str:
    """The top story's scores and the next two titles, or the quiet-week (quiet-day) note."""
    if not cards:
        return quiet_note(frequency)
    first = cards[0]
    lead = f"Novelty {first.novelty}/3, Significance {first.significance}/3"
    others = [c.title for c in cards[1:3]]
    text = lead + (". Also: " + " · ".join(others) if others else "")
    return shorten(text, MAX_PREHEADER)
