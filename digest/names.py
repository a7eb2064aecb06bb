"""Names shared by every stage: company and segment keys, the segment separator, company slugs.

How names compare, everywhere (ingest, follows, selection, the web pages):

- A company key is the name in Unicode NFC, whitespace runs collapsed to one space, casefolded:
  "Open  AI", "openai " and "OPENAI" are one company, and so are "Café" typed precomposed or with
  a combining accent. The CompanyAlias table stores these keys (`alias_key` is the same function).
- A segment "A · B" is segment B inside top-level segment A. Its key splits the name at every
  middle dot (U+00B7), keys each part as a company name and joins them with SEGMENT_SEPARATOR, so
  "A·B", "a · b" and "A  ·B" are one segment. Ingest stores the same spelling for all of them:
  `segment_name(segment_parts(raw))` gives "A · B".
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "SEGMENT_SEPARATOR", "SEGMENT_MARK", "company_key", "alias_key", "segment_key", "segment_ancestors",
    "segment_parts", "segment_name", "split_segment", "slugify",
]

SEGMENT_MARK = "·"  # U+00B7 MIDDLE DOT, with or without spaces around it
SEGMENT_SEPARATOR = " · "  # how full segment names and segment keys are written: "A · B"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def company_key(name: str) -> str:
    """How company names compare: NFC, whitespace runs as one space, casefolded."""
    if not name.isascii():  # ASCII is already NFC; skipping the call keeps selection's index build cheap
        name = unicodedata.normalize("NFC", name)
    return " ".join(name.split()).casefold()


alias_key = company_key  # the CompanyAlias key of a company name or alias


def segment_key(name: str) -> str:
    """How full segment names compare: each part a company key, spacing around the '·' ignored."""
    return SEGMENT_SEPARATOR.join([company_key(part) for part in name.split(SEGMENT_MARK)])


def segment_ancestors(name: str) -> list[str]:
    """Keys of the segment and of every segment above it: "A · B" -> ["a", "a · b"]."""
    parts = [company_key(part) for part in name.split(SEGMENT_MARK)]
    return [SEGMENT_SEPARATOR.join(parts[: i + 1]) for i in range(len(parts))]


def segment_parts(name: str) -> list[str]:
    """The parts of a segment name as written, top level first: "A·B " -> ["A", "B"] (empty parts kept,
    so a caller can refuse "A ·· B")."""
    return [part.strip() for part in name.split(SEGMENT_MARK)]


def segment_name(parts: list[str]) -> str:
    """The full name stored for a segment: its parts joined with SEGMENT_SEPARATOR."""
    return SEGMENT_SEPARATOR.join(parts)


def split_segment(full_name: str) -> tuple[str | None, str]:
    """(parent's full name or None at the top, own label) of a stored full name:
    "A · B · C" -> ("A · B", "C"), "A" -> (None, "A")."""
    parts = full_name.split(SEGMENT_SEPARATOR)
    return (SEGMENT_SEPARATOR.join(parts[:-1]) if len(parts) > 1 else None), parts[-1]


def slugify(name: str) -> str:
    """The company-page slug: NFKC, casefolded, letters and digits of any script joined by '-'.

    "xAI" -> "xai", "Mistral AI" -> "mistral-ai", "바이트댄스" -> "바이트댄스" (percent-encoded in URLs).
    """
    text = unicodedata.normalize("NFKC", " ".join(_CONTROL.sub("", str(name)).split())).casefold()
    text = text.replace("&", " and ").replace("+", " plus ")
    slug = re.sub(r"[\W_]+", "-", text).strip("-")
    return slug or "company"
