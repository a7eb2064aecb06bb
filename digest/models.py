"""Table models: articles, companies, segments, subscribers, follows, the digest ledger, suppression,
staff sessions."""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel



class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite has no time zones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else stored_utc(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def stored_utc(value: datetime) -> datetime:
    """An aware datetime as a UTC column stores it: UTC without a zone."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ts(**kw):
    return Field(sa_type=UTCDateTime, **kw)


class Company(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    slug: str = Field(index=True, max_length=200)


class CompanyAlias(SQLModel, table=True):
    """Every name a company is known by, casefolded; the company's own name is one of them."""

    __tablename__ = "company_alias"
    key: str = Field(primary_key=True, max_length=200)
    alias: str = Field(max_length=200)
    company_id: int = Field(foreign_key="company.id", index=True)


class Segment(SQLModel, table=True):
    """A segment: "A · B" is B inside A; the full name is the identity."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=300)
    label: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="segment.id", index=True)


class Article(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2000)
    title: str
    summary: str = ""
    published_at: datetime = _ts(index=True)
    category: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=100)
    read_minutes: int = 1
    novelty: int
    novelty_note: str = ""
    significance: int
    significance_note: str = ""
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    related: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # the text fields given in other languages (migration 0008): {"ko": {"title": ..., "summary": ...}}
    translations: dict = Field(default_factory=dict, sa_type=sa.JSON, sa_column_kwargs={"server_default": "{}"})
    primary_company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class ArticleCompany(SQLModel, table=True):
    __tablename__ = "article_company"
    article_id: int = Field(foreign_key="article.id", primary_key=True)
    company_id: int = Field(foreign_key="company.id", primary_key=True, index=True)
    position: int = 0


class ArticleSegment(SQLModel, table=True):
    __tablename__ = "article_segment"
    article_id: int = Field(foreign_key="article.id", primary_key=True)
    segment_id: int = Field(foreign_key="segment.id", primary_key=True, index=True)
    position: int = 0


class Subscriber(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    email_key: str = Field(unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    status: str = Field(default="active", max_length=20, index=True)
    timezone: str = Field(default="UTC", max_length=64)
    send_day: int = 0
    send_hour: int = 8
    frequency: str = Field(default="weekly", max_length=10)
    max_articles: int = 8
    min_significance: int = 1
    reading_budget: int | None = None
    paused_until: date | None = None
    smtputf8: bool = False
    # BCP 47 tag (migration 0008); "" means DIGEST_DEFAULT_LANGUAGE
    language: str = Field(default="", max_length=35, sa_column_kwargs={"server_default": ""})
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    confirmed_at: datetime | None = _ts(default=None)
    # the mute list (migration 0006): [{"kind": "company"|"segment"|"tag", "name": ...}]
    muted: list[dict] = Field(default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": "[]"})


class Follow(SQLModel, table=True):
    """A subscriber follows a company or a segment (kind is 'company' or 'segment')."""

    subscriber_id: int = Field(foreign_key="subscriber.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=10)
    target_id: int = Field(primary_key=True)


class Digest(SQLModel, table=True):
    """The ledger: one row per subscriber per period, the only record of a send."""

    __table_args__ = (sa.UniqueConstraint("subscriber_id", "period", name="uq_digest_subscriber_period"),
                      # claims read sendable rows in schedule order (migration 0002)
                      sa.Index("ix_digest_state_scheduled", "state", "scheduled_for", "id"))
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    period: str = Field(max_length=20)
    state: str = Field(default="planned", max_length=12)
    scheduled_for: datetime = _ts()
    message_id: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    last_error: str | None = None
    skip_reason: str | None = None
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = _ts(default=None)
    next_attempt_at: datetime | None = _ts(default=None)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    sent_at: datetime | None = _ts(default=None)
    # times the row was resent after its fate became unknown (migration 0004): at most once
    unknown_resends: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class DigestItem(SQLModel, table=True):
    """Which articles a digest carried: what a subscriber already received."""

    __tablename__ = "digest_item"
    digest_id: int = Field(foreign_key="digest.id", primary_key=True)
    article_id: int = Field(foreign_key="article.id", primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    position: int = 0
    # "shown" (in the email: received) or "overflow" (on the web page only), migration 0006
    kind: str = Field(default="shown", max_length=10, sa_column_kwargs={"server_default": "shown"})


class Suppression(SQLModel, table=True):
    """Addresses that must never receive a digest again (bounced, complained, unsubscribed)."""

    email_key: str = Field(primary_key=True, max_length=320)
    reason: str = Field(max_length=20)
    detail: str | None = None  # the evidence: the diagnostic line, the staff's reason
    created_at: datetime = _ts(default_factory=utcnow)
    # Migration 0007: what reported it (smtp, dsn, arf, webhook, mailto, web, staff, import) and the
    # status it gave (an enhanced code like 5.1.1, a provider's bounce type).
    source: str | None = Field(default=None, max_length=20)
    status_code: str | None = Field(default=None, max_length=40)


class DeliveryEvent(SQLModel, table=True):
    """A report about a delivery that came back later (migration 0007): a bounce, a complaint, an
    unsubscribe by mail or webhook, a staff unsuppress. `event_key` (the provider's event id, or a
    hash of the report) makes a replay a no-op; soft bounces are counted from these rows."""

    __tablename__ = "delivery_event"
    __table_args__ = (sa.Index("ix_delivery_event_email_kind", "email_key", "kind", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    event_key: str | None = Field(default=None, max_length=200, unique=True)
    source: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    email_key: str = Field(max_length=320)
    digest_id: int | None = None
    status_code: str | None = Field(default=None, max_length=40)
    detail: str | None = None
    received_at: datetime = _ts(default_factory=utcnow)


class StaffSession(SQLModel, table=True):
    """A signed-in staff browser (migration 0005): the cookie holds a random id, this row its hash."""

    __tablename__ = "staff_session"
    id_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)
    expires_at: datetime = _ts(index=True)


class SignupAttempt(SQLModel, table=True):
    """One public request that counts against a limit (migration 0009): signup or manage, per
    client address and per email address. The key is a keyed hash, never the address itself;
    rows older than a day are deleted as new ones arrive."""

    __tablename__ = "signup_attempt"
    __table_args__ = (sa.Index("ix_signup_attempt_kind_key_at", "kind", "key", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    key: str = Field(max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)


class SignupMail(SQLModel, table=True):
    """A confirmation or manage-link email (migration 0009): claimed here before it is sent, so
    two racing requests send it once; (email_key, kind, day, seq) caps the mails of a kind an
    address gets a day."""

    __tablename__ = "signup_mail"
    __table_args__ = (sa.UniqueConstraint("email_key", "kind", "day", "seq", name="uq_signup_mail_key_kind_day_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    email_key: str = Field(max_length=320)
    day: str = Field(max_length=10)
    seq: int = 0
    kind: str = Field(max_length=10)  # "confirm" or "manage"
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    state: str = Field(default="claimed", max_length=10)  # claimed, sent, failed
    message_id: str | None = Field(default=None, max_length=300)
    detail: str | None = None
    created_at: datetime = _ts(default_factory=utcnow)
    sent_at: datetime | None = _ts(default=None)


SUBSCRIBER_STATES = ("pending", "active", "unsubscribed", "bounced", "complained")
DIGEST_STATES = ("planned", "sending", "sent", "deferred", "failed", "unknown", "skipped")


class Feed(SQLModel, table=True):
    """An AMW feed polled for articles (migration 0010), with what its last poll left behind: the
    validators for a conditional GET and the last good and the last failed poll."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2000)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    last_polled_at: datetime | None = _ts(default=None)
    last_ok_at: datetime | None = _ts(default=None)
    last_status: str | None = Field(default=None, max_length=20)  # ok, not_modified, failed
    last_error: str | None = None
    last_items: int = 0  # items in the last good body
    created_at: datetime = _ts(default_factory=utcnow)


class EditorialControl(SQLModel, table=True):
    """An editor's note, pin or pull for the sends between starts_at and ends_at (migration 0010);
    a note or pin may target the readers who follow one company or segment."""

    __tablename__ = "editorial_control"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # note, pin, pull
    text: str = ""  # the note's Markdown
    article_url: str | None = Field(default=None, max_length=2000)
    target_kind: str | None = Field(default=None, max_length=10)  # company, segment, or None: everyone
    target_name: str | None = Field(default=None, max_length=300)
    starts_at: datetime = _ts(index=True)
    ends_at: datetime = _ts(index=True)
    created_by: str = Field(max_length=200)
    created_at: datetime = _ts(default_factory=utcnow)
    removed_at: datetime | None = _ts(default=None)
    removed_by: str | None = Field(default=None, max_length=200)
