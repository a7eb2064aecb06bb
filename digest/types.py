"""Plain data passed between the pure stages (selection, rendering, message building)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleData:
    """One article as the pure stages see it; companies[0] is the primary company.

    Ingest makes one from each valid record before it is stored: its id is None until then.
    """

    id: int | None = None
    url: str
    title: str
    summary: str
    published_at: datetime
    category: str
    region: str
    read_minutes: int
    companies: tuple[str, ...]
    segments: tuple[str, ...]
    tags: tuple[str, ...]
    novelty: int
    novelty_note: str
    significance: int
    significance_note: str
    related: tuple[str, ...] = ()
    # Per company (same order): the alias by which the story names it, when it uses another of
    # the company's names and not its own ("AWS" for Amazon); "" otherwise. May be shorter.
    aliases: tuple[str, ...] = ()
    # The text fields given in several languages, as (language, field, text), sorted; field is
    # title, summary, novelty_note or significance_note. The columns hold the default text.
    translations: tuple[tuple[str, str, str], ...] = ()
    # (company, alias) for its companies' names in other scripts than Latin ("ByteDance", "바이트댄스")
    local_names: tuple[tuple[str, str], ...] = ()

    @property
    def primary_company(self) -> str | None:
        return self.companies[0] if self.companies else None

    def text(self, field: str, languages: tuple[str, ...]) -> str:
        """The field in the first of `languages` the article has it in, else its default text:
        one language per field, never a mix."""
        for lang in languages:
            for tag, name, value in self.translations:
                if name == field and tag == lang:
                    return value
        return getattr(self, field)


@dataclass(frozen=True, slots=True)
class Reader:
    """A subscriber as the pure stages see it: who, what they follow, how they like it."""

    id: int
    email: str
    name: str
    timezone: str = "UTC"
    send_day: int = 0  # Monday is 0
    send_hour: int = 8
    frequency: str = "weekly"
    max_articles: int = 8
    min_significance: int = 1
    reading_budget: int | None = None
    companies: frozenset[str] = frozenset()  # canonical company names
    segments: frozenset[str] = frozenset()  # full segment names; a parent covers its children
    smtputf8: bool = False
    # what the reader muted, as (kind, name) with kind "company", "segment" or "tag"
    muted: frozenset[tuple[str, str]] = frozenset()
    language: str = ""  # BCP 47; "" for the default language (DIGEST_DEFAULT_LANGUAGE)


def translations_tuple(by_language: dict | None) -> tuple[tuple[str, str, str], ...]:
    """{lang: {field: text}} (the article.translations column) as ArticleData.translations."""
    return tuple(sorted((tag, field, text) for tag, fields in (by_language or {}).items()
                        for field, text in (fields or {}).items()))


@dataclass(frozen=True, slots=True)
class Choice:
    """One chosen article, why it was chosen, and the rest of its story."""

    article: ArticleData
    reasons: tuple[str, ...]
    rating: float
    connected: tuple[ArticleData, ...] = ()
    is_update: bool = False
    # The followed company the card leads with ("" when the story came in through a segment), and
    # the names of the reader's follows this story matched (head and connected articles), best first.
    lead: str = ""
    matched: tuple[str, ...] = ()
    updates: str = ""  # when is_update: the url of the earlier part of the story the reader received
    # the names `reasons` says "You follow ..." of, so that the render can say it in the reader's language
    reason_names: tuple[str, ...] = ()
    # pulled by the editors after this issue was sent: its web version says so before the title
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class Issue:
    """Everything one digest shows: the reader, the period and the ordered choices."""

    reader: Reader
    period: str
    window_start: datetime
    window_end: datetime
    choices: tuple[Choice, ...]
    more_count: int = 0  # stories left out (by the maximum or the budget): the "N more stories" link
    overflow: tuple[Choice, ...] = ()  # those stories, best first, for the issue's web page
    note: str = ""  # the editor's note(s) in force for this reader: Markdown subset (digest/render/note.py)


@dataclass(frozen=True, slots=True)
class Links:
    """URLs the rendered digest points at (signed, built by the orchestrator)."""

    unsubscribe: str
    preferences: str
    web_version: str
    base: str = ""
    # Per article id: {"company"|"segment": {"name", "more", "less"} | None}, the signed
    # "more like this" / "less of this" links of each card.
    feedback: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EncodedParts:
    """A render's two parts as the message carries them (the bytes inside each MIME part, CRLF), with
    their DKIM canonical lines when they were made piece by piece (a stamped copy, digest/stamp.py)."""

    text: bytes  # quoted-printable, both
    html: bytes
    text_canonical: bytes | None = None  # None: the signer canonicalizes the whole body
    html_canonical: bytes | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered digest: what the message builder needs, and nothing of mailers."""

    subject: str
    preheader: str
    html: str
    text: str
    article_count: int
    warnings: tuple[str, ...] = field(default=())
    # The parts already encoded (a stamped copy): the same bytes the builder would write from html and text.
    encoded: EncodedParts | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for a mailer: the envelope plus the serialized bytes."""

    key: str  # stable per ledger row (idempotency key)
    sender: str  # envelope sender address
    recipient: str
    data: bytes  # CRLF line endings
    message_id: str
    smtputf8: bool = False
    # Names the ledger row in a delivery status notification (RFC 3461 ENVID), when the server offers DSN.
    envid: str | None = None


class Outcome(StrEnum):
    """The fixed set of per-recipient outcomes a mailer reports (SendResult.status)."""

    SENT = "sent"
    QUEUED = "queued"
    DEFERRED = "deferred"
    REJECTED = "rejected"  # a permanent refusal of the address: 5.1.x suppresses it
    FAILED = "failed"
    # The whole message went out and no final reply came (a timeout): the server may have it, so a
    # retry may deliver it twice. Not accepted, and not a plain deferral either.
    UNKNOWN = "unknown"


class LedgerState(StrEnum):
    """The state of one digest row in the ledger (docs/delivery.md draws how each leads to the next)."""

    PLANNED = "planned"
    SENDING = "sending"  # claimed under a lease by one process
    SENT = "sent"
    DEFERRED = "deferred"  # a temporary failure: tried again after a backoff
    FAILED = "failed"
    UNKNOWN = "unknown"  # sent without a final reply: resent at most once, and only when asked
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class SendResult:
    status: Outcome
    detail: str = ""
    code: int | None = None  # SMTP reply code where there was one
    enhanced: str | None = None  # enhanced status code such as "5.1.1"

    @property
    def accepted(self) -> bool:
        return self.status in (Outcome.SENT, Outcome.QUEUED)
