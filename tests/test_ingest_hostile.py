"""Ingest against a hostile file author: every valid record of a file is stored, each bad one is named at its line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlmodel import Session, select

from digest.db import make_engine, upgrade
from digest.ingest import ingest_files, validate_article
from digest.errors import InputError
from digest.models import Article

SEPARATORS = "\u2028\u2029\u0085\x0c\x0b\x1c\x1d\x1e"  # all split by str.splitlines, none a line end


def article(n, **over) -> dict:
    base = {
        "url": f"https://amw.example/news/{n}",
        "title": f"Good article {n}",
        "summary": "A summary.",
        "published_at": "2026-11-20T09:00:00Z",
        "read_minutes": 2,
        "companies": ["xAI"],
        "segments": ["Foundation Models · Case Studies"],
        "tags": ["t"],
        "scores": {"novelty": {"score": 3, "note": "n"}, "significance": {"score": 2, "note": "s"}},
        "related": [],
    }
    base.update(over)
    return base


def dump(record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


DEEP = b'{"url": "https://amw.example/news/deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

# (line bytes, None for a valid record or the field its rejection must name)
HOSTILE_LINES: list[tuple[bytes, str | None]] = [
    (dump(article(1)), None),
    (dump(article(2, published_at="9999-12-31T23:00:00-05:00")), "published_at: "),
    (dump(article(3, title="Line\u2028separator\u2029paragraph\u0085next\x0cfeed", summary="a\u2028b")), None),
    (dump(article(4, url="http://[::1")), "url: "),
    (DEEP, "json: nested too deeply"),
    (dump(article(5)).replace(b'"read_minutes": 2', b'"read_minutes": NaN'), "json: NaN"),
    (dump(article(6)).replace(b'"read_minutes": 2', b'"read_minutes": -Infinity'), "json: -Infinity"),
    (dump(article(7)).replace(b'"read_minutes": 2', b'"read_minutes": ' + b"9" * 5000), "json: "),
    (dump(article(8)).replace(b'"score": 3', b'"score": ' + b"7" * 400), "scores.novelty.score: "),
    (dump(article(9, read_minutes=1e308 * 10)), "json: Infinity"),  # json.dumps writes Infinity
    (b"[1, 2]", "record: must be a JSON object, not an array"),
    (b'"just a string"', "record: must be a JSON object, not a string"),
    (b"null", "record: must be a JSON object, not null"),
    (dump(article(10, title="caf\u00e9")).replace("é".encode(), b"\xe9"), "encoding: byte 0xE9 at column"),
    (dump(article(11)).replace(b"Good", b"Go\xc3\x28od"), "encoding: byte 0xC3"),
    (json.dumps(article(12, title="half \ud800 pair")).encode(), "title: holds U+D800"),
    (dump(article(13, url="http://amw.example:99999/x")), "url: "),
    (dump(article(14, related=["http://[bad"])), "related[0]: "),
    (dump(article(15, published_at="0001-01-01T00:00:00+05:00")), "published_at: "),
    (dump(article(16, companies=["ß" * 150])), "companies[0]: is longer than 200 characters once case-folded"),
    (dump(article(17, segments=["·".join("ab" * 40 for _ in range(4))])), "segments[0]: "),
    (b"{not json", "json: "),
    (b"\x0c", "json: "),
    (b"\xef\xbb\xbf" + dump(article(18)), None),  # a BOM opening a line: files joined with cat
    (dump(article(19, title="Last good one")), None),
]


def test_jsonl_mixing_every_bad_record_stores_each_valid_one_and_names_each_bad_line(engine, tmp_path):
    lines = [line for line, _ in HOSTILE_LINES]
    lines.insert(5, b"   ")  # a blank line is skipped and still counted
    expected = [(i + 1, want) for i, (_, want) in enumerate([pair for pair in HOSTILE_LINES[:5]] + [(b"", "")]
                                                          + HOSTILE_LINES[5:]) if want]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Session(engine) as session:
        report = ingest_files(session, [path])
        urls = set(session.exec(select(Article.url)).all())
        titles = set(session.exec(select(Article.title)).all())
        summary = session.exec(select(Article.summary).where(Article.url == "https://amw.example/news/3")).one()
    assert urls == {"https://amw.example/news/1", "https://amw.example/news/3", "https://amw.example/news/18",
                    "https://amw.example/news/19"}
    assert report.stored == 4
    got = [(r.line, r.error) for r in report.rejected]
    assert [line for line, _ in got] == [line for line, _ in expected]
    for (line, error), (_, want) in zip(got, expected):
        assert error.startswith(want), (line, error, want)
    assert all(str(r).startswith(f"{path}:{r.line}: ") for r in report.rejected)
    assert "Line separator paragraph next feed" in titles  # a title is one line: its separators become spaces
    assert summary == "a\u2028b"


def test_utf8_bom_is_accepted_at_the_start_of_a_file(engine, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + dump(article(1)) + b"\n")
    with Session(engine) as session:
        assert ingest_files(session, [path]).stored == 1


def _array_file(pieces: list[bytes]) -> tuple[bytes, list[int]]:
    """A JSON array of the pieces, one per line group; returns the bytes and each piece's first line."""
    out, starts, line = [b"["], [], 2
    for i, piece in enumerate(pieces):
        starts.append(line)
        out.append(piece + (b"," if i < len(pieces) - 1 else b""))
        line += piece.count(b"\n") + 1
    out.append(b"]")
    return b"\n".join(out) + b"\n", starts


