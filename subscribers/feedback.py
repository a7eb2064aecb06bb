"""Relevance feedback: signed "more like this" / "less of this" links and what they change in follows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from digest.errors import TokenError
from digest.names import company_key, segment_ancestors, segment_key
from digest.types import ArticleData, Reader

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


def feedback_links(signer, base: str, reader: Reader, article: ArticleData) -> dict:
    """Signed feedback URLs for one card, for the renderer: {"more": {"kind", "name", "url"} | None,
    "less": {"kind", "name", "url"} | None}. A link is offered only when it would change something
    (more_target, mute_target); "less" mutes (d=mute)."""
    base = base.rstrip("/")

    def link(target, direction: str) -> dict | None:
        if target is None or len(target[1]) > MAX_NAME:
            return None
        kind, name = target
        token = signer.make("feedback", reader.id, extra={"k": kind, "n": name, "d": direction})
        return {"kind": kind, "name": name, "url": f"{base}/feedback/{token}"}

    return {"more": link(more_target(reader, article), "more"), "less": link(mute_target(reader, article), "mute")}


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


def apply_feedback(session: Session, subscriber, feedback: Feedback) -> tuple[bool, str]:
    """Adjust the subscriber's follows; returns (changed, a sentence for the reader). The caller commits.

    "Less" of a segment the reader follows only through its parent replaces the parent with the
    parent's other children, so the rest of what they chose keeps coming. "Less" of something not
    followed at all changes nothing (there is no mute list) and says so.
    """
    from subscribers.follows import COMPANY, SEGMENT, Catalog, follow, follow_ids, unfollow

    if feedback.direction == "mute":
        return mute(session, subscriber, feedback)
    catalog = Catalog(session)
    current = follow_ids(session, [subscriber.id])[subscriber.id]
    if feedback.kind == "company":
        company_id, name = catalog.company(feedback.name)
        followed = company_id in current[COMPANY]
        if feedback.direction == "more":
            if followed:
                return False, f"You already follow {name}."
            follow(session, subscriber, companies=[name])
            unmute(subscriber, "company", name)
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
        unmute(subscriber, "segment", name)
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


def _same(kind: str, a: str, b: str) -> bool:
    return (segment_key(a) == segment_key(b)) if kind == "segment" else company_key(a) == company_key(b)


def mute(session: Session, subscriber, feedback: Feedback) -> tuple[bool, str]:
    """Add the feedback's company, segment or tag to the subscriber's mute list; (changed, sentence).

    A company or segment must still be known (NotFound otherwise); the stored name is its own.
    """
    name = feedback.name
    if feedback.kind in ("company", "segment"):
        from subscribers.follows import Catalog

        catalog = Catalog(session)
        name = (catalog.company if feedback.kind == "company" else catalog.segment)(feedback.name)[1]
    what = {"company": f"about {name}", "segment": f"in {name}", "tag": f"tagged {name}"}[feedback.kind]
    current = list(subscriber.muted or [])
    if any(e.get("kind") == feedback.kind and _same(feedback.kind, e.get("name", ""), name) for e in current):
        return False, f"You had already muted stories {what}; nothing changed."
    subscriber.muted = [*current, {"kind": feedback.kind, "name": name}]
    session.add(subscriber)
    return True, f"Muted: your digests will no longer include stories {what}, starting with the next one."


def unmute(subscriber, kind: str, name: str) -> bool:
    """Remove one entry from the mute list (the caller adds the subscriber and commits)."""
    current = list(subscriber.muted or [])
    kept = [e for e in current if not (e.get("kind") == kind and _same(kind, e.get("name", ""), name))]
    if len(kept) == len(current):
        return False
    subscriber.muted = kept
    return True
