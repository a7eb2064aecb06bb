"""Reading article files: JSON arrays or JSONL into (line, record) pairs, each unreadable part a Rejected.

A record that cannot be parsed costs only itself: the reader resumes at the next record and names the
line (as grep -n counts) of every one it skips.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .validate import validate_article


@dataclass
class Rejected:
    file: str
    line: int
    error: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.error}"


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


def read_url_records(url: str, fetch) -> tuple[list[tuple[int, object]], list[Rejected]]:
    """Like read_records for a JSON or JSONL file at an http(s) URL: `fetch(url)` returns its bytes
    or raises OSError (or an error whose text says what went wrong), reported as `url:`."""
    try:
        data = fetch(url)
    except Exception as exc:  # noqa: BLE001 - any failure of the fetch costs this file only, named
        return [], [Rejected(url, 0, f"url: {exc}")]
    return _read_text(url, decode_text(data))


def _read_text(name: str, text: str) -> tuple[list[tuple[int, object]], list[Rejected]]:
    index = LineIndex(text)
    stripped = text.lstrip(" \t\r\n")
    if not stripped.startswith("["):
        return _read_jsonl(name, index.lines())
    records, errors, after = _read_array(name, index, len(text) - len(stripped))
    if (errors or after) and index.sep in text.strip():
        # A JSONL file whose first line is junk that starts with '[' reads as a broken array (or as a
        # complete one, "[]", with the records after it). Read as lines instead when that keeps as
        # many valid articles (each line then stands on its own, the junk one reported); with none
        # valid either way, the reading with fewer rejections.
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


def _read_array(name: str, index: LineIndex, start: int) -> tuple[list[tuple[int, object]], list[Rejected], bool]:
    """The array's records and errors, then the lines after its ']' read as JSONL; and whether
    there were any records after it."""
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
            return records, errors, False
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
                    return records, errors, False
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
    return records + more, errors + more_errors, bool(more)


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
