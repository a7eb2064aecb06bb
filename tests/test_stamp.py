"""Shared renders (digest/stamp.py): one selection and one render per group of readers, each
reader's own parts stamped in, byte for byte the reader's own render (both parts, whole message)."""

from __future__ import annotations

import dataclasses
import email
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from sqlmodel import Session

from digest import queries
from digest.config import Settings
from digest.db import make_engine, upgrade
from digest.ingest import ingest_files
from digest.mailers.memory import MemoryMailer
from digest.pipeline import Pipeline
from digest.schedule import Slot
from digest.stamp import GROUP_FIELDS, PERSONAL_FIELDS, SCHEDULE_FIELDS, group_key
from digest.types import Reader
from tests.pipeline_helpers import add_people

ROOT = Path(__file__).resolve().parent.parent
SLOT = Slot("2026-W48", datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc))
NO_HISTORY = (frozenset(), frozenset(), None)
FOLLOWS = [frozenset({"OpenAI"}), frozenset({"Nvidia", "Anthropic"}), frozenset({"Baidu", "百度", "Samsung"}),
           frozenset({"Microsoft", "Google DeepMind", "xAI", "Meta"})]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stamp")
    url = f"sqlite:///{folder / 'digest.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        assert not ingest_files(session, [ROOT / "seeds" / "articles.jsonl"]).rejected
        session.commit()
    pipe = Pipeline(engine, Settings(database_url=url, secret_key="stamp-test", mailer="memory",
                                     outbox=str(folder / "outbox")))
    with Session(engine) as session:
        yield pipe, session
    engine.dispose()


def _both(pipe, session, reader, history=NO_HISTORY):
    own = pipe.build(session, reader, SLOT, history, message_id="<m.1@amw.example>", now=SLOT.scheduled_for)
    shared = pipe.build_shared(session, reader, SLOT, history, message_id="<m.1@amw.example>", now=SLOT.scheduled_for)
    return own, shared


def test_every_reader_field_is_either_shared_by_a_group_or_personal():
    """A new Reader field (a language, say) fails here until it is placed: in GROUP_FIELDS when the
    selection or the render reads it, else in PERSONAL_FIELDS."""
    names = [f.name for f in dataclasses.fields(Reader)]
    placed = GROUP_FIELDS + PERSONAL_FIELDS + SCHEDULE_FIELDS
    assert sorted(names) == sorted(placed) and len(set(placed)) == len(placed)


def test_the_key_differs_for_every_shared_input_and_not_for_personal_ones():
    reader = Reader(id=1, email="a@example.com", name="Ana", companies=FOLLOWS[0])
    key = group_key(reader, SLOT, NO_HISTORY, template_key="t")
    for other in (dataclasses.replace(reader, companies=FOLLOWS[1]), dataclasses.replace(reader, max_articles=3),
                  dataclasses.replace(reader, timezone="Asia/Seoul"), dataclasses.replace(reader, name="")):
        assert group_key(other, SLOT, NO_HISTORY, template_key="t") != key
    assert group_key(reader, SLOT, (frozenset({5}), frozenset(), None), template_key="t") != key
    assert group_key(reader, Slot("2026-W47", SLOT.scheduled_for), NO_HISTORY, template_key="t") != key
    same = dataclasses.replace(reader, id=99, email="b@example.com", name="Bo Li", smtputf8=True)
    assert group_key(same, SLOT, NO_HISTORY, template_key="t") == key


