"""Sample issues for the rendering tests, browser tests and benchmark (hand-built plain data)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from digest.types import ArticleData, Choice, Issue, Links, Reader

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
WINDOW_END = datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)

_BASE_TITLES = [
    "Elon Musk admitted in court that xAI used distillation to extract knowledge from OpenAI models for training Grok",
    "OpenAI launches $4B Deployment Company, acquires Tomoro to embed AI engineers in enterprises",
    "ByteDance has raised its 2026 AI capital expenditure budget by 25% to 200 billion yuan ($27.9 billion)",
    "Anthropic's Mythos AI triggers global regulatory alarm over cyber vulnerabilities",
    "Mistral signs sovereign-cloud deal with three EU governments",
    "Nvidia's Blackwell Ultra allocation favours hyperscalers over neoclouds",
    "Google DeepMind open-sources a 9B reasoning model under a permissive licence",
    "Meta pauses Llama 5 release to rework its safety evaluations",
]
_COMPANIES = [("xAI", "OpenAI"), ("OpenAI", "Tomoro"), ("바이트댄스", "ByteDance"), ("Anthropic",),
              ("Mistral AI",), ("Nvidia",), ("Google DeepMind",), ("Meta",)]
SUMMARY = (
    "The admission came during Musk's testimony in his lawsuit against OpenAI, where he seeks $150 billion "
    "in damages and to block OpenAI's IPO. Musk initially hedged, saying \"AI companies generally distill "
    "from each other,\" then conceded \"partly.\" The trial also revealed internal OpenAI documents."
)


def article(i: int, *, title: str | None = None, summary: str = SUMMARY, hours_old: float = 30.0, **extra) -> ArticleData:
    fields = dict(
        id=i,
        url=f"https://amw.example/news/story-{i}",
        title=title if title is not None else _BASE_TITLES[i % len(_BASE_TITLES)],
        summary=summary,
        published_at=WINDOW_END - timedelta(hours=hours_old),
        category="Technology",
        region="US",
        read_minutes=2 + i % 4,
        companies=_COMPANIES[i % len(_COMPANIES)],
        segments=("Foundation Models · Case Studies", "Foundation Models · Open Debates", "Data & IP"),
        tags=("xAI", "OpenAI", "model distillation", "lawsuit"),
        novelty=3 - i % 3,
        novelty_note="admission overturns Musk's prior stance on distillation and directly impacts a high-profile lawsuit",
        significance=1 + i % 3,
        significance_note="segment-level impact on foundation model IP norms, but not structural across all segments",
    )
    fields.update(extra)
    return ArticleData(**fields)


def choice(i: int, *, connected: int = 3, **kw) -> Choice:
    related = tuple(article(100 + i * 10 + j, hours_old=13 + 40 * j) for j in range(connected))
    return Choice(
        article=article(i, **kw),
        reasons=("You follow xAI", "In Data & IP"),
        rating=10.0 - i * 0.1,
        connected=related,
        is_update=(i == 2),
    )


def reader(**kw) -> Reader:
    fields = dict(id=1, email="ana@example.com", name="Ana Kim", timezone="Asia/Seoul",
                  companies=frozenset({"xAI", "OpenAI"}), segments=frozenset({"Data & IP"}))
    fields.update(kw)
    return Reader(**fields)


def issue(n: int = 8, *, choices: tuple[Choice, ...] | None = None, more_count: int = 0, **reader_kw) -> Issue:
    return Issue(
        reader=reader(**reader_kw),
        period="2026-W47",
        window_start=WINDOW_END - timedelta(days=7),
        window_end=WINDOW_END,
        choices=choices if choices is not None else tuple(choice(i) for i in range(n)),
        more_count=more_count,
    )


def links(token: str = "tok123") -> Links:
    base = "http://127.0.0.1:8000"
    return Links(
        unsubscribe=f"{base}/u/{token}",
        preferences=f"{base}/p/{token}",
        web_version=f"{base}/w/{token}",
        base=base,
    )


HOSTILE_TITLES = [
    "<script>alert('x')</script> & \"quotes\" 'single'",
    "{{ 7*7 }} {% raw %}raw{% endraw %} {# c #} ${7*7} <%= 7*7 %>",
    "שלום עולם: OpenAI עסקה 🚀 مرحبا بالعالم",
    "Emoji 👩‍💻🧠🔥 and ZWJ family 👨‍👩‍👧",
    "Control\x00chars\x07here\r\nSubject: injected\x1b[31m\u202eRTL override",
    "바이트댄스 raises capex · 字节跳动 提高 资本支出 · バイトダンス",
    "</mj-text></mj-column></mj-section><mj-raw><img src=x onerror=alert(1)></mj-raw>",
    "A&amp;B &lt;b&gt; &#60;i&#62; %20 %7B%7B x %7D%7D",
    "W" * 400,
]


def hostile_issue(n: int = 8) -> Issue:
    choices = []
    for i in range(n):
        t = HOSTILE_TITLES[i % len(HOSTILE_TITLES)]
        c = choice(i)
        a = c.article
        hostile_article = ArticleData(
            **{**{f: getattr(a, f) for f in a.__dataclass_fields__},
               "title": t, "summary": t + " " + SUMMARY, "novelty_note": t[:60],
               "companies": (t[:30],) + a.companies, "tags": (t[:20], "ok"),
               "url": a.url + "?q=" + t[:10]}
        )
        choices.append(Choice(hostile_article, reasons=(t[:40],), rating=c.rating, connected=c.connected))
    return issue(choices=tuple(choices), name="<b>Mallory</b> {{ name }}")
