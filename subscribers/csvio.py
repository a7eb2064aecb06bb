"""The subscribers CSV: import (reporting FILE:LINE: column: problem) and spreadsheet-safe export."""

from __future__ import annotations

import csv
import difflib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session, select

from digest.addresses import normalize_email
from digest.errors import InputError
from digest.ingest import (BAD_BYTE, STORAGE_ERRORS, LineIndex, bad_byte_error, decode_text, raise_if_disconnected,
                           storage_error)
from digest.models import Follow, Subscriber
from digest.suppression import suppressed_keys

from .follows import COMPANY, SEGMENT, NameIndex, follow_ids, follow_names
from .preferences import day_name
from .records import CREATED, RESUBSCRIBED, UNCHANGED, UPDATED, Suppressed, apply_record, build_record

# The import columns of the README's "Data formats", in this order; then what export adds so that nothing is lost.
COLUMNS = ("email", "name", "companies", "segments", "timezone", "send_day", "send_hour", "frequency", "max_articles")
EXPORT_COLUMNS = COLUMNS + ("status", "min_significance", "reading_budget", "paused_until", "language")
LIST_COLUMNS = ("companies", "segments")
LIST_SEPARATOR = ";"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 500


def _needs_quote_prefix(cell: str) -> bool:
    # A cell that already starts with "'" before a formula start gets a second one, so that
    # import's stripping of exactly one "'" gives the cell back unchanged.
    if cell.startswith(FORMULA_STARTS):
        return True
    return cell.startswith("'") and _needs_quote_prefix(cell[1:])


def escape_cell(cell: str) -> str:
    """The cell as export writes it: formula-like text gets a leading "'"."""
    return "'" + cell if _needs_quote_prefix(cell) else cell


def unescape_cell(cell: str) -> str:
    """The inverse of escape_cell, applied by import to every cell."""
    return cell[1:] if cell.startswith("'") and _needs_quote_prefix(cell[1:]) else cell


@dataclass
class ImportReport:
    """What an import did; rejected and skipped entries are {"file", "line", "error"}."""

    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    resubscribed: int = 0
    rejected: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # suppressed addresses left alone
    pending: list[int] = field(default_factory=list)  # new pending subscribers that need a confirm message

    @property
    def rejected_lines(self) -> int:
        return len({(r["file"], r["line"]) for r in self.rejected})

    @property
    def ok(self) -> bool:
        return not self.rejected

    def messages(self) -> list[str]:
        return [f"{r['file']}:{r['line']}: {r['error']}" for r in self.rejected]

    def to_dict(self) -> dict:
        return {
            "stored": self.stored, "updated": self.updated, "unchanged": self.unchanged,
            "resubscribed": self.resubscribed, "rejected": self.rejected, "skipped": self.skipped,
            "pending": self.pending,
        }


@dataclass
class _Row:
    file: str
    line: int
    cells: dict[str, str]


def _read_text(source) -> tuple[str, str]:
    """The name and the text of a path or a stream; a path's invalid UTF-8 bytes are kept as markers."""
    if isinstance(source, (str, os.PathLike)):
        # Decoded whole with surrogateescape: a byte that is not UTF-8 rejects only its own line.
        return str(source), decode_text(Path(source).read_bytes())
    data = source.read()
    name = getattr(source, "name", "<stream>")
    if isinstance(data, bytes):
        return name, decode_text(data)
    return name, data.removeprefix("\ufeff")


