"""Languages: the gettext catalogs (digest/locale/<lang>/LC_MESSAGES/messages.po) and CLDR formatting.

The languages the digest speaks are the catalogs found on disk: adding one is adding its .po file,
nothing in the code names them. A `.mo` file is built from each `.po` by the wheel's build
(setup.py); a fresh clone has none, so a missing or older `.mo` is compiled from the `.po` in memory.
Fuzzy entries are never used (the completeness test refuses them anyway).

`Language` bundles a catalog with its CLDR locale: messages (gettext, ngettext, pgettext) and the
reader's dates, lists and numbers (Babel). Messages are translated where a reader sees them: the
email, its subject and preheader, the reasons, the reader pages.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_interval, format_skeleton
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = ["SOURCE_LANGUAGE", "DEFAULT_FONTS", "DEFAULT_TYPOGRAPHY", "LOCALE_DIR", "DOMAIN", "UnknownLanguage", "canonical_language", "catalog_languages", "catalog_for",
           "translations", "Language", "language", "compile_catalogs"]

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# The language of the message ids themselves (the source strings), used when no catalog matches.
SOURCE_LANGUAGE = "en"
DEFAULT_FONTS = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
# The email's typography when a catalog says nothing (Language.typography).
DEFAULT_TYPOGRAPHY = {"font_family": DEFAULT_FONTS, "word_break": "break-word"}


# The letters that mark a name as written in a script (Unicode character name prefixes), for the
# scripts CLDR's likely subtags give languages: a company alias in the reader's script is shown to them.
_SCRIPT_LETTERS = {
    "Kore": ("HANGUL",), "Jpan": ("HIRAGANA", "KATAKANA"), "Hans": ("CJK UNIFIED",), "Hant": ("CJK UNIFIED",),
    "Cyrl": ("CYRILLIC",), "Grek": ("GREEK",), "Arab": ("ARABIC",), "Hebr": ("HEBREW",), "Thai": ("THAI",),
    "Deva": ("DEVANAGARI",),
}


# The shape of a BCP 47 tag: language, then script, region or variant subtags ("zh-Hant-TW").
_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


def N_(message: str) -> str:
    """Marks a message for extraction (pybabel knows N_) where it is stored in English and translated
    where it is shown (a reason like "Editor's pick": render/view.py)."""
    return message


class UnknownLanguage(ValueError):
    """Not a language tag CLDR knows."""


def canonical_language(text: str) -> str:
    """A BCP 47 tag in its canonical form ("KO-kr" -> "ko-KR"); UnknownLanguage when CLDR does not
    know the language."""
    raw = str(text).strip()
    try:
        if not _TAG.fullmatch(raw):
            raise ValueError(raw)
        locale = Locale.parse(raw.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise UnknownLanguage(f"unknown language {raw!r}; expected a BCP 47 tag such as en, ko, ja or pt-BR") from None
    return "-".join(p for p in (locale.language, locale.script, locale.territory, locale.variant) if p)


def _po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalog_languages() -> tuple[str, ...]:
    """The languages that have a catalog, as their folder names (discovered, never listed in code)."""
    if not LOCALE_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in LOCALE_DIR.iterdir() if _po_path(p.name).is_file()))


def negotiate(accept_language: str | None) -> str | None:
    """The catalog language a browser asks for first in its Accept-Language header (q-values
    honoured, at most 20 entries read), or None when it asks for none we have."""
    weighted = []
    for position, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(weighted):
        found = _match(tag)
        if found is not None:
            return found
    return None


def _match(tag: str) -> str | None:
    """The catalog for a tag: the same tag, else its language alone ("ko-KR" -> "ko")."""
    if not tag:
        return None
    found = {c.replace("_", "-").casefold(): c for c in catalog_languages()}
    tag = tag.replace("_", "-").casefold()
    return found.get(tag) or found.get(tag.split("-")[0])


@functools.lru_cache(maxsize=1024)
def catalog_for(tag: str, default: str) -> tuple[str, str | None]:
    """(the catalog language a reader of `tag` gets, a warning when that is not their language).

    "" means the default language. A language without a catalog falls back to the default (and
    the default without one to the source strings).
    """
    chosen = _match(tag or default)
    if chosen is not None:
        return chosen, None
    fallback = _match(default) or SOURCE_LANGUAGE
    if not tag:
        return fallback, f"no catalog for the default language {default!r}: the source strings ({fallback}) are used"
    return fallback, (f"no catalog for language {tag!r}: this reader gets the default language ({fallback}); "
                      f"catalogs exist for {', '.join(catalog_languages()) or 'none'}")


def _compile(po: Path) -> bytes:
    with po.open("rb") as f:
        catalog = read_po(f, locale=None)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


@functools.lru_cache(maxsize=None)
def translations(lang: str) -> NullTranslations:
    """The catalog of lang: its .mo when built and up to date, else its .po compiled in memory."""
    po = _po_path(lang)
    if not po.is_file():
        return NullTranslations()
    mo = po.with_suffix(".mo")
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        data = mo.read_bytes()
    else:
        data = _compile(po)
    return Translations(io.BytesIO(data), domain=DOMAIN)


def compile_catalogs(root: Path = LOCALE_DIR) -> list[Path]:
    """Write each .po's .mo beside it (the wheel's build step); returns the files written."""
    written = []
    for po in sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(_compile(po))
        written.append(mo)
    return written


@dataclass(frozen=True, eq=False)
class Language:
    """One catalog language: its messages and its CLDR formatting."""

    tag: str
    locale: Locale
    messages: NullTranslations

    def gettext(self, message: str) -> str:
        return self.messages.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.messages.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.messages.pgettext(context, message)

    @property
    def typography(self) -> dict[str, str]:
        """CSS the email is compiled with for this language, from its catalog (context "css"):
        the font stack with the faces of its script first, and how lines break (keep-all keeps
        Korean words whole)."""
        return {
            # Translators: the CSS font-family list of the email: faces for your script first, then these.
            "font_family": self.pgettext(
                "css font-family", "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"),
            # Translators: CSS word-break of the email and pages: "keep-all" where words must not break
            # mid-word (Korean); "break-word" (MJML's own) lets a too-long word break rather than overflow.
            "word_break": self.pgettext("css word-break", "break-word"),
        }

    @functools.cached_property
    def script(self) -> str:
        """The script the language is written in (ISO 15924: "Kore", "Jpan", "Latn"), by CLDR."""
        if self.locale.script:
            return self.locale.script
        likely = get_global("likely_subtags").get(self.locale.language, "")
        parts = likely.split("_")
        return parts[1] if len(parts) > 2 else ""

    def writes(self, name: str) -> bool:
        """Whether name is written in this language's own script (바이트댄스 for Korean)."""
        marks = _SCRIPT_LETTERS.get(self.script)
        return bool(marks) and any(unicodedata.name(ch, "").startswith(marks) for ch in name if ch.isalpha())

    def local_name(self, name: str, pairs) -> str:
        """name, or its alias in this language's script among (name, alias) pairs."""
        return next((alias for company, alias in pairs if company == name and self.writes(alias)), name)

    def list(self, items) -> str:
        """"A", "A and B", "A, B, and C" as the locale joins them ("A, B 및 C", "A、B、C")."""
        items = list(items)
        return format_list(items, locale=self.locale) if items else ""

    def number(self, value: int) -> str:
        return _number(value, self.locale)

    def day(self, value: date, skeleton: str = "yMMMd") -> str:
        """A calendar day by a CLDR skeleton ("yMMMd": "Nov 23, 2026", "2026년 11월 23일")."""
        if isinstance(value, datetime):
            value = value.date()
        return format_skeleton(skeleton, value, locale=self.locale)

    def weekday(self, value: date) -> str:
        """The day's full weekday name ("Monday", "월요일", "月曜日")."""
        return format_date(value, "EEEE", locale=self.locale)

    def interval(self, start: date, end: date, skeleton: str = "yMMMd") -> str:
        """A range of days ("Nov 17 – 23, 2026", "2026년 11월 17일~23일")."""
        if isinstance(start, datetime):
            start, end = start.date(), end.date()
        return format_interval(start, end, skeleton, locale=self.locale)


@functools.lru_cache(maxsize=4096)
def _number(value: int, locale: Locale) -> str:
    return format_decimal(value, locale=locale)


@functools.lru_cache(maxsize=None)
def language(tag: str) -> Language:
    """The Language of a catalog tag (cached: one per language per process)."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse(SOURCE_LANGUAGE)
    return Language(tag, locale, translations(tag))