def pretty(record) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")


def test_json_array_mixing_every_bad_record_stores_each_valid_one_and_names_each_bad_line(engine, tmp_path):
    bad_byte = pretty(article(5, title="caf\u00e9")).replace("é".encode(), b"\xe9")
    pieces = [
        (pretty(article(1)), None, 0),
        (pretty(article(2, published_at="9999-12-31T23:00:00-05:00")), "published_at: ", 0),
        (pretty(article(3, title="Sep\u2028ara\u2029ted\u0085")), None, 0),
        (DEEP, "json: nested too deeply", 0),
        (bad_byte, "encoding: byte 0xE9", bad_byte.split(b"\n").index(next(
            ln for ln in bad_byte.split(b"\n") if b"\xe9" in ln))),
        (pretty(article(6)).replace(b'"read_minutes": 2', b'"read_minutes": NaN'), "json: NaN",
         pretty(article(6)).split(b"\n").index(b'  "read_minutes": 2,')),
        (pretty(article(7)).replace(b'"read_minutes": 2', b'"read_minutes": ' + b"9" * 5000), "json: ", 0),
        (pretty(article(8)).replace(b'"title": "Good article 8"', b'"title": '), "json: Expecting value",
         pretty(article(8)).split(b"\n").index(b'  "title": "Good article 8",')),
        (pretty(article(9, url="http://[::1")), "url: ", 0),
        (b'"a string"', "record: must be a JSON object", 0),
        (pretty(article(10, read_minutes=[[[]]])), "read_minutes: must be a whole number", 0),
        (pretty(article(11, title="Still here")), None, 0),
    ]
    data, starts = _array_file([p for p, _, _ in pieces])
    path = tmp_path / "hostile.json"
    path.write_bytes(data)
    with Session(engine) as session:
        report = ingest_files(session, [path])
        urls = set(session.exec(select(Article.url)).all())
    assert urls == {f"https://amw.example/news/{n}" for n in (1, 3, 11)}
    expected = [(start + offset, want) for start, (_, want, offset) in zip(starts, pieces) if want]
    got = [(r.line, r.error) for r in report.rejected]
    assert [line for line, _ in got] == [line for line, _ in expected], got
    for (line, error), (_, want) in zip(got, expected):
        assert error.startswith(want), (line, error, want)


def test_json_array_with_a_missing_comma_an_empty_place_and_an_unclosed_record_keeps_the_others(engine, tmp_path):
    lines = [
        b"[",
        dump(article(1)),  # 2: a ',' is missing after it
        dump(article(2)) + b",",  # 3: stored, the missing comma is reported here
        b",",  # 4: an empty place
        dump(article(3))[:-1] + b",",  # 5: never closes; reading resumes at the next record
        dump(article(4)) + b",",  # 6
        dump(article(5)),  # 7
        b"]",
        dump(article(6)),  # 9: after the array, read as a line of its own
    ]
    path = tmp_path / "broken.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Session(engine) as session:
        report = ingest_files(session, [path])
        urls = set(session.exec(select(Article.url)).all())
    assert urls == {f"https://amw.example/news/{n}" for n in (1, 2, 4, 5, 6)}
    assert [r.line for r in report.rejected] == [3, 4, 5]
    assert "missing" in report.rejected[0].error and "where a record should be" in report.rejected[1].error


