"""Names shared by every stage: company keys and slugs, segment paths."""

from __future__ import annotations

import re
import unicodedata

SEGMENT_SEPARATOR = " · "  # "A · B" is segment B inside top-level segment A

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def alias_key(name: str) -> str:
    """The CompanyAlias key of a company name: NFC, single spaces, casefolded."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def slugify(name: str) -> str:
    """The company-page slug: NFKC, casefolded, letters and digits of any script joined by '-'.

    "xAI" -> "xai", "Mistral AI" -> "mistral-ai", "바이트댄스" -> "바이트댄스" (percent-encoded in URLs).
    """
    text = unicodedata.normalize("NFKC", " ".join(_CONTROL.sub("", str(name)).split())).casefold()
    text = text.replace("&", " and ").replace("+", " plus ")
    slug = re.sub(r"[\W_]+", "-", text).strip("-")
    return slug or "company"
