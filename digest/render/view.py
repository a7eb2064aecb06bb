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

from ..i18n import SOURCE_LANGUAGE, Language, language
from ..names import company_key, slugify
from ..selection.editorial import PULLED_MARK
from ..types import ArticleData, Choice, Issue, Links, Rendered
from .filters import TEXT_WIDTH, age_label, clean, escape_html, shorten
from .fragments import WithFeedback
from .note import note_html, note_text
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
            base_url: str, lang: Language, direction: str, default_language: str = SOURCE_LANGUAGE) -> Prepared:
    """The reader's cards (text and HTML views, with their own feedback links) and header values, in
    the reader's language (`lang`, the catalog the renderer chose for them): article text in it
    where the article has it, else in the default language, else the article's own text."""
    texts = tuple(dict.fromkeys((lang.tag, default_language)))
    reference = now or issue.window_end
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=timezone.utc)
    tz = _zone(issue.reader.timezone)
    period_label, window_label = _period_label(issue, tz, lang)
    views = [card_views(c, reference, company_url, lang, texts) for c in issue.choices]
    cards = [text for text, _ in views]
    html_cards = [html for _, html in views]
    if links.feedback:
        # Cards are shared across readers; the signed feedback links are this reader's own.
        feedback = [_feedback(links.feedback.get(c.article.id)) for c in issue.choices]
        cards = [WithFeedback(card, fb) for card, (fb, _) in zip(cards, feedback)]
        html_cards = [WithFeedback(card, fb) for card, (_, fb) in zip(html_cards, feedback)]
    name = first_name(issue.reader.name)
    base = {
        "lang": lang.tag,
        "_lang": lang,
        "dir": direction,
        "links": View(unsubscribe=links.unsubscribe, preferences=links.preferences,
                      web_version=links.web_version, base=links.base or base_url,
                      # the issue's web page lists the stories that did not fit under id="more"
                      more_url=links.web_version + "#more"),
        "period_label": period_label,
        "window_label": window_label,
        "doc_title": lang.gettext("AMW Digest, %(period)s") % {"period": period_label},
        "greeting": lang.gettext("Hi %(name)s,") % {"name": name} if name else lang.gettext("Hi,"),
        "email": clean(issue.reader.email),
        "postal_address": postal_address,
        "rule": "-" * TEXT_WIDTH,
        # the editor's note: plain text for the text part, sanitized HTML (a Markup, kept as is)
        "note": note_text(issue.note), "note_html": note_html(issue.note),
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
    lang = ctx.pop("_lang")
    ctx["cards"] = cards
    ctx["overflow"] = ()  # the web version's extra cards (Renderer.render_web)
    ctx["more"] = _more_label(more_count, lang) if more_count else ""
    ctx["subject"] = subject_line(cards, ctx["period_label"], lang)
    ctx["preheader"] = preheader(cards, issue.reader.frequency, lang)
    ctx["intro"] = _intro(len(cards), _follows(issue.choices[:shown], lang), issue.reader.frequency,
                          issue.window_end - issue.window_start, lang)
    return ctx


def html_context(ctx: dict, prepared: Prepared, shown: int) -> dict:
    """The HTML part's context: every value escaped once, the cards' HTML views."""
    html_ctx = {k: html_value(v, k) for k, v in ctx.items() if k != "cards"}
    html_ctx["cards"] = prepared.html_cards[:shown]
    return html_ctx


def period_label(period: str, lang: Language | None = None) -> str:
    """The reader's name for a ledger period: "2026-W48" -> "Week 48, 2026" ("2026년 48주차"),
    "2026-11-23" -> "Monday, Nov 23, 2026"."""
    lang = lang or language(SOURCE_LANGUAGE)
    match = re.fullmatch(r"(\d{4})-W(\d{2})", period or "")
    if match:
        return lang.gettext("Week %(week)s, %(year)s") % {"week": int(match.group(2)), "year": match.group(1)}
    try:
        day = date.fromisoformat(period)
    except (TypeError, ValueError):
        return clean(period) or lang.gettext("Your digest")
    return lang.gettext("%(weekday)s, %(date)s") % {"weekday": lang.weekday(day), "date": lang.day(day)}


def cadence_words(frequency: str) -> SimpleNamespace:
    """How the reader's cadence is said: "weekly"/"this week"/"week" or "daily"/"today"/"day"."""
    daily = frequency == "daily"
    return SimpleNamespace(adjective="daily" if daily else "weekly", now="today" if daily else "this week",
                           unit="day" if daily else "week")


ONE_DAY = timedelta(hours=25)  # a day's window, a daylight-saving day's included


def _period_label(issue: Issue, tz: ZoneInfo, lang: Language) -> tuple[str, str]:
    start = issue.window_start.astimezone(tz).date()
    end = (issue.window_end - timedelta(microseconds=1)).astimezone(tz).date()
    return _labels(issue.period, start, end, issue.window_end - issue.window_start <= ONE_DAY, lang)


@lru_cache(maxsize=1024)
def _labels(period: str, start: date, end: date, one_day: bool, lang: Language) -> tuple[str, str]:
    """(period label, window label); cached, since a send's readers share a few of each."""
    label = period_label(period, lang)
    if one_day or start == end:  # a daily issue: the day it is sent
        return label, lang.day(end)
    # CLDR's range ("Nov 17 – 23, 2026", "2026년 11월 17일~23일"); thin spaces as plain ones, which
    # every inbox font and the text part show alike.
    return label, lang.interval(start, end).replace("\u2009", " ")


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


def _card(choice: Choice, reference: datetime, company_url: str, lang: Language, texts: tuple[str, ...]) -> View:
    """One card's view model in the reader's language (text values; card_views caches it with its
    HTML twin)."""
    a: ArticleData = choice.article
    lead = choice.lead or a.primary_company
    # The company as the reader's script writes it where an alias does (ByteDance -> 바이트댄스).
    company = shorten(clean(lang.local_name(lead, a.local_names)), *MAX_NAME) if lead else ""
    read = max(1, int(a.read_minutes or 1))
    region = clean(a.region)
    return View(
        title=_title(choice, lang, texts),
        url=a.url,
        company=company,
        company_url=company_url.format(slug=slugify(shorten(clean(lead), *MAX_NAME))) if company else "",
        region=region,
        read=read,
        meta=" · ".join(x for x in (region, lang.ngettext("%(num)s min read", "%(num)s min read", read)
                                    % {"num": read}) if x),
        is_update=bool(choice.is_update),
        updates_url=choice.updates if choice.is_update else "",
        novelty=max(1, min(3, int(a.novelty or 1))),
        significance=max(1, min(3, int(a.significance or 1))),
        scores=(_score(lang.gettext("Novelty"), a.novelty, a.text("novelty_note", texts)),
                _score(lang.gettext("Significance"), a.significance, a.text("significance_note", texts))),
        summary=shorten(clean(a.text("summary", texts)), *MAX_SUMMARY),
        segments=tuple(s for s in (shorten(clean(s), *MAX_NAME) for s in a.segments[:MAX_SEGMENTS]) if s),
        tags=_tags(a),
        why=(why := shorten(" · ".join(r for r in (clean(r) for r in _reasons(choice, lang)) if r), *MAX_WHY)),
        why_units=_units(why, choice.matched),
        fb=None,  # this reader's feedback links, set per render
        fragments={},  # this card's rendered output, per template and variant (fragments.py)
        connected=tuple(
            View(age=age_label(r.published_at, reference, lang), title=shorten(clean(r.text("title", texts)), *MAX_CONNECTED_TITLE),
                 url=r.url)
            for r in choice.connected[:MAX_CONNECTED]
        ),
    )


def _title(choice: Choice, lang: Language, texts: tuple[str, ...]) -> str:
    title = shorten(clean(choice.article.text("title", texts)), *MAX_TITLE) or lang.gettext("(untitled)")
    if choice.withdrawn:
        return lang.gettext("%(mark)s: %(title)s") % {"mark": lang.gettext(PULLED_MARK), "title": title}
    return title


def _reasons(choice: Choice, lang: Language) -> tuple[str, ...]:
    """Why the card was chosen, in the reader's language: "You follow A, B, and C" from the names
    selection matched (choice.reason_names), else the reasons as selection wrote them."""
    if choice.reason_names:
        pairs = (*choice.article.local_names, *(p for c in choice.connected for p in c.local_names))
        names = [lang.local_name(n, pairs) for n in choice.reason_names]
        return (lang.gettext("You follow %(names)s") % {"names": lang.list(names)},)
    return tuple(lang.gettext(r) for r in choice.reasons)  # marked N_ where they are made ("Editor's pick")


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
def card_views(choice: Choice, reference: datetime, company_url: str, lang: Language | None = None,
               texts: tuple[str, ...] = ()) -> tuple[View, View]:
    """A card's text and HTML view models in one language; cached, because the same choices recur
    across a send's readers. Both share one fragment store (fragments.py keys it per template)."""
    lang = lang or language(SOURCE_LANGUAGE)
    card = _card(choice, reference, company_url, lang, texts or (lang.tag,))
    return card, html_value(card)


MAX_INTRO_NAMES = 5


def _follows(choices, lang: Language | None = None) -> str:
    """The reader's follows this issue has a story about, in story order: at most five by name,
    joined as the reader's locale joins a list (CLDR: "A, B, and C", "A, B 및 C", "A、B、C")."""
    lang = lang or language(SOURCE_LANGUAGE)
    pairs = tuple(p for c in choices for a in (getattr(c, "article", None), *getattr(c, "connected", ()))
                  if a is not None for p in a.local_names)
    names = list(dict.fromkeys(n for n in (clean(lang.local_name(m, pairs)) for c in choices for m in c.matched) if n))
    if not names:
        return ""
    shown = names[:MAX_INTRO_NAMES]
    if len(names) > MAX_INTRO_NAMES:
        rest = len(names) - MAX_INTRO_NAMES
        shown.append(lang.ngettext("%(num)s more of your follows", "%(num)s more of your follows", rest)
                     % {"num": rest})
    return lang.list(shown)


def _intro(count: int, follows: str, frequency: str, span: timedelta, lang: Language) -> str:
    if not count:
        return quiet_note(frequency, lang)
    values = {"num": lang.number(count), "follows": follows}
    # A daily issue after a day without one covers more than today: it says so.
    if frequency == "daily" and span > ONE_DAY:
        if follows:
            return lang.ngettext("%(num)s story since your last digest on %(follows)s, ranked by the AMW Read.",
                                 "%(num)s stories since your last digest on %(follows)s, ranked by the AMW Read.",
                                 count) % values
        return lang.ngettext("%(num)s story since your last digest, ranked by the AMW Read.",
                             "%(num)s stories since your last digest, ranked by the AMW Read.", count) % values
    if frequency == "daily":
        if follows:
            return lang.ngettext("%(num)s story today on %(follows)s, ranked by the AMW Read.",
                                 "%(num)s stories today on %(follows)s, ranked by the AMW Read.", count) % values
        return lang.ngettext("%(num)s story today, ranked by the AMW Read.",
                             "%(num)s stories today, ranked by the AMW Read.", count) % values
    if follows:
        return lang.ngettext("%(num)s story this week on %(follows)s, ranked by the AMW Read.",
                             "%(num)s stories this week on %(follows)s, ranked by the AMW Read.", count) % values
    return lang.ngettext("%(num)s story this week, ranked by the AMW Read.",
                         "%(num)s stories this week, ranked by the AMW Read.", count) % values


def more_label(count: int, lang: Language | None = None) -> str:
    return _more_label(count, lang or language(SOURCE_LANGUAGE))


def _more_label(count: int, lang: Language) -> str:
    return lang.ngettext("%(num)s more story on the web", "%(num)s more stories on the web", count) % {
        "num": lang.number(count)}


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
