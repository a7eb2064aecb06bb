"""Ingest articles from JSON arrays or JSONL: validate each record, store the valid ones, report the rest."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, select

from .errors import InputError
from .models import Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, Segment, utcnow
from .names import SEGMENT_SEPARATOR, alias_key, slugify

# C0 controls other than tab and newline, and DEL: never meaningful in a title or a note, and
# PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ArticleIn:
    """A validated article record, ready to store."""

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
    related: tuple[str, ...]


@dataclass
class Rejected:
    file: str
    line: int
    error: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.error}"


@dataclass
class IngestReport:
    stored: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"stored": self.stored, "updated": self.updated,
                "rejected": [{"file": r.file, "line": r.line, "error": r.error} for r in self.rejected]}


# Only JSON's own whitespace may stand between records; U+2028, U+0085, a form feed and the like
# are not JSON whitespace and never end a line (str.splitlines would split on them).
_JSON_WS = re.compile(r"[ \t\n\r]*")
# decode(errors="surrogateescape") turns each byte that is not UTF-8 into one of these, and valid
# UTF-8 never decodes to them: their presence marks exactly the bytes to report.
BAD_BYTE = re.compile("[\udc80-\udcff]")
_NON_FINITE = re.compile(r"(?<![\w.\"])(-?Infinity|NaN)(?![\w.])")
_DEPTH_HINT = "nested too deeply to read (hundreds of levels of [ or {)"


class _NonFinite(ValueError):
    """NaN and Infinity: Python's json accepts them, JSON does not."""


def _refuse_constant(name: str):
    raise _NonFinite(f"{name} is not a JSON number; write null or a number")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def decode_text(data: bytes) -> str:
    """Bytes as text: a UTF-8 BOM dropped, each invalid byte kept as a surrogate (see BAD_BYTE)."""
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")


class LineIndex:
    """Line numbers as grep -n and text editors count them.

    Lines end at LF (CRLF counts once); a file without any LF ends its lines at CR (old Mac
    exports). Nothing else ends a line: not U+2028, U+2029, U+0085, a form feed or a lone CR in
    an LF file, all of which str.splitlines would split on.
    """

    def __init__(self, text: str):
        self.text = text
        self.sep = "\n" if "\n" in text or "\r" not in text else "\r"
        self.starts = [0] + [m.end() for m in re.finditer(re.escape(self.sep), text)]

    def lines(self) -> list[str]:
        """The lines, without their LF or CR (a CRLF line keeps its CR, which JSON and CSV take as a line end)."""
        return self.text.split(self.sep)

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def column(self, pos: int) -> int:
        return pos - self.starts[self.line(pos) - 1] + 1

    def last_line(self) -> int:
        """The line of the last character that is not whitespace (where a truncated file ends)."""
        end = len(self.text.rstrip())
        return self.line(max(end - 1, 0))


def bad_byte_error(text: str, pos: int, column: int, field: str = "encoding") -> str:
    """The message for the invalid byte at text[pos] (decoded by decode_text)."""
    return f"{field}: byte 0x{ord(text[pos]) - 0xDC00:02X} at column {column} is not UTF-8 (save the file as UTF-8)"