names = st.one_of(
    st.sampled_from(["Ana", "", "Ana María", "O'Brien & <Sons>", '"Quoted" Name', "李 小龙", "민준", "Zoë\u00a0Ann",
                     "A" * 45, "名" * 35, "Ümit", "  spaced   out  ", "x&amp;y", "zq0000qz"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=50))
locals_ = st.text(st.sampled_from("abcxyz019.+-_&'=~"), min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reader_id=st.integers(1, 10**9), name=names, local=locals_, follows=st.sampled_from(FOLLOWS),
       tz=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Seoul"]),
       frequency=st.sampled_from(["weekly", "daily"]), max_articles=st.integers(1, 8),
       received=st.sampled_from([frozenset(), frozenset({1, 2, 3}), frozenset(range(1, 60, 2))]),
       lang=st.sampled_from(["", "ko", "ja"]))
def test_a_stamped_copy_is_byte_for_byte_the_readers_own_render(world, reader_id, name, local, follows, tz,
                                                                frequency, max_articles, received, lang):
    pipe, session = world
    reader = Reader(id=reader_id, email=f"{local}@example.com", name=name, timezone=tz, frequency=frequency,
                    max_articles=max_articles, companies=follows, language=lang)
    own, shared = _both(pipe, session, reader, (received, frozenset(), None))
    assert shared.message == own.message
    if own.rendered is not None:
        assert (shared.rendered.html, shared.rendered.text, shared.rendered.subject) == (
            own.rendered.html, own.rendered.text, own.rendered.subject)
        parts = email.message_from_bytes(shared.message, policy=policy.default)
        text, html = [p.get_content() for p in parts.iter_parts()]
        assert "zq" + pipe.groups.get(group_key(reader, SLOT, (received, frozenset(), None),
                                                template_key=pipe.renderer.template_key, editorial=pipe.editorial.version)).sentinel.nonce not in text + html


def test_ordinary_readers_are_stamped_not_rendered_again_and_others_fall_back(world):
    pipe, session = world
    first = Reader(id=7, email="first@example.com", name="Ana Lima", companies=FOLLOWS[1])
    _both(pipe, session, first)
    group = pipe.groups.get(group_key(first, SLOT, NO_HISTORY, template_key=pipe.renderer.template_key, editorial=pipe.editorial.version))
    assert group is not None and group.shared
    for i, name in enumerate(["Bo", "<b>Bo</b>&co", "李 小龙", "Zoë"]):
        reader = dataclasses.replace(first, id=1000 + i, email=f"r{i}@example.com", name=name)
        stamped = group.stamp(reader, pipe.links(reader, SLOT.period, tuple(c.article for c in group.issue.choices)))
        assert stamped is not None, name  # shared, not rendered again
        own, shared = _both(pipe, session, reader)
        assert shared.message == own.message and shared.rendered.html == stamped.html
        if "<" in name:  # escaped in the HTML part, as it is in the reader's own render
            assert "Hi &lt;b&gt;Bo&lt;/b&gt;&amp;co," in stamped.html and "Hi <b>Bo</b>&co," in stamped.text
    # A first name the text part could wrap at 78 columns: the reader's own render.
    for name in ("名" * 35, "A" * 31):
        reader = dataclasses.replace(first, id=2000, email="long@example.com", name=name)
        assert group.stamp(reader, pipe.links(reader, SLOT.period, tuple(c.article for c in group.issue.choices))) is None
        own, shared = _both(pipe, session, reader)
        assert shared.message == own.message


def test_a_send_selects_and_renders_once_per_group(tmp_path, sqlite_url):
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        assert not ingest_files(session, [ROOT / "seeds" / "articles.jsonl"]).rejected
        session.commit()
    people = [{"email": f"p{i}@example.com", "name": f"Person{i} X", "companies": sorted(FOLLOWS[i % 2]),
               "timezone": "UTC", "send_day": "mon", "send_hour": 7} for i in range(40)]
    add_people(engine, people)
    settings = Settings(database_url=sqlite_url, secret_key="stamp-test", mailer="memory", outbox=str(tmp_path / "o"))
    pipe = Pipeline(engine, settings)
    MemoryMailer.reset()
    counts = pipe.send_due(MemoryMailer(), SLOT.scheduled_for)
    sent = {m.recipient: m.data for m in MemoryMailer.outbox}
    MemoryMailer.reset()
    assert counts.sent == 40 and pipe.groups.misses == 2 and pipe.groups.hits == 38
    # Each message is the one that reader's own render gives.
    alone = Pipeline(engine, settings)
    alone.shared_renders = False
    with Session(engine) as session:
        readers = queries.load_readers(session, queries.sendable_subscribers(session, SLOT.scheduled_for.date()))
        assert len(readers) == 40
        for reader in readers.values():
            data = sent[reader.email]
            message_id = email.message_from_bytes(data, policy=policy.default)["Message-ID"]
            own = alone.build(session, reader, alone.slot_for(reader, SLOT.scheduled_for), NO_HISTORY,
                              message_id=message_id, now=SLOT.scheduled_for)
            assert own.message == data
    engine.dispose()


# -- the parts stamped as the message carries them (Lines) -------------------------------------

_CHARS = st.sampled_from([" ", "  ", "\t", ".", "=", "=3D", "é", "한", "x", "word ", "<a>", "&amp;", "-", "y" * 80])


@hsettings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(st.lists(_CHARS, max_size=30), st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)),
                                                                        max_size=3)), min_size=1, max_size=10),
       values=st.lists(st.lists(_CHARS, max_size=12).map("".join), min_size=4, max_size=4),
       kind=st.sampled_from(["text", "html"]))
