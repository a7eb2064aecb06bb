"""The view model both parts of the email render: cards, reasons, feedback links, header and intro.

`prepare` turns an Issue and its Links into plain values, cleaned and capped in length, once per
reader; each card's views are cached per Choice, because the same articles recur across a send's
readers. `context` adds what depends on how many cards are shown (the subject and preheader come
from digest/render/subject.py). The HTML part gets the same values escaped once (`html_value`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from markupsafe import Markup

from ..names import company_key, slugify
from ..types import ArticleData, Choice, Issue, Links, Rendered
from .filters import TEXT_WIDTH, age_label, clean, escape_html, shorten
from .fragments import WithFeedback
from .subject import quiet_note, preheader, subject_line

__all__ = ["View", "Prepared", "prepare", "first_name", "context", "html_context", "card_views", "html_value", "more_label"]

# Card limits keep one card's size bounded whatever the input, so 20 cards fit under 100 KB.
# (characters, UTF-8 bytes): the byte cap keeps Hangul, CJK and emoji cards as small as Latin ones.
MAX_TITLE = (160, 280)
MAX_SUMMARY = (360, 600)
MAX_NOTE = (120, 200)
MAX_WHY = (160, 260)
MAX_NAME = (60, 120)
MAX_CONNECTED = 3
MAX_CONNECTED_TITLE = (100, 180)
MAX_SEGMENTS = 4
MAX_TAGS = 6


class View(SimpleNamespace):
    """View-model node: attribute access is what Jinja tries first, so it is the fast path."""


@dataclass
class Prepared:
    """One reader's view model before the size guard picks how many cards are shown."""

    cards: list[View | WithFeedback]
    html_cards: list[View | WithFeedback]
    base: dict


def prepare(issue: Issue, links: Links, *, now: datetime | None, company_url: str, postal_address: str,
            base_url: str, lang: str, direction: str) -> Prepared:
    """The reader's cards (text and HTML views, with their own feedback links) and header values."""
    reference = now or issue.window_end
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=timezone.utc)
    tz = _zone(issue.reader.timezone)
    period_label, window_label = _period_label(issue, tz)
    views = [card_views(c, reference, company_url) for c in issue.choices]
    cards = [text for text, _ in views]
    html_cards = [html for _, html in views]
    if links.feedback:
        # Cards are shared across readers; the signed feedback links are this reader's own.
        feedback = [_feedback(links.feedback.get(c.article.id)) for c in issue.choices]
        cards = [WithFeedback(card, fb) for card, (fb, _) in zip(cards, feedback)]
        html_cards = [WithFeedback(card, fb) for card, (_, fb) in zip(html_cards, feedback)]
    name = first_name(issue.reader.name)
    base = {
        "lang": lang,
        "dir": direction,
        "links": View(unsubscribe=links.unsubscribe, preferences=links.preferences,
                      web_version=links.web_version, base=links.base or base_url,
                      # the issue's web page lists the stories that did not fit under id="more"
                      more_url=links.web_version + "#more"),
        "period_label": period_label,
        "window_label": window_label,
        "doc_title": f"AMW Digest, {period_label}",
        "greeting": f"Hi {name}," if name else "Hi,",
        "email": clean(issue.reader.email),
        "postal_address": postal_address,
        "rule": "-" * TEXT_WIDTH,
    }
    return Prepared(cards, html_cards, base)


def first_name(name: str) -> str:
    """The name the greeting uses: the first word of the reader's name, at most 40 characters
    ("" when there is none). digest/stamp.py stamps it into a group's shared render."""
    cleaned = clean(name)
    return shorten(cleaned.split(" ")[0], 40) if cleaned else ""


def context(prepared: Prepared, issue: Issue, shown: int) -> dict:
    """The template context with the first `shown` cards: subject, preheader, intro, "more" link."""
    cards = prepared.cards[:shown]
    dropped = len(prepared.cards) - shown
    more_count = dropped + max(0, issue.more_count)
    ctx = dict(prepared.base)
    ctx["cards"] = cards
    ctx["overflow"] = ()  # the web version's extra cards (Renderer.render_web)
    ctx["more"] = _more_label(more_count) if more_count else ""
    ctx["subject"] = subject_line(cards, ctx["period_label"])
    ctx["preheader"] = preheader(cards, issue.reader.frequency)
    ctx["intro"] = _intro(len(cards), _follows(issue.choices[:shown]), issue.reader.frequency,
                          issue.window_end - issue.window_start)
    return ctx


