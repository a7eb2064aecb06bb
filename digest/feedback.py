"""Relevance feedback links: signed "more like this" / "less of this" URLs and what a token asks for.

What a request changes in a reader's follows is the reader-records layer's part: subscribers.feedback.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TokenError
from .names import company_key, segment_ancestors, segment_key
from .types import ArticleData, Reader

KINDS = ("company", "segment", "tag")
DIRECTIONS = ("more", "less", "mute")  # "less": links in issues sent before mutes existed
MAX_NAME = 200


def _segment_covered(name: str, followed) -> bool:
    """Whether the segment or one above it is in `followed` (segment keys)."""
    return any(k in followed for k in segment_ancestors(name))


def more_target(reader: Reader, article: ArticleData) -> tuple[str, str] | None:
    """What "More on X" would follow: the story's first company, else its first segment, that the
    reader neither follows (a segment: nor one above it) nor muted; None when there is none."""
    companies = {company_key(c) for c in reader.companies}
    segments = {segment_key(s) for s in reader.segments}
    muted_companies = {company_key(n) for k, n in reader.muted if k == "company"}
    muted_segments = {segment_key(n) for k, n in reader.muted if k == "segment"}
    for c in article.companies:
        if company_key(c) not in companies and company_key(c) not in muted_companies:
            return "company", c
    for s in article.segments:
        if not _segment_covered(s, segments) and not _segment_covered(s, muted_segments):
            return "segment", s
    return None


def mute_target(reader: Reader, article: ArticleData) -> tuple[str, str] | None:
    """What "Less of this" mutes: what brought this story in besides the reader's own follows.

    The story's primary company when the reader does not follow it (the story came in through a
    segment or another of its companies); else, for a story about a followed company, its most
    specific segment the reader does not follow by name; else its first tag that names none of its
    companies. None when all of these are followed or already muted (the link would do nothing).
    """
    muted = {(k, company_key(n) if k != "segment" else segment_key(n)) for k, n in reader.muted}
    companies = {company_key(c) for c in reader.companies}
    primary = article.primary_company
    if primary and company_key(primary) not in companies:
        return ("company", primary) if ("company", company_key(primary)) not in muted else None
    followed_segments = {segment_key(s) for s in reader.segments}
    for s in article.segments:
        if segment_key(s) not in followed_segments and ("segment", segment_key(s)) not in muted:
            return "segment", s
    own = {company_key(c) for c in (*article.companies, *article.aliases) if c}
    for tag in article.tags:
        if company_key(tag) not in own and ("tag", company_key(tag)) not in muted:
            return "tag", tag
    return None


def feedback_links(signer, base: str, reader: Reader, article: ArticleData, targets=None) -> dict:
    """Signed feedback URLs for one card, for the renderer: {"more": {"kind", "name", "url"} | None,
    "less": {"kind", "name", "url"} | None}. A link is offered only when it would change something
    (more_target, mute_target); "less" mutes (d=mute). `targets`: feedback_targets(reader, article)
    when already known (readers of one group share them)."""
    base = base.rstrip("/")
    more, less = targets if targets is not None else feedback_targets(reader, article)

    def link(target, direction: str) -> dict | None:
        if target is None or len(target[1]) > MAX_NAME:
            return None
        kind, name = target
        token = signer.make("feedback", reader.id, extra={"k": kind, "n": name, "d": direction})
        return {"kind": kind, "name": name, "url": f"{base}/feedback/{token}"}

    return {"more": link(more, "more"), "less": link(less, "mute")}


def feedback_targets(reader: Reader, article: ArticleData) -> tuple:
    """(more_target, mute_target) of one card for this reader: what its follows and mutes decide."""
    return more_target(reader, article), mute_target(reader, article)


@dataclass(frozen=True)
class Feedback:
    """What a feedback token asks for."""

    subscriber_id: int
    kind: str
    name: str
    direction: str

    @property
    def label(self) -> str:
        if self.direction == "mute":
            return f"Mute {self.name}"
        return ("More" if self.direction == "more" else "Less") + f" about {self.name}"

    @property
    def what(self) -> str:
        """How the confirm and result pages name the target: "the company Udio", "the tag safety"."""
        return f"the {self.kind} {self.name}"


def read_feedback(signer, token: str) -> Feedback:
    """The request a feedback token carries; TokenError for anything but a well-formed one."""
    value = signer.read("feedback", token)
    if not isinstance(value, tuple):
        raise TokenError("this link is invalid or has expired")
    subscriber_id, extra = value
    kind, name, direction = extra.get("k"), extra.get("n"), extra.get("d")
    if kind not in KINDS or direction not in DIRECTIONS or (kind == "tag" and direction != "mute") or not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise TokenError("this link is invalid or has expired")
    return Feedback(subscriber_id, kind, name, direction)