class _Cursor:
    """The lines for csv.reader, one at a time, with a position that can be moved back."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.pos = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1] + "\n"


def _quote_left_open(lines: list[str]) -> bool:
    """True when these lines end inside a quoted cell (an unmatched '"' reached the end of the file)."""
    try:
        for _ in csv.reader([line + "\n" for line in lines], strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _swallows_rows(lines: list[str], width: int) -> bool:
    """True when a line inside a multi-line record is, on its own, a whole row of the header's width.

    Then the quote that made the record span lines is a stray one pairing with another further
    down (no cell may hold a line break), and the rows in between are read as the rows they are.
    """
    for line in lines:
        try:
            rows = list(csv.reader([line + "\n"]))
        except csv.Error:
            continue
        if len(rows) == 1 and len(rows[0]) == width:
            return True
    return False


# The csv module's messages, in words that say what to fix in the file.
_CSV_PROBLEMS = {
    "new-line character seen in unquoted field": "a carriage return (CR) inside a cell that is not in double quotes",
    f"field larger than field limit ({csv.field_size_limit()})":
        f"a cell is longer than {csv.field_size_limit()} characters",
}


def _rows(source, report: ImportReport) -> Iterator[_Row]:
    """The file's records as rows; every line that cannot be one is reported, the others still read.

    Lines are numbered as grep -n and editors do (see digest.ingest.LineIndex): LF ends a line,
    CRLF counts once, and a file without any LF ends its lines at CR. A quoted cell may span
    lines; a record that does so and then has the wrong number of cells, runs to the end of the
    file or swallows whole rows is an unmatched quote: its first line is reported and reading
    goes on at the next line.
    """
    name, text = _read_text(source)
    lines = LineIndex(text).lines()
    if lines and lines[-1] == "":
        lines.pop()
    cursor = _Cursor(lines)
    reader = csv.reader(cursor)
    columns: list[str] | None = None

    def reject(line: int, error: str) -> None:
        report.rejected.append({"file": name, "line": line, "error": error})

    while cursor.pos < len(lines):
        start = cursor.pos
        try:
            cells = next(reader)
            problem = None
        except StopIteration:
            return
        except csv.Error as exc:
            cells, problem = None, str(exc)
        end = cursor.pos
        what = "header" if columns is None else "line"
        spans = end - start > 1
        unclosed = end == len(lines) and _quote_left_open(lines[start:end])
        if cells is not None and not any(c.strip(" \t") for c in cells) and not spans and not unclosed:
            continue  # a blank line
        if unclosed or spans and (problem or (columns is not None and len(cells) != len(columns))
                                  or (columns is not None and _swallows_rows(lines[start + 1:end], len(columns)))):
            reject(start + 1, f"{what}: a quoted cell opens on this line and is not closed (an unmatched '\"')")
            if columns is None:
                return
            cursor.pos = start + 1
            continue
        bad = next(((i, m) for i in range(start, end) for m in [BAD_BYTE.search(lines[i])] if m), None)
        if bad:
            i, match = bad
            error = bad_byte_error(lines[i], match.start(), match.start() + 1,
                                   field="header" if columns is None else "encoding")
            if i > start:  # a record spanning lines is reported at its first line, like every other record
                error = error.replace(" at column ", f" on line {i + 1}, column ", 1)
            reject(start + 1, error)
            if columns is None:
                return
            continue
        if problem:
            reject(start + 1, f"{what}: cannot read it: {_CSV_PROBLEMS.get(problem.split(' - ')[0], problem)}")
            if columns is None:
                return
            continue
        if columns is None:
            columns = [h.strip().lstrip("\ufeff").casefold() for h in cells]
            header_problem = _header_problem(columns)
            if header_problem:
                reject(start + 1, f"header: {header_problem}")
                return
            continue
        if len(cells) != len(columns):
            hint = " (a comma inside a cell needs the cell in double quotes)" if len(cells) > len(columns) else ""
            reject(start + 1, f"line: has {len(cells)} cells, the header has {len(columns)}{hint}")
            continue
        yield _Row(name, start + 1, {c: unescape_cell(v) for c, v in zip(columns, cells)})


def _header_problem(columns: list[str]) -> str | None:
    if "email" not in columns:
        if any("@" in c for c in columns):
            return "the first line must be the header row: " + ",".join(COLUMNS)
        return "no email column; the header is " + ",".join(COLUMNS)
    for column in columns:
        if column not in EXPORT_COLUMNS:
            close = difflib.get_close_matches(column, EXPORT_COLUMNS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown column {column!r}{hint} (known: {', '.join(EXPORT_COLUMNS)})"
    if len(set(columns)) != len(columns):
        return "a column appears twice"
    return None


def _split(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]


def import_csv(session: Session, path, *, resubscribe: bool = False, double_opt_in: bool = False,
               check_deliverability: bool = False, report: ImportReport | None = None,
               seen: dict[str, tuple[str, int]] | None = None) -> ImportReport:
    """Import a subscribers CSV: valid lines are stored, every bad line is reported; the caller commits.

    A line describes the subscriber fully for the columns the file has (an empty cell means the
    default, an empty companies cell means no companies); columns the file lacks are left as they
    are. Importing the same file again changes nothing. A suppressed or stopped address is never
    resubscribed without resubscribe=True: it is reported under skipped and left alone. Pass the
    same report and seen to import several files as one.
    """
    report = report if report is not None else ImportReport()
    seen = seen if seen is not None else {}
    catalog = NameIndex(session)
    batch: list[tuple[_Row, object]] = []
    for row in _rows(path, report):
        record = _validate(row, catalog, seen, report, check_deliverability)
        if record is not None:
            batch.append((row, record))
        if len(batch) >= _CHUNK:
            _store(session, batch, report, resubscribe, double_opt_in)
            batch = []
    if batch:
        _store(session, batch, report, resubscribe, double_opt_in)
    return report


def _validate(row: _Row, catalog: NameIndex, seen: dict, report: ImportReport, check_deliverability: bool):
    cells = dict(row.cells)
    kwargs = {column: cells[column] for column in cells if column not in LIST_COLUMNS}
    for column in LIST_COLUMNS:
        if column in cells:
            kwargs[column] = _split(cells[column])
    record, errors = build_record(catalog, check_deliverability=check_deliverability, **kwargs)
    key = record.key if record is not None else None
    if key is None and not any(e.field == "email" for e in errors):
        try:  # the line is bad for another reason, but its address still claims its place
            key = normalize_email(cells["email"])[1]
        except InputError:
            key = None
    if key is not None:
        if key in seen:
            first_file, first_line = seen[key]
            where = f"line {first_line}" if first_file == row.file else f"{first_file}:{first_line}"
            errors.insert(0, InputError("email", f"{cells['email'].strip()} appears already on {where}"))
        else:
            seen[key] = (row.file, row.line)
    for error in errors:
        report.rejected.append({"file": row.file, "line": row.line, "error": str(error)})
    return None if errors else record


def _store(session: Session, batch: list, report: ImportReport, resubscribe: bool, double_opt_in: bool) -> None:
    """Store a batch under a savepoint; if the database refuses it, store it again a line at a time.

    A line the database refuses (a constraint, a trigger, a concurrent insert of the same address)
    is then reported as `storage:` and rolled back alone: the lines around it are stored.
    """
    part = ImportReport()
    try:
        with session.begin_nested():
            _store_batch(session, batch, part, resubscribe, double_opt_in)
    except STORAGE_ERRORS as exc:
        raise_if_disconnected(exc)
    else:
        _merge(report, part)
        return
    for row, record in batch:
        part = ImportReport()
        try:
            with session.begin_nested():
                _store_batch(session, [(row, record)], part, resubscribe, double_opt_in)
        except STORAGE_ERRORS as exc:
            raise_if_disconnected(exc)
            report.rejected.append({"file": row.file, "line": row.line, "error": storage_error(exc)})
        else:
            _merge(report, part)


def _merge(report: ImportReport, part: ImportReport) -> None:
    report.stored += part.stored
    report.updated += part.updated
    report.unchanged += part.unchanged
    report.resubscribed += part.resubscribed
    report.skipped.extend(part.skipped)
    report.pending.extend(part.pending)


def _store_batch(session: Session, batch: list, report: ImportReport, resubscribe: bool, double_opt_in: bool) -> None:
    keys = [record.key for _, record in batch]
    existing = {s.email_key: s for s in session.exec(select(Subscriber).where(Subscriber.email_key.in_(keys)))}
    suppressions = suppressed_keys(session, keys)
    follows = follow_ids(session, [s.id for s in existing.values()])
    created: list = []
    pending: list[Subscriber] = []
    for row, record in batch:
        current = existing.get(record.key)
        try:
            subscriber, action = apply_record(
                session, record, existing=current, suppression=suppressions.get(record.key),
                current_follows=follows.get(current.id) if current else None, mode="upsert",
                resubscribe=resubscribe, double_opt_in=double_opt_in, deferred=created,
            )
        except Suppressed as exc:
            report.skipped.append({"file": row.file, "line": row.line, "error": str(exc)})
            continue
        if action == CREATED:
            report.stored += 1
        elif action == UPDATED:
            report.updated += 1
        elif action == RESUBSCRIBED:
            report.resubscribed += 1
        elif action == UNCHANGED:
            report.unchanged += 1
        if subscriber.status == "pending" and action in (CREATED, RESUBSCRIBED):
            pending.append(subscriber)
    # One flush gives the batch's new subscribers their ids (one multi-row INSERT), then their follows.
    session.flush()
    rows = [{"subscriber_id": subscriber.id, "kind": kind, "target_id": target_id}
            for subscriber, record in created
            for kind, ids in ((COMPANY, record.companies), (SEGMENT, record.segments))
            for target_id in set(ids or ())]
    if rows:
        # A Core INSERT: building a SQLModel object per follow costs more than the database does.
        session.execute(insert(Follow), rows)
    report.pending.extend(s.id for s in pending)


def export_rows(session: Session, *, status: str | None = None) -> Iterator[list[str]]:
    """Every subscriber as CSV cells (not yet escaped), in id order, a thousand at a time."""
    catalog = NameIndex(session)
    last_id = 0
    while True:
        query = select(Subscriber).where(Subscriber.id > last_id).order_by(Subscriber.id).limit(1000)
        if status:
            query = query.where(Subscriber.status == status)
        subscribers = list(session.exec(query))
        if not subscribers:
            return
        names = follow_names(session, [s.id for s in subscribers], catalog)
        for s in subscribers:
            companies, segments = names[s.id]
            yield [
                s.email, s.name, LIST_SEPARATOR.join(companies), LIST_SEPARATOR.join(segments), s.timezone,
                day_name(s.send_day), str(s.send_hour), s.frequency, str(s.max_articles), s.status,
                str(s.min_significance), "" if s.reading_budget is None else str(s.reading_budget),
                s.paused_until.isoformat() if s.paused_until else "", s.language or "",
            ]
        last_id = subscribers[-1].id


def export_csv(session: Session, out, *, status: str | None = None, bom: bool = False) -> int:
    """Write every subscriber as CSV (the import columns plus status and the other preferences).

    Safe to open in a spreadsheet: formula-like cells get a leading "'" that import strips again,
    so an export re-imports to exactly the same records. out is a path or a text stream; bom=True
    writes a UTF-8 byte-order mark so that Excel reads non-Latin names correctly. Returns the count.
    """
    owned = isinstance(out, (str, os.PathLike))
    stream = open(out, "w", encoding="utf-8", newline="") if owned else out
    try:
        if bom:
            stream.write("\ufeff")
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        count = 0
        for cells in export_rows(session, status=status):
            writer.writerow([escape_cell(c) for c in cells])
            count += 1
        return count
    finally:
        if owned:
            stream.close()


def export_text(session: Session, **kwargs) -> str:
    buffer = io.StringIO()
    export_csv(session, buffer, **kwargs)
    return buffer.getvalue()