def html_context(ctx: dict, prepared: Prepared, shown: int) -> dict:
    """The HTML part's context: every value escaped once, the cards' HTML views."""
    html_ctx = {k: html_value(v, k) for k, v in ctx.items() if k != "cards"}
    html_ctx["cards"] = prepared.html_cards[:shown]
    return html_ctx


def period_label(period: str) -> str:
    """The reader's name for a ledger period: "2026-W48" -> "Week 48, 2026", "2026-11-23" -> "Monday, Nov 23, 2026"."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", period or "")
    if match:
        return f"Week {int(match.group(2))}, {match.group(1)}"
    try:
        day = date.fromisoformat(period)
    except (TypeError, ValueError):
        return clean(period) or "Your digest"
    return f"{day:%A}, {day:%b} {day.day}, {day.year}"


def cadence_words(frequency: str) -> SimpleNamespace:
    """How the reader's cadence is said: "weekly"/"this week"/"week" or "daily"/"today"/"day"."""
    daily = frequency == "daily"
    return SimpleNamespace(adjective="daily" if daily else "weekly", now="today" if daily else "this week",
                           unit="day" if daily else "week")


ONE_DAY = timedelta(hours=25)  # a day's window, a daylight-saving day's included


def _period_label(issue: Issue, tz: ZoneInfo) -> tuple[str, str]:
    label = period_label(issue.period)
    start = issue.window_start.astimezone(tz)
    end = (issue.window_end - timedelta(microseconds=1)).astimezone(tz)
    if issue.window_end - issue.window_start <= ONE_DAY:  # a daily issue: the day it is sent
        window = f"{end:%b} {end.day}, {end.year}"
    elif start.year != end.year:
        window = f"{start:%b} {start.day}, {start.year} – {end:%b} {end.day}, {end.year}"
    elif start.month != end.month:
        window = f"{start:%b} {start.day} – {end:%b} {end.day}, {end.year}"
    else:
        window = f"{start:%b} {start.day} – {end.day}, {end.year}"
    return label, window


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


_PIPS_ON = ("", "●", "●●", "●●●")
_PIPS_OFF = ("○○○", "○○", "○", "")


def _score(label: str, value: int, note: str) -> View:
    value = max(1, min(3, int(value or 1)))
    return View(label=label, score=value, on=_PIPS_ON[value], off=_PIPS_OFF[value],
                note=shorten(clean(note), *MAX_NOTE))


def _card(choice: Choice, reference: datetime, company_url: str) -> View:
    """One card's view model (text values; _card_views caches it with its HTML twin)."""
    a: ArticleData = choice.article
    lead = choice.lead or a.primary_company
    company = shorten(clean(lead), *MAX_NAME) if lead else ""
    read = max(1, int(a.read_minutes or 1))
    region = clean(a.region)
    return View(
        title=shorten(clean(a.title), *MAX_TITLE) or "(untitled)",
        url=a.url,
        company=company,
        company_url=company_url.format(slug=slugify(company)) if company else "",
        region=region,
        read=read,
        meta=" · ".join(x for x in (region, f"{read} min read") if x),
        is_update=bool(choice.is_update),
        updates_url=choice.updates if choice.is_update else "",
        novelty=max(1, min(3, int(a.novelty or 1))),
        significance=max(1, min(3, int(a.significance or 1))),
        scores=(_score("Novelty", a.novelty, a.novelty_note),
                _score("Significance", a.significance, a.significance_note)),
        summary=shorten(clean(a.summary), *MAX_SUMMARY),
        segments=tuple(s for s in (shorten(clean(s), *MAX_NAME) for s in a.segments[:MAX_SEGMENTS]) if s),
        tags=_tags(a),
        why=(why := shorten(" · ".join(r for r in (clean(r) for r in choice.reasons) if r), *MAX_WHY)),
        why_units=_units(why, choice.matched),
        fb=None,  # this reader's feedback links, set per render
        fragments={},  # this card's rendered output, per template and variant (fragments.py)
        connected=tuple(
            View(age=age_label(r.published_at, reference), title=shorten(clean(r.title), *MAX_CONNECTED_TITLE),
                 url=r.url)
            for r in choice.connected[:MAX_CONNECTED]
        ),
    )


def _units(text: str, names) -> tuple[str, ...]:
    """The words of text, each of the given names (with a following comma, and the "(alias)" after
    it) kept as one unit, so that the text part's wrap_items never breaks a company or segment name
    across lines, nor a name from its alias."""
    keep = sorted((clean(n) for n in names if " " in clean(n)), key=len, reverse=True)
    for i, name in enumerate(keep):
        text = text.replace(name, f"\x00{i}\x00")
    units: list[str] = []
    inside = False  # within "(...)": the alias a name was matched by stays with it, "Amazon (AWS)"
    for word in text.split(" "):
        for i, name in enumerate(keep):
            word = word.replace(f"\x00{i}\x00", name)
        if not word:
            continue
        if units and (inside or word.startswith("(")):
            units[-1] += " " + word
            inside = ")" not in word
        else:
            units.append(word)
    return tuple(units)