# binascii.b2a_qp breaks a long line that ends in whitespace differently at the end of its input.
@example(lines=[(["x" * 74, "\t"], []), ([" ", "y"], [(1, 0)])], values=["a", "", "", ""], kind="text")
def test_a_part_filled_run_by_run_is_the_encoding_of_the_whole_part(lines, values, kind):
    """Lines.fill (the runs without sentinels encoded once) gives the bytes and the DKIM canonical
    lines of the whole filled part encoded at once, whatever the lines hold around the sentinels."""
    from digest.dkim import canonical_lines
    from digest.message import _body, _html_body
    from digest.stamp import Lines, Sentinels

    sentinel = Sentinels()
    source_lines = []
    for pieces, slots in lines:
        text = "".join(pieces)
        for position, number in sorted(slots, reverse=True):
            position = min(position, len(text))
            text = text[:position] + sentinel(number) + text[position:]
        source_lines.append(text)
    source = "\n".join(source_lines) + ("\n" if kind == "text" else "")  # a text part ends with a line break
    whole = sentinel.pattern.sub(lambda m: values[int(m.group(1))], source)
    expected = _body(whole) if kind == "text" else _html_body(whole)
    filled = Lines(source, sentinel, kind).fill(values)
    assert filled is not None
    text, size, data, canonical = filled
    assert text == whole and size == len(whole.encode("utf-8"))
    assert data == expected
    # In the message every part is followed by a line break (the next delimiter).
    assert canonical + b"\r\n" == canonical_lines(expected + b"\r\n")


def test_a_stamped_copy_carries_its_encoded_parts_and_signs_the_body_it_carries(world, tmp_path):
    """With DKIM on, a stamped copy's body hash, made from parts canonicalized once for the group,
    is the hash of the body it carries: dkimpy verifies it, and the body is the reader's own."""
    import base64
    import hashlib
    import re
    import subprocess

    import dkim as dkimpy

    from digest.dkim import canonical_body

    pipe, session = world
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    signed = Pipeline(pipe.engine, dataclasses.replace(pipe.settings, dkim_selector="s1", dkim_domain="amw.example",
                                                       dkim_private_key=str(key)))
    first = Reader(id=11, email="first@example.com", name="Ana Lima", companies=FOLLOWS[2], language="ko")
    signed.build_shared(session, first, SLOT, NO_HISTORY, message_id="<m.0@amw.example>", now=SLOT.scheduled_for)
    for i, name in enumerate(["Bo", "Zoë  Ann", "민준", "<b>Bo</b>&co"]):
        reader = dataclasses.replace(first, id=100 + i, email=f"r{i}@example.com", name=name)
        shared = signed.build_shared(session, reader, SLOT, NO_HISTORY, message_id=f"<m.{i}@amw.example>",
                                     now=SLOT.scheduled_for)
        own = signed.build(session, reader, SLOT, NO_HISTORY, message_id=f"<m.{i}@amw.example>", now=SLOT.scheduled_for)
        assert shared.rendered.encoded is not None, name  # built from the group's encoded runs
        body = shared.message.split(b"\r\n\r\n", 1)[1]
        assert body == own.message.split(b"\r\n\r\n", 1)[1]
        bh = re.search(rb"bh=([^;]+);", shared.message.replace(b"\r\n ", b"")).group(1)
        assert bh == base64.b64encode(hashlib.sha256(canonical_body(body)).digest())
        assert dkimpy.verify(shared.message, dnsfunc=lambda name, timeout=5: record)
