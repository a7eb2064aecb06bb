"""The subject line and the preheader (the inbox's preview text) of a digest, built from its cards."""

from __future__ import annotations

from collections.abc import Sequence

from ..i18n import SOURCE_LANGUAGE, Language, language
from .filters import display_width, fit_width

__all__ = ["subject_line", "preheader", "quiet_note", "MAX_SUBJECT", "MAX_PREHEADER", "QUIET_WEEK", "QUIET_DAY"]

# By display width (a Hangul or CJK character counts two), in whole words.
MAX_SUBJECT = 78
MAX_PREHEADER = 100
PREHEADER_TITLE = 44
QUIET_WEEK = "A quiet week: nothing new matched what you follow."
QUIET_DAY = "A quiet day: nothing new matched what you follow."


def quiet_note(frequency: str = "weekly", lang: Language | None = None) -> str:
    """What an issue with no story says, in the reader's cadence and language."""
    lang = lang or language(SOURCE_LANGUAGE)
    if frequency == "daily":
        return lang.gettext("A quiet day: nothing new matched what you follow.")
    return lang.gettext("A quiet week: nothing new matched what you follow.")


def subject_line(cards: Sequence, period_label: str, lang: Language | None = None) -> str:
    """The top story's title, cut in whole words so that it and "+ N more" fit MAX_SUBJECT
    columns; for no cards, the period."""
    lang = lang or language(SOURCE_LANGUAGE)
    if not cards:
        return fit_width(lang.gettext("Your AMW Digest: %(period)s") % {"period": period_label}, MAX_SUBJECT)
    rest = len(cards) - 1
    tail = lang.ngettext(" + %(num)s more", " + %(num)s more", rest) % {"num": rest} if rest else ""
    return fit_width(cards[0].title, MAX_SUBJECT - display_width(tail)) + tail


def preheader(cards: Sequence, frequency: str = "weekly", lang: Language | None = None) -> str:
    """The top story's scores with the story they belong to, then the next titles that fit whole;
    the quiet-week (quiet-day) note for no cards. At most MAX_PREHEADER columns, in whole words."""
    lang = lang or language(SOURCE_LANGUAGE)
    if not cards:
        return quiet_note(frequency, lang)
    first = cards[0]
    scores = lang.gettext(": Novelty %(novelty)s/3, Significance %(significance)s/3") % {
        "novelty": first.novelty, "significance": first.significance}
    also = lang.gettext(". Also: ")
    # The subject already carries the title: a shorter one here leaves room for the next stories.
    lead = fit_width(first.title, min(PREHEADER_TITLE, MAX_PREHEADER - display_width(scores))) + scores
    others = [c.title for c in cards[1:3]]
    if not others:
        return lead
    text = lead
    for i, title in enumerate(others):
        piece = (also if i == 0 else " · ") + title
        if display_width(text + piece) <= MAX_PREHEADER:
            text += piece
        else:
            room = MAX_PREHEADER - display_width(text) - display_width(piece) + display_width(title)
            if room >= 20:  # a cut title that still says something
                text += piece[: len(piece) - len(title)] + fit_width(title, room)
            break
    return text