def test_a_jsonl_file_whose_first_line_is_junk_starting_with_a_bracket_is_read_as_lines(engine, tmp_path):
    path = tmp_path / "junk-first.jsonl"
    path.write_bytes(b"[oops\n" + dump(article(1)) + b"\nmore junk\n" + dump(article(2)) + b"\n")
    with Session(engine) as session:
        report = ingest_files(session, [path])
    assert report.stored == 2 and [r.line for r in report.rejected] == [1, 3]


@pytest.mark.parametrize("end", [b"\r\n", b"\r"], ids=["crlf", "cr-only"])
def test_crlf_and_cr_only_files_number_lines_as_an_editor_does(engine, tmp_path, end):
    path = tmp_path / "ends.jsonl"
    path.write_bytes(end.join([dump(article(1)), b"junk", dump(article(2, title="a\u2028b")), b"", b"{",
                               dump(article(3))]) + end)
    with Session(engine) as session:
        report = ingest_files(session, [path])
    assert report.stored == 3 and [r.line for r in report.rejected] == [2, 5]


def test_a_record_the_database_refuses_does_not_roll_back_the_records_before_or_after_it(engine, tmp_path):
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON article WHEN NEW.title = 'poison' "
                                 "BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.title = 'poison' "
                                 "THEN RAISE EXCEPTION 'poison refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON article FOR EACH ROW "
                                 "EXECUTE FUNCTION refuse()")
    records = [article(1, companies=["NewCo"]), article(2, title="poison", companies=["OnlyInPoison"],
                                                        segments=["Poison · Only"]),
               article(3, companies=["NewCo", "Later"])]
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join(dump(r) for r in records) + b"\n")
    with Session(engine) as session:
        report = ingest_files(session, [path])
    with Session(engine) as session:
        urls = set(session.exec(select(Article.url)).all())
        companies = set(session.execute(sa.text("SELECT name FROM company")).scalars())
    assert urls == {"https://amw.example/news/1", "https://amw.example/news/3"}
    assert report.stored == 2 and [(r.line, r.error.split(":")[0]) for r in report.rejected] == [(2, "storage")]
    assert "poison refused" in report.rejected[0].error
    assert companies == {"NewCo", "Later"}  # nothing of the refused record stays behind


WRONG_TYPES = {
    "url": [None, 1, [], {}, True, ""],
    "title": [None, 1, [], {}, False, "   "],
    "summary": [1, [], {}],
    "published_at": [None, 1, [], {}, "yesterday", "2026-11-20"],
    "category": [1, [], {}],
    "region": [2.5, [], {}],
    "read_minutes": ["2", 2.0, [], {}, True, 0, 10**30],
    "companies": ["xAI", 1, {}, [1], [None], [[]], [""]],
    "segments": ["A", 1, {}, [1], ["A ·  · B"]],
    "tags": ["t", 1, {}, [{}]],
    "scores": [None, 1, [], "3", {"novelty": 3}, {"novelty": {"score": "3"}}],
    "related": ["https://amw.example/x", 1, {}, [1], ["ftp://amw.example/x"]],
}


def test_a_wrong_type_in_any_field_rejects_only_that_line_and_names_the_field(engine, tmp_path):
    cases = [(field, value) for field, values in WRONG_TYPES.items() for value in values]
    lines = [dump(article(i, **{field: value})) for i, (field, value) in enumerate(cases)]
    lines.append(dump(article("ok")))
    path = tmp_path / "types.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Session(engine) as session:
        report = ingest_files(session, [path])
    assert report.stored == 1
    assert [r.line for r in report.rejected] == list(range(1, len(cases) + 1))
    for rejected, (field, value) in zip(report.rejected, cases):
        assert rejected.error.startswith(field), (value, rejected.error)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


