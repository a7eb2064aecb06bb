"""The email as its reader reads it: each test sends real digests through the due pass and reads the
built message (text and HTML part) or the web page its links open (issue 15)."""

from __future__ import annotations

import email
import json
import re
from datetime import datetime, timedelta, timezone
from email import policy
from html import unescape
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from digest.ingest import ingest_files, load_aliases
from digest.mailers.memory import MemoryMailer
from digest.models import Digest
from digest.pipeline import Pipeline
from subscribers.records import add_subscriber

UTC = timezone.utc
# Monday 2026-11-23, 08:00 in Berlin (07:00 UTC): the weekly and the daily readers' slot.
SLOT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
RUN = SLOT + timedelta(minutes=5)


def story(i: int, title: str, *, hours: float, companies=("OpenAI",), segments=("Foundation Models · Releases",),
          tags=("launch",), n=2, s=2, related=(), minutes=3) -> dict:
    return {
        "url": f"https://amw.example/news/r{i}", "title": title, "summary": f"What happened in story {i}.",
        "published_at": (SLOT - timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        "category": "Technology", "region": "US", "read_minutes": minutes,
        "companies": list(companies), "segments": list(segments), "tags": list(tags),
        "scores": {"novelty": {"score": n, "note": f"novelty note {i}"},
                   "significance": {"score": s, "note": f"significance note {i}"}},
        "related": [f"https://amw.example/news/r{j}" for j in related],
    }


ARTICLES = [
    story(1, "OpenAI ships a new reasoning model for enterprise customers", hours=5, n=3, s=3),
    story(2, "OpenAI expands its Stargate build-out in Texas", hours=60, s=1),
    story(3, "SK Telecom and AWS switch on the first 100MW of the Ulsan AI data center", hours=30,
          companies=("SK Telecom", "Amazon"), segments=("Compute · Data Centers",), tags=("SK Telecom", "AWS", "Ulsan")),
    story(4, "Frontier labs sign a joint statement on incident reporting", hours=40,
          companies=("Anthropic", "OpenAI", "Google DeepMind"), segments=("Policy · Regulation",),
          tags=("incident reporting", "Anthropic", "safety"), n=3, s=3),
    story(5, "Udio settles with three record labels over training data", hours=50,
          companies=("Udio",), segments=("Policy · Litigation",), tags=("music", "copyright"), s=3),
    # Old news: xAI and Data & IP exist, but nothing about them is in this week's window.
    story(6, "xAI files a lawsuit over training data", hours=24 * 20, companies=("xAI",), segments=("Data & IP",)),
]


def send(world, at=RUN):
    MemoryMailer.reset()
    counts = world.pipeline.send_due(MemoryMailer(), at)
    return counts, {m.recipient: parse(m.data) for m in MemoryMailer.outbox}


def parse(data: bytes) -> SimpleNamespace:
    msg = email.message_from_bytes(data, policy=policy.default)
    html = msg.get_body(("html",)).get_content()
    return SimpleNamespace(subject=str(msg["Subject"]), text=msg.get_body(("plain",)).get_content(), html=html,
                           plain_html=unescape(re.sub(r"<[^>]+>", " ", html)), msg=msg)


def card_of(html: str, title: str) -> str:
    """The HTML of the card whose title starts with `title`."""
    return next(chunk for chunk in html.split('class="cd"') if re.search(r'class="tl"[^>]*>' + re.escape(title), chunk))


def tags_of(card: str) -> list[str]:
    """The tags line of a card's HTML, as the reader sees it."""
    return unescape(re.search(r'class="tg"[^>]*>([^<]*)</div>', card).group(1)).split(" · ")


def preheader_of(html: str) -> str:
    return unescape(re.search(r'<div\s+style="display:none;[^"]*">([^<]*)</div>', html).group(1))


@pytest.fixture
def world(engine, settings, tmp_path):
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    with Session(engine) as session:
        report = ingest_files(session, [path])
        assert not report.rejected, report.rejected
        load_aliases(session, {"Amazon": ["AWS"]})
    people = {
        "wes": {"email": "wes@example.com", "name": "Wes", "companies": ["OpenAI", "xAI", "Amazon"],
                "segments": ["Data & IP"]},
        "dana": {"email": "dana@example.com", "name": "Dana", "companies": ["OpenAI"], "frequency": "daily"},
        "max": {"email": "max@example.com", "name": "Max", "companies": ["Anthropic", "OpenAI", "Google DeepMind"],
                "segments": ["Policy"]},
    }
    with Session(engine) as session:
        for person in people.values():
            add_subscriber(session, timezone="Europe/Berlin", **person)
        session.commit()
    MemoryMailer.reset()
    return SimpleNamespace(engine=engine, settings=settings, pipeline=Pipeline(engine, settings), tmp_path=tmp_path)


# -- 1. cadence words and the first issue's window --------------------------------------------------

def test_a_daily_issue_speaks_of_today_and_its_first_issue_covers_one_day(world):
    _, sent = send(world)
    daily, weekly = sent["dana@example.com"], sent["wes@example.com"]
    # Dana's first issue covers one day: the OpenAI story of 5 hours ago, not the one of 60 hours ago.
    assert "new reasoning model" in daily.text and "Stargate" not in daily.text
    assert "Monday, Nov 23, 2026" in daily.text and "Monday, Nov 23, 2026" in daily.plain_html
    assert "1 story today" in daily.text and "1 story today" in daily.plain_html
    assert "this week" not in daily.text + daily.plain_html and "2026-11-23" not in daily.text
    assert "Week 48, 2026" in weekly.text and "this week" in weekly.text and "today" not in weekly.text
    assert "Stargate" in weekly.text  # a weekly reader's first issue looks back the whole week


def test_a_daily_issue_after_a_day_without_one_does_not_call_two_days_today(world):
    send(world)  # Monday's first issue
    later = tuple(story(20 + i, f"OpenAI story number {i} of the week", hours=-30 - i) for i in range(2))
    path = world.tmp_path / "later.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in later), encoding="utf-8")
    with Session(world.engine) as session:
        ingest_files(session, [path])
    _, tuesday = send(world, RUN + timedelta(days=1))  # both stories came after Tuesday's slot
    assert "dana@example.com" not in tuesday
    _, wednesday = send(world, RUN + timedelta(days=2))
    daily = wednesday["dana@example.com"]
    assert "2 stories since your last digest" in daily.text and "2 stories since your last digest" in daily.plain_html
    intro = next(line for line in daily.text.splitlines() if "2 stories" in line)
    assert "today" not in intro and "today" not in preheader_of(daily.html)


def test_the_unsubscribe_and_confirm_pages_name_the_readers_cadence(world):
    from digest.web import create_app
    from tests.web_helpers import local_client

    client = local_client(create_app(world.settings, world.engine))
    _, sent = send(world)
    for address, word, other in (("dana@example.com", "daily", "weekly"), ("wes@example.com", "weekly", "daily")):
        link = re.search(r"Unsubscribe: (\S+)", sent[address].text).group(1)
        page = client.get(link.removeprefix(world.settings.base_url)).text
        assert f"the {word} digest" in page and other not in page
        done = client.post(link.removeprefix(world.settings.base_url), data={"List-Unsubscribe": "One-Click"}).text
        assert f"the {word} AMW Digest" in done
    sid = _subscriber_id(world, "dana@example.com")
    confirm = client.get(f"/confirm/{world.pipeline.signer.make('confirm', sid)}").text
    assert "daily AMW Digest" in confirm


def _subscriber_id(world, address: str) -> int:
    from tests.web_helpers import subscriber_id

    return subscriber_id(world.engine, address)


# -- 2. the intro names only what the issue holds ----------------------------------------------------

def test_the_intro_names_only_follows_with_a_story_in_this_issue(world):
    _, sent = send(world)
    wes = sent["wes@example.com"]
    intro = re.search(r"\d+ stor(?:y|ies) this week[^\n]*(?:\n[^\n]+)*", wes.text).group(0).replace("\n", " ")
    assert "OpenAI" in intro and "Amazon" in intro
    # Wes follows xAI and Data & IP too, but this issue has no story about either.
    assert "xAI" not in intro and "Data & IP" not in intro
    assert "xAI" not in re.search(r"<p[^>]*>([^<]*this week[^<]*)</p>", wes.html).group(1)


def test_an_intro_names_at_most_five_follows_then_counts_the_rest():
    from digest.render.view import _follows

    choices = [SimpleNamespace(matched=(f"Company {i}",)) for i in range(7)]
    # Joined as CLDR joins an English list (issue 16: lists follow the reader's locale).
    assert _follows(choices) == "Company 0, Company 1, Company 2, Company 3, Company 4, and 2 more of your follows"


# -- 3. reasons ---------------------------------------------------------------------------------------

def test_a_reason_names_the_alias_the_story_matched_through(world):
    _, sent = send(world)
    wes = sent["wes@example.com"]
    assert "You follow Amazon (AWS)" in wes.plain_html
    assert "Why you're seeing this: You follow Amazon (AWS)" in wes.text
    # The card leads with the company the reader follows, not with the story's first company.
    assert re.search(r'class="co"[^>]*>Amazon</a>', card_of(wes.html, "SK Telecom and AWS"))


def test_several_follows_make_one_reason_sentence(world):
    _, sent = send(world)
    mx = sent["max@example.com"]
    # Joined as CLDR joins an English list (issue 16: lists follow the reader's locale).
    assert "You follow Anthropic, OpenAI, Google DeepMind, and Policy" in mx.plain_html
    assert mx.plain_html.count("You follow") == len(re.findall(r'class="wy"', mx.html))
    assert "· You follow" not in mx.text and "· You follow" not in mx.plain_html


# -- 4. subject and preheader -------------------------------------------------------------------------

LONG_TITLES = [
    "Elon Musk admitted in court that xAI used distillation to extract knowledge from OpenAI models for training Grok",
    "바이트댄스, 2026년 AI 설비투자 예산을 25% 늘린 2000억 위안으로 상향 조정했다고 밝혀 업계 긴장 고조",
    "OpenAI launches $4B Deployment Company, acquires Tomoro to embed AI engineers in enterprises",
    "Short one",
]


@pytest.mark.parametrize("top", range(len(LONG_TITLES)))
def test_subject_and_preheader_fit_in_whole_words_and_name_the_scored_story(top):
    from digest.message import build_message
    from digest.render import Renderer
    from digest.render.filters import display_width
    from tests.render_helpers import TEMPLATES, choice, issue, links

    titles = LONG_TITLES[top:] + LONG_TITLES[:top]
    chosen = tuple(choice(i, title=t) for i, t in enumerate(titles))
    rendered = Renderer(TEMPLATES).render(issue(choices=chosen), links())
    data = build_message(rendered, sender="AMW <digest@amw.example>", recipient="ana@example.com",
                         recipient_name="Ana", message_id="<t@amw.example>", date=SLOT,
                         unsubscribe_url="https://amw.example/u", unsubscribe_mailto="mailto:u@amw.example",
                         list_id="<digest.amw.example>", dkim=None)
    sent = parse(data)
    subject, pre = sent.subject, preheader_of(sent.html)
    assert subject == rendered.subject and display_width(subject) <= 78 and subject.endswith(" + 3 more")
    head = subject.removesuffix(" + 3 more")
    if head != titles[0]:  # cut: whole words of the title, then an ellipsis
        assert head.endswith("…") and titles[0].startswith(head[:-1])
        assert titles[0][len(head) - 1] == " " or " " not in titles[0]
    assert display_width(pre) <= 100
    # The scores belong to a story the preheader names: "Title…: Novelty 3/3, Significance 1/3".
    named = re.match(r"(.+?): Novelty (\d)/3, Significance (\d)/3", pre)
    assert named and titles[0].startswith(named.group(1).removesuffix("…"))
    assert (int(named.group(2)), int(named.group(3))) == (chosen[0].article.novelty, chosen[0].article.significance)
    for word in re.split(r"[ ·]+", pre.replace("…", "")):
        assert word.strip(".:,") in " ".join(titles) + " Novelty Significance Also 1/3 2/3 3/3"


# -- 5. tags, segment names in the text part, the update badge ----------------------------------------

def test_tags_are_shown_as_written_without_the_cards_own_companies(world):
    _, sent = send(world)
    mx, wes = sent["max@example.com"], sent["wes@example.com"]
    card = card_of(mx.html, "Frontier labs sign")
    assert tags_of(card) == ["incident reporting", "safety"]  # "Anthropic" is the card's own company
    assert not re.search(r"#\s?(incident|safety)", unescape(re.sub(r"<[^>]+>", " ", card)))
    assert "Tags: incident reporting, safety" in mx.text and "#incident" not in mx.text
    # "AWS" is how the SK Telecom story names Amazon, a company of the card: not a tag either.
    assert tags_of(card_of(wes.html, "SK Telecom and AWS")) == ["Ulsan"]
    assert "Tags: Ulsan" in wes.text


def test_the_text_part_never_breaks_a_segment_name_across_lines():
    from digest.render import Renderer
    from tests.render_helpers import TEMPLATES, issue, links

    rendered = Renderer(TEMPLATES).render(issue(8), links())
    lines = rendered.text.splitlines()
    segment_lines = [i for i, line in enumerate(lines) if line.strip().startswith("Segments:")]
    assert segment_lines
    for i in segment_lines:
        block = [lines[i]]
        for ln in lines[i + 1:]:
            if not ln.strip() or ":" in ln:
                break
            block.append(ln)
        names = [n.strip() for n in " ".join(block).split("Segments:", 1)[1].split(",")]
        assert names == ["Foundation Models · Case Studies", "Foundation Models · Open Debates", "Data & IP"]
        assert len(block) > 1 and max(len(ln) for ln in block) <= 78  # wrapped, between names
        for name in names:
            assert any(name in ln for ln in block), name


def test_the_update_badge_links_to_the_story_it_updates(world):
    from tests.pipeline_helpers import load_articles

    send(world)
    follow_up = story(7, "OpenAI's new reasoning model reaches general availability", hours=-24 * 3,
                      related=(1,), n=2, s=3)
    load_articles(world.engine, world.tmp_path, [follow_up])
    _, sent = send(world, RUN + timedelta(days=7))
    wes = sent["wes@example.com"]
    card = card_of(wes.html, "OpenAI&#8217;s new reasoning model") if "&#8217;" in wes.html else \
        card_of(wes.html, "OpenAI's new reasoning model")
    badge = re.search(r'<a[^>]*class="up"[^>]*>Update</a>|<a[^>]*href="([^"]+)"[^>]*class="up"', card)
    assert badge and "https://amw.example/news/r1" in badge.group(0)
    assert "Update to: https://amw.example/news/r1" in wes.text


# -- 6. feedback links: follow what is not followed, mute what brought the story in -------------------

def feedback_links_of(html: str) -> list[tuple[str, str]]:
    """(label, url) of every feedback link in the HTML part."""
    return [(unescape(label), unescape(url)) for url, label in
            re.findall(r'<a[^>]*href="([^"]*/feedback/[^"]+)"[^>]*>([^<]+)</a>', html)]


def test_more_on_is_offered_only_for_what_the_reader_neither_follows_nor_muted(world):
    _, sent = send(world)
    follows = {"wes@example.com": {"OpenAI", "xAI", "Amazon", "Data & IP"},
               "max@example.com": {"Anthropic", "OpenAI", "Google DeepMind", "Policy"}, "dana@example.com": {"OpenAI"}}
    offered = 0
    for address, mail in sent.items():
        for label, _ in feedback_links_of(mail.html):
            if label.startswith("More on "):
                offered += 1
                assert label.removeprefix("More on ") not in follows[address], (address, label)
    assert offered  # "More on SK Telecom" under the AWS story, say
    assert "More on SK Telecom" in [label for label, _ in feedback_links_of(sent["wes@example.com"].html)]


def test_less_of_this_mutes_what_brought_the_story_in_and_selection_honours_it(world):
    from digest.web import create_app
    from tests.web_helpers import local_client

    client = local_client(create_app(world.settings, world.engine))
    _, sent = send(world)
    # Wes gets the Frontier labs story through OpenAI, its second company: "Less of this" mutes its
    # primary company, Anthropic, and leaves the follow of OpenAI alone.
    card = card_of(sent["wes@example.com"].html, "Frontier labs sign")
    less = next(url for label, url in feedback_links_of(card) if label == "Less of this")
    path = less.removeprefix(world.settings.base_url)
    page = client.get(path).text
    assert "Mute the company Anthropic" in unescape(page) and "Nothing else changes" in page
    done = client.post(path, data={"token": path.rsplit("/", 1)[1]})
    assert done.status_code == 200 and "no longer include stories about Anthropic" in unescape(done.text)
    assert "/preferences/" in done.text and "undo" in done.text
    with Session(world.engine) as session:
        from digest.models import Subscriber

        wes = session.exec(select(Subscriber).where(Subscriber.email_key == "wes@example.com")).one()
        assert wes.muted == [{"kind": "company", "name": "Anthropic"}]
    from subscribers.follows import follow_names

    with Session(world.engine) as session:
        companies, _ = follow_names(session, [wes.id])[wes.id]
    assert "OpenAI" in companies
    # The next issue leaves Anthropic's story out; the OpenAI stories still come.
    titles = [c.article.title for c in world.pipeline.preview("wes@example.com", RUN).issue.choices]
    assert "Frontier labs sign a joint statement on incident reporting" not in titles
    assert any("OpenAI" in t for t in titles)
    # The preferences page lists the mute with a way to remove it.
    prefs_path = re.search(r'href="(/preferences/[^"]+)"', done.text).group(1)
    prefs = client.get(prefs_path).text
    assert re.search(r'id="muted".*Anthropic.*Unmute', prefs, re.S)
    token = prefs_path.rsplit("/", 1)[1]
    undone = client.post(prefs_path, data={"token": token, "unmute": "company:Anthropic"})
    assert "Unmuted Anthropic" in undone.text and "Nothing muted" in undone.text
    titles = [c.article.title for c in world.pipeline.preview("wes@example.com", RUN).issue.choices]
    assert "Frontier labs sign a joint statement on incident reporting" in titles


def test_less_of_a_story_that_came_in_through_a_segment_mutes_its_company(world):
    _, sent = send(world)
    card = card_of(sent["max@example.com"].html, "Udio settles")
    links = dict(feedback_links_of(card))
    token = links["Less of this"].rsplit("/", 1)[1]
    assert world.pipeline.signer.read("feedback", token)[1] == {"k": "company", "n": "Udio", "d": "mute"}
    assert "More on Udio" in links  # Max follows Policy, not Udio


# -- 7. "N more stories on the web" leads to exactly those stories --------------------------------------

def test_more_stories_link_opens_the_overflow_the_ledger_recorded_and_only_shown_ones_are_received(world):
    from digest import queries
    from digest.models import DigestItem, Subscriber
    from digest.web import create_app
    from tests.web_helpers import local_client

    with Session(world.engine) as session:
        mx = session.exec(select(Subscriber).where(Subscriber.email_key == "max@example.com")).one()
        mx.max_articles = 2
        session.add(mx)
        session.commit()
        max_id = mx.id
    _, sent = send(world)
    mail = sent["max@example.com"]
    shown_titles = re.findall(r'class="tl"[^>]*>([^<]+)</a>', mail.html)
    assert len(shown_titles) == 2
    # Max follows Anthropic, OpenAI, Google DeepMind and Policy: four stories qualify, two fit.
    assert "2 more stories on the web" in mail.text and "2 more stories on the web" in mail.plain_html
    link = re.search(r"2 more stories on the web\s+(\S+)", mail.text).group(1)
    assert link.endswith("#more") and f'href="{link}"' in mail.html
    with Session(world.engine) as session:
        items = session.exec(select(DigestItem.article_id, DigestItem.kind)
                             .where(DigestItem.subscriber_id == max_id)).all()
        from digest.models import Article

        titles = dict(session.exec(select(Article.id, Article.title)).all())
        received = queries.load_history(session, [max_id])[max_id][0]
    overflow = {titles[a] for a, kind in items if kind == "overflow"}
    shown = {titles[a] for a, kind in items if kind == "shown"}
    assert shown == {unescape(t) for t in shown_titles} and len(overflow) == 2 and not shown & overflow
    assert {titles[a] for a in received} == shown  # the overflow was not received
    client = local_client(create_app(world.settings, world.engine))
    page = client.get(link.removeprefix(world.settings.base_url).split("#")[0])
    assert page.status_code == 200
    more = page.text[page.text.index('id="more"'):]
    assert {unescape(t) for t in re.findall(r'class="tl"[^>]*>([^<]+)</a>', more)} == overflow
    before = page.text[:page.text.index('id="more"')]
    assert {unescape(t) for t in re.findall(r'class="tl"[^>]*>([^<]+)</a>', before)} == shown
    # Next week, the stories Max never saw in an email are still new to him.
    again = world.pipeline.preview("max@example.com", RUN + timedelta(days=7))
    assert not {c.article.title for c in again.issue.choices} & shown


def test_the_text_part_never_breaks_a_followed_name_in_the_reason_line():
    from dataclasses import replace

    from digest.render import Renderer
    from tests.render_helpers import TEMPLATES, choice, issue, links

    renderer = Renderer(TEMPLATES)
    names = ("Google DeepMind", "Foundation Models · Safety", "Mistral AI")
    for k in range(1, 30):  # every position a line break can fall at
        first = "Lab" + "x" * k
        reason = f"You follow {first}, Google DeepMind, Mistral AI and Foundation Models · Safety"
        chosen = (replace(choice(0), reasons=(reason,), matched=(first, *names)),)
        text = renderer.render(issue(choices=chosen), links()).text
        block = text[text.index("Why you're seeing this:"):].split("\n\n")[0]
        lines = [ln.strip() for ln in block.splitlines()]
        assert all(len(ln) <= 78 for ln in block.splitlines())
        for name in names:
            assert any(name in ln for ln in lines), (k, block)


def test_the_text_part_never_breaks_a_name_from_the_alias_it_matched_by():
    from dataclasses import replace

    from digest.render import Renderer
    from tests.render_helpers import TEMPLATES, choice, issue, links

    renderer = Renderer(TEMPLATES)
    for k in range(1, 40):  # every position a line break can fall at
        first = "Lab" + "x" * k
        reason = f"You follow {first}, Amazon (AWS), Google DeepMind (Deep Mind Labs) and Compute"
        chosen = (replace(choice(0), reasons=(reason,), matched=(first, "Amazon", "Google DeepMind", "Compute")),)
        text = renderer.render(issue(choices=chosen), links()).text
        block = text[text.index("Why you're seeing this:"):].split("\n\n")[0]
        lines = [ln.strip() for ln in block.splitlines()]
        assert all(len(ln) <= 78 for ln in block.splitlines())
        assert any("Amazon (AWS)" in ln for ln in lines), (k, block)
        assert any("Google DeepMind (Deep Mind Labs)" in ln for ln in lines), (k, block)
