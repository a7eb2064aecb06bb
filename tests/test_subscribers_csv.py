"""The subscribers CSV: import that keeps good lines and names bad ones, lossless spreadsheet-safe export."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from sqlmodel import Session, delete, select

from digest.db import make_engine, upgrade
from digest.models import Follow, Subscriber, Suppression
from subscribers.addresses import clean_name
from subscribers.csvio import EXPORT_COLUMNS, escape_cell, export_csv, import_csv, unescape_cell
from subscribers.records import add_subscriber, deliverable_query, subscriber_dicts, unsubscribe
from subscribers.suppression import suppress

from subscribers_helpers import catalog_session, engine, make_catalog, session, _pg_database, _sqlite_template  # noqa: F401

HEADER = "email,name,companies,segments,timezone,send_day,send_hour,frequency,max_articles\n"


def write(tmp_path, text: str, name: str = "subs.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def snapshot(session, since: bool = True) -> list[dict]:
    """Every subscriber as `show --json` prints it, without what a fresh database renumbers or re-dates."""
    rows = subscriber_dicts(session, list(session.exec(select(Subscriber).order_by(Subscriber.id))))
    for row in rows:
        row.pop("created_at")
        row.pop("id")
        if not since and row["suppressed"]:
            row["suppressed"].pop("since")
    return rows


def test_good_lines_are_stored_and_each_bad_line_is_named(catalog_session, tmp_path):
    path = write(tmp_path, HEADER
                 + "ana@example.com,Ana Kim,xAI;OpenAI,Data & IP,Asia/Seoul,mon,8,weekly,8\n"
                 + "not-an-address,Bad,xAI,,UTC,mon,8,weekly,\n"
                 + '"cr@example.com","Evil\rBcc: x@example.com",xAI,,UTC,mon,8,weekly,\n'
                 + "tz@example.com,Tz,xAI,,Mars/Olympus,mon,8,weekly,\n"
                 + "co@example.com,Co,Nonexistent Corp,,UTC,mon,8,weekly,\n"
                 + "ANA@example.com,Ana Twice,,,UTC,mon,8,weekly,\n"
                 + "bo@example.com,보람,바이트댄스,Foundation Models,Europe/Berlin,fri,18,daily,\n")
    report = import_csv(catalog_session, path)
    catalog_session.commit()
    assert report.stored == 2
    assert [(r["line"], r["error"].split(":")[0]) for r in report.rejected] == [
        (3, "email"), (4, "name"), (5, "timezone"), (6, "companies"), (7, "email")]
    assert report.messages()[0].startswith(f"{path}:3: email: ")
    assert "line 2" in report.rejected[-1]["error"]
    stored = {s.email: s for s in catalog_session.exec(select(Subscriber))}
    assert set(stored) == {"ana@example.com", "bo@example.com"}
    assert stored["bo@example.com"].max_articles == 8 and stored["bo@example.com"].frequency == "daily"


def test_a_quoted_multi_line_cell_is_reported_at_the_line_where_its_record_starts(catalog_session, tmp_path):
    path = write(tmp_path, HEADER + 'a@example.com,"two\nlines",,,UTC,mon,8,weekly,8\nb@example.com,B,,,UTC,mon,8,weekly,8\n'
                 + "c@example.com,C,,,Nowhere,mon,8,weekly,8\n")
    report = import_csv(catalog_session, path)
    assert [(r["line"], r["error"].split(":")[0]) for r in report.rejected] == [(2, "name"), (5, "timezone")]


def test_importing_the_same_file_again_changes_nothing(catalog_session, tmp_path):
    path = write(tmp_path, HEADER + "ana@example.com,Ana,xAI,Foundation Models,Asia/Seoul,tue,9,weekly,5\n"
                 + "bo@example.com,Bo,,,,,,,\n")
    first = import_csv(catalog_session, path)
    catalog_session.commit()
    before = snapshot(catalog_session)
    again = import_csv(catalog_session, path)
    catalog_session.commit()
    assert (first.stored, again.stored, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert snapshot(catalog_session) == before


def test_a_later_import_updates_what_its_columns_say_and_leaves_other_columns(catalog_session, tmp_path):
    add_subscriber(catalog_session, email="ana@example.com", companies=["xAI"], min_significance=3)
    catalog_session.commit()
    report = import_csv(catalog_session, write(tmp_path, "email,companies\nana@example.com,OpenAI\n"))
    catalog_session.commit()
    [row] = snapshot(catalog_session)
    assert report.updated == 1 and row["companies"] == ["OpenAI"] and row["min_significance"] == 3


def test_export_then_reimport_changes_nothing_and_formula_names_come_back_unchanged(catalog_session, tmp_path):
    names = ["=HYPERLINK(\"http://evil\",\"x\")", "+1 555", "-minus", "@at", "\tTabbed", "'=quoted already",
             "''=twice", "'plain quote", "O'Brien", "김아나", "Ana; Kim, Jr."]
    for i, name in enumerate(names):
        add_subscriber(catalog_session, email=f"n{i}@example.com", name=name, companies=["바이트댄스", "xAI"],
                       segments=["Foundation Models", "Data & IP"], timezone="Asia/Seoul", send_day="sun",
                       send_hour=23, frequency="daily", max_articles=20, min_significance=2, reading_budget=12,
                       paused_until="2027-01-02")
    add_subscriber(catalog_session, email="-dash@example.com", name="Dash")
    add_subscriber(catalog_session, email="pending@example.com", double_opt_in=True)
    gone = add_subscriber(catalog_session, email="gone@example.com")
    unsubscribe(catalog_session, gone.id)
    catalog_session.commit()
    before = snapshot(catalog_session)
    out = tmp_path / "export.csv"
    assert export_csv(catalog_session, out) == len(names) + 3

    cells = {row["email"]: row for row in csv.DictReader(out.open(encoding="utf-8", newline=""))}
    assert cells["n0@example.com"]["name"].startswith("'=")
    assert cells["n1@example.com"]["name"] == "'+1 555"
    assert cells["'-dash@example.com"]["name"] == "Dash"
    for row in cells.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))

    report = import_csv(catalog_session, out)
    catalog_session.commit()
    assert report.rejected == [] and report.skipped == []
    assert report.stored == report.updated == 0
    assert snapshot(catalog_session) == before


def test_export_reimports_into_an_empty_database_as_the_same_records(catalog_session, tmp_path, engine):
    add_subscriber(catalog_session, email="ana@example.com", name="=cmd|' /C calc'!A0", companies=["OpenAI"],
                   segments=["Foundation Models · Case Studies"], reading_budget=9)
    gone = add_subscriber(catalog_session, email="gone@example.com")
    unsubscribe(catalog_session, gone.id, reason="complained")
    catalog_session.commit()
    snapshot_before = snapshot(catalog_session, since=False)
    out = tmp_path / "export.csv"
    export_csv(catalog_session, out)
    for table in (Suppression, Follow, Subscriber):
        catalog_session.exec(delete(table))
    catalog_session.commit()
    report = import_csv(catalog_session, out)
    catalog_session.commit()
    assert report.stored == 2 and report.rejected == []
    assert snapshot(catalog_session, since=False) == snapshot_before


def test_unsubscribed_address_is_not_resubscribed_by_any_later_import(catalog_session, tmp_path):
    path = write(tmp_path, HEADER + "ana@example.com,Ana,xAI,,UTC,mon,8,weekly,8\n")
    import_csv(catalog_session, path)
    unsubscribe(catalog_session, "ana@example.com")
    catalog_session.commit()
    for _ in range(3):
        report = import_csv(catalog_session, path)
        catalog_session.commit()
        assert report.stored == report.updated == report.resubscribed == 0
        assert "unsubscribed" in report.skipped[0]["error"] and "--resubscribe" in report.skipped[0]["error"]
    assert catalog_session.exec(select(Subscriber)).one().status == "unsubscribed"
    assert list(catalog_session.exec(deliverable_query())) == []


def test_suppressed_address_without_a_record_is_not_created_by_an_import(catalog_session, tmp_path):
    suppress(catalog_session, "bounce@example.com", "bounced", "550 5.1.1")
    catalog_session.commit()
    report = import_csv(catalog_session, write(tmp_path, HEADER + "Bounce@Example.com,B,,,UTC,mon,8,weekly,8\n"))
    assert report.stored == 0 and len(report.skipped) == 1
    assert catalog_session.exec(select(Subscriber)).all() == []


def test_a_status_column_saying_active_does_not_resubscribe_either(catalog_session, tmp_path):
    add_subscriber(catalog_session, email="ana@example.com")
    unsubscribe(catalog_session, "ana@example.com", reason="complained")
    catalog_session.commit()
    report = import_csv(catalog_session, write(tmp_path, "email,status\nana@example.com,active\n"))
    assert len(report.skipped) == 1 and catalog_session.exec(select(Subscriber)).one().status == "complained"


def test_only_an_explicit_resubscribe_brings_an_address_back_and_the_report_says_so(catalog_session, tmp_path):
    add_subscriber(catalog_session, email="ana@example.com")
    unsubscribe(catalog_session, "ana@example.com")
    catalog_session.commit()
    report = import_csv(catalog_session, write(tmp_path, HEADER + "ana@example.com,Ana,,,UTC,mon,8,weekly,8\n"),
                        resubscribe=True)
    catalog_session.commit()
    assert report.resubscribed == 1
    assert catalog_session.exec(select(Subscriber)).one().status == "active"
    assert catalog_session.exec(select(Suppression)).all() == []


def test_a_status_column_can_unsubscribe_and_that_suppresses(catalog_session, tmp_path):
    add_subscriber(catalog_session, email="ana@example.com")
    catalog_session.commit()
    import_csv(catalog_session, write(tmp_path, "email,status\nana@example.com,unsubscribed\n"))
    catalog_session.commit()
    assert catalog_session.get(Suppression, "ana@example.com").reason == "unsubscribed"


def test_double_opt_in_import_makes_new_subscribers_pending_and_lists_them(catalog_session, tmp_path):
    add_subscriber(catalog_session, email="old@example.com")
    catalog_session.commit()
    report = import_csv(catalog_session, write(tmp_path, "email\nold@example.com\nnew@example.com\n"), double_opt_in=True)
    catalog_session.commit()
    statuses = {s.email: s.status for s in catalog_session.exec(select(Subscriber))}
    assert statuses == {"old@example.com": "active", "new@example.com": "pending"}
    assert len(report.pending) == 1


def test_header_with_an_unknown_column_rejects_the_file_and_stores_nothing(catalog_session, tmp_path):
    report = import_csv(catalog_session, write(tmp_path, "email,timezon\nana@example.com,UTC\n"))
    assert report.rejected[0]["line"] == 1 and "did you mean 'timezone'" in report.rejected[0]["error"]
    assert catalog_session.exec(select(Subscriber)).all() == []


def test_file_without_a_header_row_is_rejected_with_a_hint(catalog_session, tmp_path):
    report = import_csv(catalog_session, write(tmp_path, "ana@example.com,Ana,,,UTC,mon,8,weekly,8\n"))
    assert "header" in report.rejected[0]["error"]


def test_excel_byte_order_mark_and_crlf_are_accepted(catalog_session, tmp_path):
    path = write(tmp_path, "\ufeff" + HEADER.replace("\n", "\r\n") + "ana@example.com,김아나,,,UTC,mon,8,weekly,8\r\n")
    report = import_csv(catalog_session, path)
    catalog_session.commit()
    assert report.stored == 1 and catalog_session.exec(select(Subscriber)).one().name == "김아나"


def test_line_with_the_wrong_number_of_cells_is_rejected(catalog_session, tmp_path):
    report = import_csv(catalog_session, write(tmp_path, HEADER + "ana@example.com,Ana\n"))
    assert report.rejected[0]["line"] == 2 and "cells" in report.rejected[0]["error"]


def test_export_header_is_the_import_columns_plus_status_and_the_other_preferences(catalog_session):
    buffer = io.StringIO()
    export_csv(catalog_session, buffer)
    assert buffer.getvalue().splitlines()[0].split(",") == list(EXPORT_COLUMNS)
    assert HEADER.strip() + ",status" in buffer.getvalue()


@given(st.text())
def test_escaping_a_cell_is_undone_by_import_for_any_text(cell):
    assert unescape_cell(escape_cell(cell)) == cell
    assert not escape_cell(cell).startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.fixture(scope="module")
def property_engine(tmp_path_factory):
    """One SQLite database for all property examples; each example empties it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('prop') / 'd.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        make_catalog(s)
    yield engine
    engine.dispose()


