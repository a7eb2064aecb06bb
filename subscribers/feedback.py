"""Relevance feedback: signed "more like this" / "less of this" links and what they change in follows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from digest.errors import TokenError
from digest.types import ArticleData, Reader

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


def apply_feedback(session: Session, subscriber, feedback: Feedback) -> tuple[bool, str]:
    """Adjust the subscriber's follows; returns (changed, a sentence for the reader). The caller commits.

    "Less" of a segment the reader follows only through its parent replaces the parent with the
    parent's other children, so the rest of what they chose keeps coming. "Less" of something not
    followed at all changes nothing (there is no mute list) and says so.
    """
    from subscribers.follows import COMPANY, SEGMENT, Catalog, follow, follow_ids, unfollow

    catalog = Catalog(session)
    current = follow_ids(session, [subscriber.id])[subscriber.id]
    if feedback.kind == "company":
        company_id, name = catalog.company(feedback.name)
        followed = company_id in current[COMPANY]
        if feedback.direction == "more":
            if followed:
                return False, f"You already follow {name}."
            follow(session, subscriber, companies=[name])
            return True, f"You now follow {name}: more stories about it will reach you."
        if followed:
            unfollow(session, subscriber, companies=[name])
            return True, f"You no longer follow {name}."
        return False, (f"You don't follow {name}; its stories reach you through the segments you follow. "
                       "You can change those on your preferences page.")

    segment_id, name = catalog.segment(feedback.name)
    path = _path_to_root(catalog, segment_id)  # segment first, root last
    covering = next((s for s in path if s in current[SEGMENT]), None)
    if feedback.direction == "more":
        if covering is not None:
            return False, f"You already follow {name}."
        follow(session, subscriber, segments=[name])
        return True, f"You now follow {name}."
    if covering is None:
        return False, f"You don't follow {name}, so there is nothing to remove."
    if covering == segment_id:
        unfollow(session, subscriber, segments=[name])
        return True, f"You no longer follow {name}."
    # Followed through an ancestor: keep every sibling branch along the way down, drop this one.
    children: dict[int, list[int]] = {}
    for segment in catalog.segments.values():
        if segment.parent_id is not None:
            children.setdefault(segment.parent_id, []).append(segment.id)
    keep: list[str] = []
    down = list(reversed(path[: path.index(covering) + 1]))  # covering ... segment
    for node, next_node in zip(down, down[1:]):
        keep += [catalog.segments[c].name for c in children.get(node, ()) if c != next_node]
    unfollow(session, subscriber, segments=[catalog.segments[covering].name])
    if keep:
        follow(session, subscriber, segments=keep)
    return True, (f"You no longer get {name}. You still follow the rest of {catalog.segments[covering].name}"
                  + (f": {', '.join(sorted(keep))}." if keep else "."))


def _path_to_root(catalog, segment_id: int) -> list[int]:
    path, seen = [], set()
    current = segment_id
    while current is not None and current not in seen and current in catalog.segments:
        seen.add(current)
        path.append(current)
        current = catalog.segments[current].parent_id
    return path
