"""Relevance feedback links: signed "more like this" / "less of this" URLs and what a token asks for.

What a request changes in a reader's follows is the reader-records layer's part: subscribers.feedback.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TokenError
from .types import ArticleData, Reader

KINDS = ("company", "segment")
DIRECTIONS = ("more", "less")
MAX_NAME = 200


def feedback_links(signer, base: str, reader: Reader, article: ArticleData,
                   kinds: tuple[str, ...] = KINDS) -> dict:
    """Signed feedback URLs for one card, for the renderer.

    Returns {"company": {"name", "more", "less"} | None, "segment": {...} | None}. The company is
    the one the reader follows (the reason the card is there), else the primary company; the
    segment likewise.
    """
    base = base.rstrip("/")
    company = next((c for c in article.companies if c in reader.companies), article.primary_company)
    segment = next((s for s in article.segments if s in reader.segments),
                   article.segments[0] if article.segments else None)

    def links(kind: str, name: str | None) -> dict | None:
        if not name:
            return None
        return {"name": name, **{d: f"{base}/feedback/{signer.make('feedback', reader.id, extra={'k': kind, 'n': name, 'd': d})}"
                                 for d in DIRECTIONS}}

    # Each link is an HMAC signature: sign only the kinds the caller will show (per send, per card).
    return {"company": links("company", company) if "company" in kinds else None,
            "segment": links("segment", segment) if "segment" in kinds else None}


@dataclass(frozen=True)
class Feedback:
    """What a feedback token asks for."""

    subscriber_id: int
    kind: str
    name: str
    direction: str

    @property
    def label(self) -> str:
        return ("More" if self.direction == "more" else "Less") + f" about {self.name}"


def read_feedback(signer, token: str) -> Feedback:
    """The request a feedback token carries; TokenError for anything but a well-formed one."""
    value = signer.read("feedback", token)
    if not isinstance(value, tuple):
        raise TokenError("this link is invalid or has expired")
    subscriber_id, extra = value
    kind, name, direction = extra.get("k"), extra.get("n"), extra.get("d")
    if kind not in KINDS or direction not in DIRECTIONS or not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise TokenError("this link is invalid or has expired")
    return Feedback(subscriber_id, kind, name, direction)