def read_records(path: str | Path) -> tuple[list[tuple[int, object]], list[Rejected]]:
    """Parse a JSON array or JSONL file into (line, object) pairs, plus what could not be read, with its line.

    Nothing in one record stops the others from being read: an invalid UTF-8 byte rejects the line
    (JSONL) or the record (array) it is in, and a syntax error, too deep a nesting, NaN or a number
    too long to convert reject only their record.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return [], [Rejected(name, 0, "file: no such file")]
    except OSError as exc:
        return [], [Rejected(name, 0, f"file: {exc.strerror or exc}")]
    records, errors = _read_text(name, decode_text(data))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and errors and errors[0].line == 1:
        errors[0].error += " (the file starts like UTF-16 text: save it as UTF-8)"
    return records, errors


def _read_text(name: str, text: str) -> tuple[list[tuple[int, object]], list[Rejected]]:
    index = LineIndex(text)
    stripped = text.lstrip(" \t\r\n")
    if not stripped.startswith("["):
        return _read_jsonl(name, index.lines())
    records, errors = _read_array(name, index, len(text) - len(stripped))
    if errors and index.sep in text.strip():
        # A JSONL file whose first line is junk that starts with '[' reads as a broken array. Read as
        # lines instead when that keeps as many valid articles (each line then stands on its own);
        # with none valid either way, the reading with fewer rejections.
        line_records, line_errors = _read_jsonl(name, index.lines())
        as_array, as_lines = _count_valid(records), _count_valid(line_records)
        if as_lines > as_array or (as_lines == as_array and (
                as_lines > 0 or len(line_records) + len(line_errors) < len(records) + len(errors))):
            return line_records, line_errors
    return records, errors


def _count_valid(records: list[tuple[int, object]]) -> int:
    count = 0
    for _, obj in records:
        try:
            validate_article(obj)
        except InputError:
            continue
        count += 1
    return count


def _parse_error(name: str, exc: Exception, line: int, column: int | None) -> Rejected:
    if isinstance(exc, RecursionError):
        return Rejected(name, line, f"json: {_DEPTH_HINT}")
    if isinstance(exc, json.JSONDecodeError):
        return Rejected(name, line, f"json: {exc.msg} (column {column})")
    # _NonFinite, or a number longer than Python converts (ValueError: Exceeds the limit ...).
    return Rejected(name, line, f"json: {exc}")


def _read_jsonl(name: str, lines: list[str], first: int = 1) -> tuple[list[tuple[int, object]], list[Rejected]]:
    records: list[tuple[int, object]] = []
    errors: list[Rejected] = []
    for number, line in enumerate(lines, start=first):
        if not line.strip(" \t\r"):
            continue
        bad = BAD_BYTE.search(line)
        if bad:
            errors.append(Rejected(name, number, bad_byte_error(line, bad.start(), bad.start() + 1)))
            continue
        try:
            # A BOM opening a line comes from files joined with cat: invisible, so not an error.
            records.append((number, _DECODER.decode(line.removeprefix("\ufeff"))))
        except (ValueError, RecursionError) as exc:
            errors.append(_parse_error(name, exc, number, getattr(exc, "colno", None)))
    return records, errors


def _read_array(name: str, index: LineIndex, start: int) -> tuple[list[tuple[int, object]], list[Rejected]]:
    text = index.text
    records: list[tuple[int, object]] = []
    errors: list[Rejected] = []
    pos = start + 1
    expect_value, after_comma = True, False
    while True:
        pos = _JSON_WS.match(text, pos).end()
        if pos >= len(text):
            errors.append(Rejected(name, index.line(start), "json: the array that opens here is not closed with ']' "
                                                            f"(truncated file? it ends on line {index.last_line()})"))
            return records, errors
        char = text[pos]
        if char == "]":
            if after_comma:
                errors.append(Rejected(name, index.line(pos), "json: a ',' stands before ']' (remove it)"))
            break
        if char == ",":
            if expect_value:
                errors.append(Rejected(name, index.line(pos), f"json: a ',' where a record should be "
                                                              f"(column {index.column(pos)})"))
            expect_value, after_comma = True, True
            pos += 1
            continue
        missing_comma = not expect_value
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            end = _skip_value(text, pos)
            # A record that never closes: go on at the next place where a record plausibly starts.
            resume = _RESUME.search(text, pos + 1) if end is None else None
            limit = end if end is not None else resume.end() if resume else len(text)
            errors.append(_array_error(name, index, exc, pos, limit))
            if end is None:
                if resume is None:
                    return records, errors
                pos, expect_value, after_comma = resume.end(), True, True
                continue
        else:
            if missing_comma:
                errors.append(Rejected(name, index.line(pos), "json: a ',' is missing before this record"))
            bad = BAD_BYTE.search(text, pos, end)
            if bad:
                errors.append(Rejected(name, index.line(bad.start()),
                                       bad_byte_error(text, bad.start(), index.column(bad.start()))
                                       + f"; the record that starts on line {index.line(pos)} is not stored"))
            else:
                records.append((index.line(pos), obj))
        pos, expect_value, after_comma = end, False, False
    # Anything after the closing ']' is read as JSONL lines: reported, and stored where valid.
    rest_line = index.line(pos)
    rest = text[pos + 1:].split(index.sep)
    more, more_errors = _read_jsonl(name, rest, first=rest_line)
    for error in more_errors:
        if error.line == rest_line:
            error.error = "json: unexpected data after the array's closing ']'"
    return records + more, errors + more_errors


def _array_error(name: str, index: LineIndex, exc: Exception, pos: int, limit: int) -> Rejected:
    """The rejection of the unreadable value from pos to limit (where reading goes on)."""
    text = index.text
    where = getattr(exc, "pos", None)
    bad = BAD_BYTE.search(text, pos, limit if where is None else min(where + 1, limit))
    if bad:
        return Rejected(name, index.line(bad.start()), bad_byte_error(text, bad.start(), index.column(bad.start())))
    if where is not None and where >= limit:
        return Rejected(name, index.line(pos), "json: this record is not closed (a '}' or ']' is missing)")
    if where is None and isinstance(exc, _NonFinite):
        found = _NON_FINITE.search(text, pos, limit)
        where = found.start() if found else None
    at = where if where is not None else pos
    return _parse_error(name, exc, index.line(at), index.column(at))


_RESUME = re.compile(r",[ \t\n\r]*(?=\{)")
_STRUCTURE = re.compile(r'["\[\]{}]')
_STRING_END = re.compile(r'["\\\n\r]')
_SCALAR_END = re.compile(r'[\s,\[\]{}"]')


def _skip_value(text: str, pos: int) -> int | None:
    """The end of the JSON-like value at pos, found without recursion and tolerant of syntax errors.

    Brackets are matched and strings skipped (a string also ends at a line end, where JSON
    forbids it to go on); None when the value never closes, or a bracket closes one of the
    other kind (the record lost its own closing bracket and ran into the array's).
    """
    if text[pos] not in '"[{':
        found = _SCALAR_END.search(text, pos + 1)
        return found.start() if found else len(text)
    stack: list[str] = []
    i = pos
    while True:
        char = text[i]
        if char == '"':
            i = _skip_string(text, i + 1)
        elif char in "[{":
            stack.append("]" if char == "[" else "}")
            i += 1
        elif char != stack.pop():
            return None
        else:
            i += 1
        if not stack:
            return i
        found = _STRUCTURE.search(text, i)
        if found is None:
            return None
        i = found.start()


def _skip_string(text: str, i: int) -> int:
    while True:
        found = _STRING_END.search(text, i)
        if found is None:
            return len(text)
        char = found.group()
        if char == "\\":
            i = found.start() + 2
            continue
        return found.start() + 1 if char == '"' else found.start()


def _clean(value: str, *, one_line: bool = True) -> str:
    value = _CONTROL.sub(" " if one_line else "", value)
    return _SPACES.sub(" ", value).strip() if one_line else value.strip()


def _kind(value) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _show(value) -> str:
    """A value for a message: short, and never a repr of a deep structure or a huge number."""
    if isinstance(value, str):
        return repr(value[:80] + "..." if len(value) > 80 else value)
    if isinstance(value, bool) or value is None:
        return _kind(value)
    if isinstance(value, int):
        return str(value) if -10**20 < value < 10**20 else "a number of more than 20 digits"
    if isinstance(value, float):
        return repr(value)
    return _kind(value)


def _real_text(key: str, value: str) -> str:
    # A \ud800 escape parses into a lone surrogate, which no database can store as text.
    found = _SURROGATE.search(value)
    if found:
        raise InputError(key, f"holds U+{ord(found.group()):04X}, which is not a character "
                              "(a \\u escape of half a UTF-16 pair)")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(obj: dict, key: str, *, required: bool = False, one_line: bool = True, limit: int = 10_000) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(key, "is required")
        return ""
    if not isinstance(value, str):
        raise InputError(key, f"must be a string, not {_kind(value)}")
    value = _clean(_real_text(key, value), one_line=one_line)
    if required and not value:
        raise InputError(key, "must not be empty")
    if len(value) > limit:
        raise InputError(key, f"is longer than {limit} characters")
    return value


def _url(value, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(key, f"must be a non-empty URL string, not {_show(value)}")
    value = _real_text(key, value.strip())
    if len(value) > 2000:
        raise InputError(key, "is longer than 2000 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise InputError(key, f"{_show(value)} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(value) or " " in value:
        raise InputError(key, f"must be an http(s) URL, not {_show(value)}")
    return value


def _names(obj: dict, key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(key, f"must be a list of strings, not {_kind(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _clean(item):
            raise InputError(f"{key}[{i}]", f"must be a non-empty string, not {_show(item)}")
        item = _clean(_real_text(f"{key}[{i}]", item))
        if len(item) > 200:
            raise InputError(f"{key}[{i}]", "is longer than 200 characters")
        if item not in out:
            out.append(item)
    return tuple(out)


def _company_name(name: str, key: str) -> str:
    # Casefolding and NFKC can lengthen a name ("ß" -> "ss", one ligature -> 18 letters): the
    # columns that hold the key and the slug are 200 characters on PostgreSQL.
    if len(alias_key(name)) > 200 or len(slugify(name)) > 200:
        raise InputError(key, "is longer than 200 characters once case-folded")
    return name


def _segment_name(raw: str, key: str) -> str:
    parts = [p.strip() for p in raw.replace("·", SEGMENT_SEPARATOR).split(SEGMENT_SEPARATOR.strip())]
    if any(not p for p in parts):
        raise InputError(key, f"segment {raw!r} has an empty part; write 'Parent · Child'")
    full = SEGMENT_SEPARATOR.join(parts)
    if len(full) > 300:
        raise InputError(key, "is longer than 300 characters with ' · ' between its parts")
    return full


def _score(obj: dict, name: str) -> tuple[int, str]:
    scores = obj.get("scores")
    if not isinstance(scores, dict):
        raise InputError("scores", "is required: {\"novelty\": {\"score\": 1-3, \"note\": ...}, \"significance\": ...}")
    entry = scores.get(name)
    if not isinstance(entry, dict):
        raise InputError(f"scores.{name}", "is required: {\"score\": 1-3, \"note\": \"...\"}")
    score = entry.get("score")
    if isinstance(score, bool) or not isinstance(score, int):
        raise InputError(f"scores.{name}.score", f"must be an integer 1 to 3, not {_show(score)}")
    if not 1 <= score <= 3:
        raise InputError(f"scores.{name}.score", f"must be 1, 2 or 3, not {_show(score)}")
    try:
        return score, _text(entry, "note", limit=500)
    except InputError as exc:
        raise InputError(f"scores.{name}.{exc.field}", exc.message) from None


def _published(raw_time) -> datetime:
    if not isinstance(raw_time, str):
        raise InputError("published_at", "is required: an ISO 8601 time with a zone, like 2026-11-20T09:00:00Z")
    try:
        published = datetime.fromisoformat(raw_time.strip())
    except ValueError:
        raise InputError("published_at", f"{_show(raw_time)} is not an ISO 8601 time") from None
    if published.tzinfo is None or published.utcoffset() is None:
        raise InputError("published_at", f"{_show(raw_time)} has no time zone; add Z or an offset like +09:00")
    try:
        published.astimezone(timezone.utc)  # the column stores UTC
    except OverflowError:
        raise InputError("published_at", f"{_show(raw_time)} is outside the years 1 to 9999 in UTC") from None
    return published


def validate_article(obj: object) -> ArticleIn:
    """Check one record against the article format; raise InputError naming the field."""
    if not isinstance(obj, dict):
        raise InputError("record", f"must be a JSON object, not {_kind(obj)}")
    url = _url(obj.get("url"), "url")
    title = _text(obj, "title", required=True, limit=500)
    published = _published(obj.get("published_at"))
    minutes = obj.get("read_minutes", 1)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 600:
        raise InputError("read_minutes", f"must be a whole number of minutes from 1 to 600, not {_show(minutes)}")
    companies = tuple(_company_name(c, f"companies[{i}]") for i, c in enumerate(_names(obj, "companies")))
    segments = tuple(_segment_name(s, f"segments[{i}]") for i, s in enumerate(_names(obj, "segments")))
    related_raw = obj.get("related", [])
    if related_raw is None:
        related_raw = []
    if not isinstance(related_raw, list):
        raise InputError("related", f"must be a list of URLs, not {_kind(related_raw)}")
    related = tuple(dict.fromkeys(_url(u, f"related[{i}]") for i, u in enumerate(related_raw)))
    novelty, novelty_note = _score(obj, "novelty")
    significance, significance_note = _score(obj, "significance")
    return ArticleIn(
        url=url, title=title, summary=_text(obj, "summary", one_line=False, limit=20_000),
        published_at=published, category=_text(obj, "category", limit=200), region=_text(obj, "region", limit=100),
        read_minutes=minutes, companies=companies, segments=tuple(dict.fromkeys(segments)),
        tags=_names(obj, "tags"), novelty=novelty, novelty_note=novelty_note,
        significance=significance, significance_note=significance_note,
        related=tuple(u for u in related if u != url),
    )


class NameStore:
    """Finds or creates companies and segments by name within one session, with a cache."""

    def __init__(self, session: Session):
        self.session = session
        self._companies: dict[str, Company] = {}
        self._segments: dict[str, Segment] = {}

    def company(self, name: str) -> Company:
        key = alias_key(name)
        if key in self._companies:
            return self._companies[key]
        alias = self.session.get(CompanyAlias, key)
        if alias is not None:
            company = self.session.get(Company, alias.company_id)
        else:
            company = Company(name=name, slug=slugify(name))
            self.session.add(company)
            self.session.flush()
            self.session.add(CompanyAlias(key=key, alias=name, company_id=company.id))
        self._companies[key] = company
        return company

    def alias(self, canonical: str, alias: str) -> bool:
        """Make `alias` another name of `canonical` (created if new); False if it already was.

        An alias that is already a company of its own is left alone (merging two companies'
        articles and follows is an operator's decision); InputError says so.
        """
        company = self.company(canonical)
        key = alias_key(alias)
        row = self.session.get(CompanyAlias, key)
        if row is not None:
            if row.company_id != company.id:
                other = self.session.get(Company, row.company_id)
                raise InputError("alias", f"{alias!r} already names the company {other.name!r}")
            return False
        self.session.add(CompanyAlias(key=key, alias=_clean(alias), company_id=company.id))
        self.session.flush()
        self._companies[key] = company
        return True

    def segment(self, full_name: str) -> Segment:
        if full_name in self._segments:
            return self._segments[full_name]
        found = self.session.exec(select(Segment).where(Segment.name == full_name)).first()
        if found is None:
            parts = full_name.split(SEGMENT_SEPARATOR)
            parent = self.segment(SEGMENT_SEPARATOR.join(parts[:-1])) if len(parts) > 1 else None
            found = Segment(name=full_name, label=parts[-1], parent_id=parent.id if parent else None)
            self.session.add(found)
            self.session.flush()
        self._segments[full_name] = found
        return found


def store_article(session: Session, store: NameStore, item: ArticleIn) -> bool:
    """Insert or update one article by url; returns True when it was new."""
    article = session.exec(select(Article).where(Article.url == item.url)).first()
    created = article is None
    if created:
        article = Article(url=item.url, title=item.title, published_at=item.published_at,
                          novelty=item.novelty, significance=item.significance)
    for name in ("title", "summary", "published_at", "category", "region", "read_minutes", "novelty",
                 "novelty_note", "significance", "significance_note"):
        setattr(article, name, getattr(item, name))
    article.tags = list(item.tags)
    article.related = list(item.related)
    companies = []
    for name in item.companies:
        company = store.company(name)
        if company not in companies:  # two aliases of one company in one article
            companies.append(company)
    article.primary_company_id = companies[0].id if companies else None
    article.updated_at = utcnow()
    session.add(article)
    session.flush()
    if not created:
        for link_model in (ArticleCompany, ArticleSegment):
            for link in session.exec(select(link_model).where(link_model.article_id == article.id)):
                session.delete(link)
        session.flush()
    for position, company in enumerate(companies):
        session.add(ArticleCompany(article_id=article.id, company_id=company.id, position=position))
    for position, name in enumerate(item.segments):
        session.add(ArticleSegment(article_id=article.id, segment_id=store.segment(name).id, position=position))
    return created


def load_aliases(session: Session, mapping: dict[str, list[str]]) -> int:
    """Register company aliases ({"ByteDance": ["바이트댄스"]}); returns how many were new."""
    store = NameStore(session)
    added = sum(store.alias(name, alias) for name, aliases in mapping.items() for alias in aliases)
    session.commit()
    return added


def ingest_files(session: Session, paths, *, progress=None) -> IngestReport:
    """Validate every record of every file, store the valid ones, report the rest; then commit.

    A url that appears twice in one run keeps its last version, as a re-ingest would. A record
    the database refuses (a constraint, a trigger) is reported as `storage:` and rolled back alone:
    each chunk of records is written under a savepoint, and a chunk that fails is written again
    one record per savepoint, so the records around the refused one are stored all the same.
    """
    report = IngestReport()
    valid: dict[str, tuple[str, int, ArticleIn]] = {}
    for path in paths:
        records, errors = read_records(path)
        rejected = list(errors)
        for line, obj in records:
            try:
                item = validate_article(obj)
            except InputError as exc:
                rejected.append(Rejected(str(path), line, str(exc)))
                continue
            valid.pop(item.url, None)
            valid[item.url] = (str(path), line, item)
        rejected.sort(key=lambda r: r.line)  # stable: a line's own errors keep their order
        report.rejected.extend(rejected)
    entries = list(valid.values())
    store = NameStore(session)
    done = 0
    for chunk_start in range(0, len(entries), _STORE_CHUNK):
        chunk = entries[chunk_start:chunk_start + _STORE_CHUNK]
        try:
            with session.begin_nested():
                outcomes = [store_article(session, store, item) for _, _, item in chunk]
        except STORAGE_ERRORS as exc:
            raise_if_disconnected(exc)
            store = NameStore(session)  # its cache may hold rows that the rollback took back
            outcomes = []
            for file, line, item in chunk:
                try:
                    with session.begin_nested():
                        outcomes.append(store_article(session, store, item))
                except STORAGE_ERRORS as exc:
                    raise_if_disconnected(exc)
                    store = NameStore(session)
                    report.rejected.append(Rejected(file, line, storage_error(exc)))
        for created in outcomes:
            if created:
                report.stored += 1
            else:
                report.updated += 1
        done += len(chunk)
        if progress:
            progress(done, len(entries))
    session.commit()
    return report


_STORE_CHUNK = 200
STORAGE_ERRORS = (SQLAlchemyError, ValueError, OverflowError, UnicodeError)


def raise_if_disconnected(exc: Exception) -> None:
    # A lost connection is no fault of the record: every following record would fail the same way.
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        raise exc


def storage_error(exc: Exception) -> str:
    """The rejection message for a record the database refused: the driver's own words, one line."""
    detail = getattr(exc, "orig", None) or exc
    text = " ".join(str(detail).split())[:300] or type(detail).__name__
    return f"storage: the database refused it: {text}"
