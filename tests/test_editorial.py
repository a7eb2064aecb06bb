"""Editorial controls through the command line: a note and a pin reach the readers they target and
nobody else, a pulled story is in no later issue and marked on the web version of one that had it,
a pin stays within the reader's maximum and budget; each control records who made it and when."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.cli import main
from digest.mailers.memory import MemoryMailer
from digest.models import Subscriber
from digest.pipeline import Pipeline
from digest.render.note import note_html, note_text
from digest.selection.editorial import EDITORS_PICK, PULLED_MARK
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article
from tests.test_render_browser import ARTIFACTS

FROM, UNTIL = "2026-11-22T00:00:00Z", "2026-12-31T00:00:00Z"
WHEN = SLOT + timedelta(minutes=5)


def story(i: int) -> str:
    return f"https://amw.example/news/story-{i}"


@pytest.fixture
def world(engine, settings, tmp_path):
    articles = [make_article(i, company=c, segment=seg, n=1 + i % 3, s=1 + (i // 3) % 3)
                for i, (c, seg) in enumerate([("xAI", "Foundation Models · Releases"), ("OpenAI", "Data & IP"),
                                              ("Nvidia", "Compute · Chips")] * 4)]
    load_articles(engine, tmp_path, articles)
    add_people(engine, [
        {"email": "ana@example.com", "name": "Ana", "companies": ["xAI"]},
        {"email": "bo@example.com", "name": "Bo", "segments": ["Compute"]},
        {"email": "cy@example.com", "name": "Cy", "companies": ["OpenAI"], "max_articles": 2},
    ])
    MemoryMailer.reset()
    return Pipeline(engine, settings)


@pytest.fixture
def cli(settings):
    env = {"DIGEST_DATABASE_URL": settings.database_url, "DIGEST_SECRET_KEY": "k"}

    def run(*args, code=0):
        result = CliRunner().invoke(main, [*args, "--json"], env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if result.stdout.strip() else None
    return run


def urls(built) -> list[str]:
    return [c.article.url for c in built.issue.choices]


def test_a_note_and_a_pin_reach_the_readers_they_target_and_nobody_else(world, cli):
    note = cli("issue", "note", "**Big week** for [xAI](https://amw.example/xai)", "--company", "xai",
               "--from", FROM, "--until", UNTIL)
    assert note["company"] == "xAI" and note["by"].startswith("cli") and note["at"]
    cli("issue", "pin", story(0), "--segment", "Compute", "--from", FROM, "--until", UNTIL)
    ana, bo, cy = (world.preview(f"{n}@example.com", WHEN) for n in ("ana", "bo", "cy"))
    assert ana.issue.note and not bo.issue.note and not cy.issue.note
    assert "EDITOR'S NOTE\nBig week for xAI (https://amw.example/xai)" in ana.rendered.text
    assert '<b>Big week</b> for <a class="fk" href="https://amw.example/xai"' in ana.rendered.html
    assert "EDITOR'S NOTE" not in bo.rendered.text and "Editor's note" not in cy.rendered.html
    # the pin leads Bo's digest (Compute) as the editor's pick; Ana gets story 0 as her own choice
    assert urls(bo)[0] == story(0) and bo.issue.choices[0].reasons == (EDITORS_PICK,)
    assert "Editor's pick" in bo.rendered.text
    assert all(EDITORS_PICK not in c.reasons for c in ana.issue.choices + cy.issue.choices)
    assert story(0) not in urls(cy)
    # what was previewed is what is sent
    world.send_due(MemoryMailer(), WHEN)
    sent = {m.recipient: m.data.replace(b"=\r\n", b"").decode("utf-8", "replace") for m in MemoryMailer.outbox}
    assert "EDITOR'S NOTE" in sent["ana@example.com"]
    assert "EDITOR'S NOTE" not in sent["bo@example.com"] and "EDITOR'S NOTE" not in sent["cy@example.com"]


def test_a_pulled_story_is_in_no_later_issue_and_marked_on_the_web_version_that_had_it(world, engine, cli):
    cy_before = urls(world.preview("cy@example.com", WHEN))
    world.send_due(MemoryMailer(), WHEN)
    with Session(engine) as session:
        ana = session.exec(select(Subscriber).where(Subscriber.email == "ana@example.com")).one()
    first = world.web_version(ana.id, world.slot_for(ana, WHEN).period)
    ana_first = [c.article.url for c in world.preview("ana@example.com", WHEN).issue.choices]
    assert PULLED_MARK not in first and story(0) in ana_first
    cli("issue", "pull", story(0), "--from", FROM, "--until", UNTIL)
    cli("issue", "pull", cy_before[0], "--from", FROM, "--until", UNTIL)
    world.editorial.invalidate()
    assert story(0) not in urls(world.preview("ana@example.com", WHEN))
    assert cy_before[0] not in urls(world.preview("cy@example.com", WHEN))
    web = world.web_version(ana.id, world.slot_for(ana, WHEN).period)
    assert f"{PULLED_MARK}: Story 0:" in web
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "editorial-web-pulled.html").write_text(web, encoding="utf-8")
    listed = cli("issue", "list")["controls"]
    assert [(c["kind"], c["url"]) for c in listed] == [("pull", story(0)), ("pull", cy_before[0])]
    removed = cli("issue", "remove", str(listed[1]["id"]))
    assert removed["removed"] is True
    world.editorial.invalidate()
    assert urls(world.preview("cy@example.com", WHEN)) == cy_before


def test_a_pin_stays_within_the_readers_maximum_and_budget(world, engine, cli):
    before = urls(world.preview("cy@example.com", WHEN))
    assert len(before) == 2 and story(2) not in before
    cli("issue", "pin", story(2), "--from", FROM, "--until", UNTIL)
    world.editorial.invalidate()  # a long-lived pipeline checks the table at most once a second
    after = world.preview("cy@example.com", WHEN)
    assert urls(after) == [story(2), before[0]]
    assert before[1] in [c.article.url for c in after.issue.overflow]
    with Session(engine) as session:
        bo = session.exec(select(Subscriber).where(Subscriber.email == "bo@example.com")).one()
        bo.reading_budget = 2  # shorter than any story (3 minutes): the pin does not fit either
        session.add(bo)
        session.commit()
    assert story(2) not in urls(world.preview("bo@example.com", WHEN))


def test_controls_refuse_what_cannot_apply_with_the_usual_exit_codes(world, cli):
    assert "unknown company" in cli("issue", "note", "x", "--company", "Nobody", "--from", FROM, code=1)["error"]
    assert "no article" in cli("issue", "pin", "https://amw.example/none", "--from", FROM, code=2)["error"]
    assert "after --from" in cli("issue", "pull", story(0), "--from", UNTIL, "--until", FROM, code=1)["error"]
    assert "empty" in cli("issue", "note", "  ", code=1)["error"]
    assert cli("issue", "remove", "99", code=2)["error"].startswith("no editorial control 99")
    assert cli("issue", "list") == {"controls": []}


def test_the_note_markdown_subset_is_sanitized():
    text = "**Bold** _it_ [ok](https://amw.example/a_b?x=1&y=2) [bad](javascript:alert(1)) <script>x</script>"
    html = str(note_html(text))
    assert "<b>Bold</b> <i>it</i>" in html
    assert '<a class="fk" href="https://amw.example/a_b?x=1&amp;y=2" style="color:#1d4ed8">ok</a>' in html
    assert "javascript:" in html and 'href="javascript' not in html and "<script>" not in html
    assert "&lt;script&gt;" in html
    assert note_text(text) == "Bold it ok (https://amw.example/a_b?x=1&y=2) [bad](javascript:alert(1)) <script>x</script>"


def test_a_korean_reader_reads_the_editors_note_pick_and_withdrawal_in_korean(world, engine, cli):
    add_people(engine, [{"email": "ko@example.com", "name": "민준", "segments": ["Compute"], "language": "ko"}])
    cli("issue", "note", "**이번 주** 소식", "--from", FROM, "--until", UNTIL)
    cli("issue", "pin", story(2), "--segment", "Compute", "--from", FROM, "--until", UNTIL)
    built = world.preview("ko@example.com", WHEN)
    assert urls(built)[0] == story(2)
    for part in (built.rendered.text, built.rendered.html):
        assert "편집자 노트" in part and "편집자 추천" in part
        assert "Editor's" not in part and "EDITOR'S" not in part
    world.send_due(MemoryMailer(), WHEN)
    with Session(engine) as session:
        reader = session.exec(select(Subscriber).where(Subscriber.email == "ko@example.com")).one()
    cli("issue", "pull", story(2), "--from", FROM, "--until", UNTIL)
    world.editorial.invalidate()
    web = world.web_version(reader.id, world.slot_for(reader, WHEN).period)
    assert "편집부가 철회한 기사: Story 2:" in web and PULLED_MARK not in web