@hsettings(max_examples=60, deadline=None)
@given(name=st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_any_valid_name_survives_export_and_reimport(property_engine, tmp_path_factory, name):
    out = tmp_path_factory.getbasetemp() / "property-export.csv"
    with Session(property_engine) as s:
        s.exec(delete(Subscriber))
        stored = add_subscriber(s, email="p@example.com", name=name).name
        assert stored == clean_name(name)
        s.commit()
        export_csv(s, out)
        s.exec(select(Subscriber)).one().name = "changed"
        s.commit()
        import_csv(s, out)
        s.commit()
        assert s.exec(select(Subscriber)).one().name == stored


def _hostile_csv(end: bytes) -> tuple[bytes, set[str], list[tuple[int, str]]]:
    """A subscribers CSV mixing every kind of bad line with good ones: bytes, good addresses, (line, error start)."""
    rows = [
        (HEADER.strip().encode(), None),
        (b"ana@example.com,Ana,xAI,,UTC,mon,8,weekly,8", "ana@example.com"),
        (b"bad@example.com,Caf\xe9 Owner,,,UTC,mon,8,weekly,8", "encoding: byte 0xE9 at column 20"),
        (b"bo@example.com,Bo,,,UTC,mon,8,weekly,8", "bo@example.com"),
        (b"many@example.com,Many,Extra,,,UTC,mon,8,weekly,8", "line: has 10 cells, the header has 9"),
        (b"few@example.com,Few", "line: has 2 cells, the header has 9"),
        (b'quote@example.com,"Unclosed,,,UTC,mon,8,weekly,8', "line: a quoted cell opens on this line"),
        (b"cy@example.com,Cy,,,UTC,mon,8,weekly,8", "cy@example.com"),
        ("sep@example.com,Ana\u2028Kim\u2029X,,,UTC,mon,8,weekly,8".encode(), "sep@example.com"),
        ("nel@example.com,Ana\u0085Kim,,,UTC,mon,8,weekly,8".encode(), "name: contains the control character U+0085"),
        (b"nul@example.com,A\x00B,,,UTC,mon,8,weekly,8", "name: contains a NUL character"),
        (b"", None),
        (b"two@example.com,Two \xff\xfe,,,UTC,mon,8,weekly,8", "encoding: byte 0xFF at column 21"),
        (b'pair@example.com,"opens,,,UTC,mon,8,weekly,8', "line: a quoted cell opens on this line"),
        (b"dee@example.com,Dee,,,UTC,mon,8,weekly,8", "dee@example.com"),
        (b'closes",x,,,UTC,mon,8,weekly,8', "email: "),
        (b"last@example.com,Last,,,UTC,mon,8,weekly,8", "last@example.com"),
    ]
    data = b"\xef\xbb\xbf" + end.join(line for line, _ in rows) + end
    good = {want for _, want in rows if want and "@" in want and ":" not in want}
    bad = [(number, want) for number, (_, want) in enumerate(rows, start=1) if want and ":" in want]
    return data, good, bad


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr-only"])
def test_a_csv_mixing_every_bad_line_stores_each_good_one_and_names_each_bad_line(catalog_session, tmp_path, end):
    data, good, bad = _hostile_csv(end)
    path = tmp_path / "hostile.csv"
    path.write_bytes(data)
    report = import_csv(catalog_session, path)
    catalog_session.commit()
    stored = {s.email: s for s in catalog_session.exec(select(Subscriber))}
    assert set(stored) == good
    assert stored["sep@example.com"].name == "Ana\u2028Kim\u2029X"  # none of them ends a line
    got = [(r["line"], r["error"]) for r in report.rejected]
    assert [line for line, _ in got] == [line for line, _ in bad], got
    for (line, error), (_, want) in zip(got, bad):
        assert error.startswith(want), (line, error, want)
    assert all(message.startswith(f"{path}:") for message in report.messages())


def test_a_bad_byte_on_line_3_names_line_3_and_not_the_header(catalog_session, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "ana@example.com,Ana,,,UTC,mon,8,weekly,8\n").encode()
                     + "jose@example.com,José,,,UTC,mon,8,weekly,8\n".encode("latin-1"))
    report = import_csv(catalog_session, path)
    assert report.stored == 1
    assert [(r["line"], r["error"].split(":")[0]) for r in report.rejected] == [(3, "encoding")]


