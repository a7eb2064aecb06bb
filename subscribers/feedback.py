"""Relevance feedback: what a "more like this" / "less of this" request changes in a reader's follows.

The signed links and reading a token are the core's part (digest.feedback), re-exported here.
"""

from __future__ import annotations

from sqlmodel import Session

from digest.feedback import (DIRECTIONS, KINDS, MAX_NAME, Feedback, feedback_links, more_target, mute_target,
                             read_feedback)
from digest.i18n import SOURCE_LANGUAGE, Language, language
from digest.names import company_key, segment_key

from .follows import COMPANY, SEGMENT, NameIndex, follow, follow_ids, unfollow

__all__ = ["DIRECTIONS", "KINDS", "MAX_NAME", "Feedback", "apply_feedback", "feedback_links", "more_target", "mute",
           "mute_target", "read_feedback", "unmute"]


def apply_feedback(session: Session, subscriber, feedback: Feedback,
                   lang: Language | None = None) -> tuple[bool, str]:
    """Adjust the subscriber's follows; returns (changed, a sentence for the reader, in `lang`). The
    caller commits.

    "Less" of a segment the reader follows only through its parent replaces the parent with the
    parent's other children, so the rest of what they chose keeps coming. "Less" of something not
    followed at all changes nothing (there is no mute list) and says so.
    """
    lang = lang or language(SOURCE_LANGUAGE)
    if feedback.direction == "mute":
        return mute(session, subscriber, feedback, lang)
    _ = lang.gettext
    catalog = NameIndex(session)
    current = follow_ids(session, [subscriber.id])[subscriber.id]
    if feedback.kind == "company":
        company_id, name = catalog.company(feedback.name)
        followed = company_id in current[COMPANY]
        if feedback.direction == "more":
            if followed:
                return False, _("You already follow %(name)s.") % {"name": name}
            follow(session, subscriber, companies=[name])
            unmute(subscriber, "company", name)
            return True, _("You now follow %(name)s: more stories about it will reach you.") % {"name": name}
        if followed:
            unfollow(session, subscriber, companies=[name])
            return True, _("You no longer follow %(name)s.") % {"name": name}
        return False, _("You don't follow %(name)s; its stories reach you through the segments you follow. "
                        "You can change those on your preferences page.") % {"name": name}

    segment_id, name = catalog.segment(feedback.name)
    path = _path_to_root(catalog, segment_id)  # segment first, root last
    covering = next((s for s in path if s in current[SEGMENT]), None)
    if feedback.direction == "more":
        if covering is not None:
            return False, _("You already follow %(name)s.") % {"name": name}
        follow(session, subscriber, segments=[name])
        unmute(subscriber, "segment", name)
        return True, _("You now follow %(name)s.") % {"name": name}
    if covering is None:
        return False, _("You don't follow %(name)s, so there is nothing to remove.") % {"name": name}
    if covering == segment_id:
        unfollow(session, subscriber, segments=[name])
        return True, _("You no longer follow %(name)s.") % {"name": name}
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
    values = {"name": name, "parent": catalog.segments[covering].name, "rest": lang.list(sorted(keep))}
    if keep:
        return True, _("You no longer get %(name)s. You still follow the rest of %(parent)s: %(rest)s.") % values
    return True, _("You no longer get %(name)s. You still follow the rest of %(parent)s.") % values


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


def mute(session: Session, subscriber, feedback: Feedback, lang: Language | None = None) -> tuple[bool, str]:
    """Add the feedback's company, segment or tag to the subscriber's mute list; (changed, sentence).

    A company or segment must still be known (NotFound otherwise); the stored name is its own.
    """
    name = feedback.name
    if feedback.kind in ("company", "segment"):
        catalog = NameIndex(session)
        name = (catalog.company if feedback.kind == "company" else catalog.segment)(feedback.name)[1]
    _ = (lang or language(SOURCE_LANGUAGE)).gettext
    current = list(subscriber.muted or [])
    if any(e.get("kind") == feedback.kind and _same(feedback.kind, e.get("name", ""), name) for e in current):
        return False, {
            "company": _("You had already muted stories about %(name)s; nothing changed."),
            "segment": _("You had already muted stories in %(name)s; nothing changed."),
            "tag": _("You had already muted stories tagged %(name)s; nothing changed."),
        }[feedback.kind] % {"name": name}
    subscriber.muted = [*current, {"kind": feedback.kind, "name": name}]
    session.add(subscriber)
    return True, {
        "company": _("Muted: your digests will no longer include stories about %(name)s, starting with the next one."),
        "segment": _("Muted: your digests will no longer include stories in %(name)s, starting with the next one."),
        "tag": _("Muted: your digests will no longer include stories tagged %(name)s, starting with the next one."),
    }[feedback.kind] % {"name": name}


def unmute(subscriber, kind: str, name: str) -> bool:
    """Remove one entry from the mute list (the caller adds the subscriber and commits)."""
    current = list(subscriber.muted or [])
    kept = [e for e in current if not (e.get("kind") == kind and _same(kind, e.get("name", ""), name))]
    if len(kept) == len(current):
        return False
    subscriber.muted = kept
    return True