def _tags(a: ArticleData) -> tuple[str, ...]:
    """The tags as the editors wrote them, without those naming one of the card's own companies
    (or the alias the story calls it by)."""
    own = {company_key(n) for n in (*a.companies, *a.aliases) if n}
    tags = (shorten(clean(t), 30, 60) for t in a.tags if company_key(t) not in own)
    return tuple(dict.fromkeys(t for t in tags if t))[:MAX_TAGS]


@lru_cache(maxsize=1024)
def _feedback_name(name: str) -> tuple[str, Markup]:
    text = shorten(clean(name), *MAX_NAME)
    return text, escape_html(text)


def _feedback(links: dict | None) -> tuple[View | None, View | None]:
    """One card's feedback links, the text part's view and the HTML part's (name escaped; URLs raw,
    for the |url filter): "More on <name>" (follow) and "Less of this" (mute), each only when given."""
    more, less = (links or {}).get("more"), (links or {}).get("less")
    if not more and not less:
        return None, None
    text, html = _feedback_name(more["name"]) if more else ("", Markup(""))
    more_url, less_url = (more or {}).get("url"), (less or {}).get("url")
    return (View(name=text, more_url=more_url, less_url=less_url),
            View(name=html, more_url=more_url, less_url=less_url))


def html_value(value, key: str = ""):
    """value for the HTML part: strings escaped once (URLs and attribute values left raw), recursively."""
    if isinstance(value, str):
        # URLs stay raw: the |url filter quotes and escapes them.
        return value if key.endswith("url") or key in _RAW_KEYS else escape_html(value)
    if isinstance(value, View):
        return View(**{k: html_value(v, k) for k, v in vars(value).items()})
    if isinstance(value, tuple | list):
        return tuple(html_value(v) for v in value)
    return value


# Values the template passes through |attr or |url, which escape them themselves.
_RAW_KEYS = {"lang", "dir", "doc_title", "unsubscribe", "preferences", "web_version", "base"}


@lru_cache(maxsize=4096)
def card_views(choice: Choice, reference: datetime, company_url: str) -> tuple[View, View]:
    """A card's text and HTML view models; cached, because the same choices recur across a send's
    readers. Both share one fragment store (fragments.py keys it per template)."""
    card = _card(choice, reference, company_url)
    return card, html_value(card)


MAX_INTRO_NAMES = 5


def _follows(choices) -> str:
    """The reader's follows this issue has a story about, in story order: at most five by name."""
    names = list(dict.fromkeys(n for n in (clean(m) for c in choices for m in c.matched) if n))
    if not names:
        return ""
    shown = names[:MAX_INTRO_NAMES]
    if len(names) > MAX_INTRO_NAMES:
        rest = len(names) - MAX_INTRO_NAMES
        shown.append(f"{rest} more of your follows" if rest > 1 else "1 more of your follows")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _intro(count: int, follows: str, frequency: str, span: timedelta = ONE_DAY) -> str:
    if count:
        # A daily issue after a day without one covers more than today: it says so.
        when = "since your last digest" if frequency == "daily" and span > ONE_DAY else cadence_words(frequency).now
        return (f"{count} {'story' if count == 1 else 'stories'} {when}"
                + (f" on {follows}" if follows else "") + ", ranked by the AMW Read.")
    return quiet_note(frequency)


def more_label(count: int) -> str:
    return _more_label(count)


def _more_label(count: int) -> str:
    return f"{count} more {'story' if count == 1 else 'stories'} on the web"


def issue_items(issue: Issue, rendered: Rendered | None) -> tuple[list[int], list[int]]:
    """(shown, overflow) article ids of a built issue, as the ledger records them.

    Shown: the cards the email kept (the size guard may drop the last ones) with the connected
    articles each card lists; only these count as received. Overflow: the dropped cards and the
    stories that did not fit, with the connected articles their cards on the web page list.
    """
    kept = rendered.article_count if rendered is not None else len(issue.choices)
    choices = issue.choices
    shown = [c.article.id for c in choices[:kept]] + [a.id for c in choices[:kept] for a in c.connected[:MAX_CONNECTED]]
    rest = (*choices[kept:], *issue.overflow)
    overflow = [c.article.id for c in rest] + [a.id for c in rest for a in c.connected[:MAX_CONNECTED]]
    return shown, overflow