def test_a_header_problem_blames_the_header_only_when_the_header_is_the_problem(catalog_session, tmp_path):
    empty = import_csv(catalog_session, write(tmp_path, "", "empty.csv"))
    assert empty.rejected == []  # an empty file is nothing to import, not an error
    path = tmp_path / "badheader.csv"
    path.write_bytes(b"email,n\xe4me\nana@example.com,Ana\n")
    report = import_csv(catalog_session, path)
    assert [(r["line"], r["error"].split(":")[0]) for r in report.rejected] == [(1, "header")]
    assert "0xE4" in report.rejected[0]["error"]
    blank_first = import_csv(catalog_session,
                             write(tmp_path, "\n\n" + HEADER + "ana@example.com,Ana,,,UTC,mon,8,weekly,8\n"))
    assert blank_first.rejected == [] and blank_first.stored == 1


def test_a_lone_cr_or_an_overlong_cell_in_an_lf_file_rejects_only_its_line_in_words_that_say_what_to_fix(
        catalog_session, tmp_path):
    path = write(tmp_path, HEADER + "a@example.com,An\ra,,,UTC,mon,8,weekly,8\n"
                 + "b@example.com,B,,,UTC,mon,8,weekly,8\n"
                 + "c@example.com," + "x" * 200_000 + ",,,UTC,mon,8,weekly,8\n"
                 + "d@example.com,D,,,UTC,mon,8,weekly,8\n")
    report = import_csv(catalog_session, path)
    assert report.stored == 2
    assert [(r["line"], r["error"]) for r in report.rejected] == [
        (2, "line: cannot read it: a carriage return (CR) inside a cell that is not in double quotes"),
        (4, "line: cannot read it: a cell is longer than 131072 characters")]


