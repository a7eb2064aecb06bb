"""What selection is tuned by and what it returns: options, the rating, the window, a Selection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import ConfigError, DigestError
from ..types import ArticleData, Choice

# Match keys carry their kind so that a company and a segment with the same name stay apart.
_COMPANY = "c:"
_SEGMENT = "s:"

# Reason sentences kept per Selector, keyed by article and the names it matched.
_REASON_CACHE_SIZE = 100_000

# Stories beyond the chosen ones that an issue's web page lists under "more".
MAX_OVERFLOW = 20

# Windows kept prepared per Selector; one run sees a few dozen distinct send instants at most.
_WINDOW_CACHE_SIZE = 64


class SelectionError(DigestError):
    """Selection was given data it cannot use (a naive datetime, say)."""


@dataclass(frozen=True)
class SelectionOptions:
    """The tunable part of selection; see docs/selection.md for how each is used."""

    lookback_days: int = 7
    weight_novelty: float = 1.0
    weight_significance: float = 2.0
    max_per_company: int = 3

    def __post_init__(self):
        if self.lookback_days < 1:
            raise ConfigError(f"DIGEST_LOOKBACK_DAYS must be at least 1, not {self.lookback_days}")
        if self.max_per_company < 1:
            raise ConfigError(f"DIGEST_MAX_COMPANY_ARTICLES must be at least 1, not {self.max_per_company}")
        if self.weight_novelty < 0 or self.weight_significance < 0:
            raise ConfigError("DIGEST_WEIGHT_NOVELTY and DIGEST_WEIGHT_SIGNIFICANCE must not be negative")

    @classmethod
    def from_settings(cls, settings) -> "SelectionOptions":
        return cls(
            lookback_days=settings.lookback_days,
            weight_novelty=settings.weight_novelty,
            weight_significance=settings.weight_significance,
            max_per_company=settings.max_company_articles,
        )


@dataclass(frozen=True)
class Selection:
    """What one reader gets for one period, or why they get nothing."""

    choices: tuple[Choice, ...]
    window_start: datetime
    window_end: datetime
    more_count: int = 0  # qualifying articles shown neither as a choice nor as a connected link
    skip_reason: str | None = None  # set exactly when choices is empty
    # Made on first use of .overflow (a send needs it, a selection benchmark does not).
    _overflow: object = field(default=(), compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not self.choices

    @property
    def overflow(self) -> tuple[Choice, ...]:
        """The stories that qualified but were not chosen (at most MAX_OVERFLOW, best first), as
        choices with their reasons and connected articles: what "N more stories" opens."""
        if callable(self._overflow):
            object.__setattr__(self, "_overflow", self._overflow())
        return self._overflow


def rating(article: ArticleData, options: SelectionOptions = SelectionOptions()) -> float:
    """The documented rating: weight_significance * Significance + weight_novelty * Novelty."""
    return options.weight_significance * article.significance + options.weight_novelty * article.novelty


def sort_key(article: ArticleData, options: SelectionOptions = SelectionOptions()) -> tuple:
    """Total order of articles: rating descending, then newest first, then url ascending."""
    return (-rating(article, options), -article.published_at.timestamp(), article.url)


def first_days(frequency: str, options: SelectionOptions = SelectionOptions()) -> int:
    """How far a reader's first issue looks back: one period of their cadence (a daily reader's
    first issue covers one day, a weekly reader's the lookback)."""
    return min(1, options.lookback_days) if frequency == "daily" else options.lookback_days


def window(end: datetime, watermark: datetime | None, options: SelectionOptions = SelectionOptions(),
           frequency: str = "weekly") -> tuple[datetime, datetime]:
    """The half-open window [max(watermark, end - lookback), end) a digest draws from; without a
    watermark (a first issue), [end - one period of the reader's cadence, end)."""
    _require_aware(end, "end")
    start = end - timedelta(days=options.lookback_days)
    if watermark is None:
        start = end - timedelta(days=first_days(frequency, options))
    else:
        _require_aware(watermark, "watermark")
        start = max(start, watermark)
    # A watermark after the end (a clock moved back) yields an empty window, never a negative one.
    return min(start, end), end


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise SelectionError(f"{name} must carry a time zone, got {value.isoformat()}")
