"""Relevance feedback: what a "more like this" / "less of this" request changes in a reader's follows.

The signed links and reading a token are the core's part (digest.feedback), re-exported here.
"""

from __future__ import annotations

from sqlmodel import Session

from digest.feedback import DIRECTIONS, KINDS, MAX_NAME, Feedback, feedback_links, read_feedback

from .follows import COMPANY, SEGMENT, NameIndex, follow, follow_ids, unfollow

__all__ = ["DIRECTIONS", "KINDS", "MAX_NAME", "Feedback", "apply_feedback", "feedback_links", "read_feedback"]


def apply_feedback(session: Session, subscriber, feedback: Feedback) -> tuple[bool, str]:
    """Adjust the subscriber's follows; returns (changed, a sentence for the reader). The caller commits.

    "Less" of a segment the reader follows only through its parent replaces the parent with the
    parent's other children, so the rest of what they chose keeps coming. "Less" of something not
    followed at all changes nothing (there is no mute list) and says so.
    """
    catalog = NameIndex(session)
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