def test_a_quoted_cell_that_never_closes_costs_only_its_own_line(catalog_session, tmp_path):
    path = write(tmp_path, HEADER + 'a@example.com,"Ana,,,UTC,mon,8,weekly,8\n'
                 + "b@example.com,B,,,UTC,mon,8,weekly,8\n"
                 + "c@example.com,C,,,UTC,mon,8,weekly,8\n")
    report = import_csv(catalog_session, path)
    assert report.stored == 2 and [r["line"] for r in report.rejected] == [2]


GOOD_NAME = st.text(alphabet=st.sampled_from(list("aZé한 '") + ["\u2028", "\u2029"]), max_size=12)
CSV_JUNK = st.one_of(
    st.text(min_size=1, max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(min_size=1, max_size=40),
    st.sampled_from([b'"', b'x,"y', b'a,b,c,d,e,f,g,h,"i', b'z",1,2,3,4,5,6,7,8', b"\xef\xbb\xbf", b"\x00"]),
).filter(lambda b: b"\n" not in b and b"\r" not in b
          # not a blank row: empty cells (quoted or not) and spaces only, every quote closed
          and (b.translate(None, b'", \t') or b.count(b'"') % 2))


@hsettings(max_examples=1000, deadline=None)
@given(lines=st.lists(st.one_of(GOOD_NAME.map(lambda n: ("good", n)), CSV_JUNK.map(lambda j: ("junk", j))),
                      max_size=10),
       end=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_every_good_row_among_any_junk_lines_is_stored_and_every_junk_record_is_reported(
        property_engine, tmp_path_factory, lines, end):
    body, good, junk = [HEADER.strip().encode()], set(), set()
    for number, (kind, value) in enumerate(lines, start=2):
        if kind == "good":
            email = f"r{number}@example.com"
            body.append(f"{email},{value},,,UTC,mon,8,weekly,8".encode())
            good.add(email)
        else:
            body.append(value)
            junk.add(number)
    path = tmp_path_factory.getbasetemp() / "property-junk.csv"
    path.write_bytes(end.join(body) + end)
    with Session(property_engine) as s:
        s.exec(delete(Follow))
        s.exec(delete(Subscriber))
        report = import_csv(s, path)
        s.flush()
        stored = set(s.exec(select(Subscriber.email)))
        s.rollback()
    assert stored == good
    reported = {r["line"] for r in report.rejected}
    assert reported <= junk
    # A junk line may close a quote that an earlier junk line opened: the two are one record,
    # reported at its first line. Any other junk line is reported itself.
    for line in junk - reported:
        assert any(start in reported and all(n in junk for n in range(start, line)) for start in range(2, line)), line


def test_a_line_the_database_refuses_does_not_roll_back_the_lines_before_or_after_it(catalog_session, engine, tmp_path):
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite:
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON subscriber WHEN NEW.name = 'poison' "
                                 "BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.name = 'poison' "
                                 "THEN RAISE EXCEPTION 'poison refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON subscriber FOR EACH ROW "
                                 "EXECUTE FUNCTION refuse()")
    try:
        path = write(tmp_path, HEADER + "a@example.com,A,xAI,,UTC,mon,8,weekly,8\n"
                     + "p@example.com,poison,xAI,,UTC,mon,8,weekly,8\n"
                     + "b@example.com,B,OpenAI,,UTC,mon,8,weekly,8\n")
        report = import_csv(catalog_session, path)
        catalog_session.commit()
        stored = {s.email: s.id for s in catalog_session.exec(select(Subscriber))}
        follows = {row.subscriber_id for row in catalog_session.exec(select(Follow))}
    finally:
        catalog_session.rollback()  # its read transaction would block DROP TRIGGER on PostgreSQL
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse" if sqlite else "DROP TRIGGER refuse ON subscriber")
            if not sqlite:
                conn.exec_driver_sql("DROP FUNCTION refuse()")
    assert set(stored) == {"a@example.com", "b@example.com"} and report.stored == 2
    assert follows == set(stored.values())
    assert [(r["line"], r["error"].split(":")[0]) for r in report.rejected] == [(3, "storage")]
    assert "poison refused" in report.rejected[0]["error"]


def test_a_bad_byte_inside_a_record_spanning_lines_is_reported_at_the_records_first_line(catalog_session, tmp_path):
    path = tmp_path / "spanning.csv"
    path.write_bytes(HEADER.encode() + b'a@example.com,"Ana\n\x80\n",,,UTC,mon,8,weekly,8\n'
                     + b"b@example.com,B,,,UTC,mon,8,weekly,8\n")
    report = import_csv(catalog_session, path)
    assert report.stored == 1
    assert [(r["line"], r["error"]) for r in report.rejected] == [
        (2, "encoding: byte 0x80 on line 3, column 1 is not UTF-8 (save the file as UTF-8)")]