@hsettings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(WRONG_TYPES) + ["scores.novelty", "scores.novelty.note"]), value=JSON_VALUES)
def test_validation_of_any_value_in_any_field_either_accepts_or_raises_a_named_input_error(field, value):
    record = article(1)
    if field.startswith("scores."):
        parts = field.split(".")[1:]
        target = record["scores"]
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    else:
        record[field] = value
    try:
        validate_article(record)
    except InputError as exc:
        assert exc.field.startswith(field), (exc.field, field)


@pytest.fixture(scope="module")
def property_engine(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('ingest-prop') / 'd.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


TITLE = st.text(alphabet=st.sampled_from(list("aZ é한\"\\/{}[],:") + list(SEPARATORS) + ["\r", "\n", "\t", "\x00"]),
                max_size=30).map(lambda t: "T" + t)
JUNK_TEXT = st.text(min_size=1, max_size=40).filter(lambda t: "\n" not in t and "\r" not in t)
JUNK_BYTES = st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b)
# What a careless or hostile author writes most: brackets that open a JSON array, NaN, deep nesting.
JUNK_JSONISH = st.sampled_from([b"[", b"[1,", b"]", b"[{", b"{", b"}", b",", b'"', b"NaN", b"[" * 3000, b"[]", b"{}",
                                b"\xef\xbb\xbf[", b'{"url": "http://[::1"}', b"1e999", b"null"])
JUNK = st.one_of(JUNK_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), JUNK_BYTES, JUNK_JSONISH).filter(
    lambda b: b.removeprefix(b"\xef\xbb\xbf").strip(b" \t"))
# At least one valid record: a file of nothing but junk that opens with '[' reads as a broken JSON
# array, which names its first break rather than every junk line (test_json_array_... cover that).
LINES = st.lists(st.one_of(TITLE.map(lambda t: ("valid", t)), JUNK.map(lambda j: ("junk", j))), max_size=12).filter(
    lambda lines: any(kind == "valid" for kind, _ in lines))


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES, end=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_every_valid_record_among_any_junk_lines_is_stored_and_every_junk_line_is_reported(
        property_engine, tmp_path, lines, end):
    with property_engine.begin() as conn:
        for table in ("article_company", "article_segment", "article", "company_alias", "company", "segment"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    body, valid_urls, junk_lines = [], set(), set()
    for number, (kind, value) in enumerate(lines, start=1):
        if kind == "valid":
            record = article(number, title=value, summary=value)
            body.append(dump(record))
            valid_urls.add(record["url"])
        else:
            body.append(value)
            junk_lines.add(number)
    path = tmp_path / "prop.jsonl"
    path.write_bytes(end.join(body) + end)
    with Session(property_engine) as session:
        report = ingest_files(session, [path])
        stored = set(session.exec(select(Article.url)).all())
    assert stored == valid_urls
    assert {r.line for r in report.rejected} == junk_lines


@pytest.mark.parametrize("end", [b"\r\n", b"\r"], ids=["crlf", "cr-only"])
def test_a_json_array_with_crlf_or_cr_only_line_ends_names_the_line_an_editor_shows(engine, tmp_path, end):
    broken = pretty(article(2)).replace(b'"read_minutes": 2', b'"read_minutes": NaN')
    data, starts = _array_file([pretty(article(1)), broken, pretty(article(3))])
    path = tmp_path / "ends.json"
    path.write_bytes(data.replace(b"\n", end))
    with Session(engine) as session:
        report = ingest_files(session, [path])
    nan_line = starts[1] + broken.split(b"\n").index(b'  "read_minutes": NaN,')
    assert report.stored == 2 and [(r.line, r.error.split(" ")[1]) for r in report.rejected] == [(nan_line, "NaN")]


def test_an_empty_array_on_the_first_line_of_a_jsonl_file_is_reported_and_the_records_after_it_stored(engine, tmp_path):
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"[]\n" + dump(article(2)) + b"\n")
    with Session(engine) as session:
        report = ingest_files(session, [path])
        urls = set(session.exec(select(Article.url)).all())
    assert urls == {"https://amw.example/news/2"}
    assert [r.line for r in report.rejected] == [1] and "array" in report.rejected[0].error
