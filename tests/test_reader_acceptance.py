"""Issue 15's acceptance, on data made up here: a weekly and a daily reader over consecutive
periods, with an alias (AWS for Amazon), segment follows and a company muted from a card. Every
issue is read as its reader reads it (both parts, and the pages its links open): the sentences
that count stories or name a cadence are true, every name in the intro has a story, "N more
stories" opens exactly those N, feedback changes what its page said and the next issues honour it,
and no card offers "More on X" for an X the reader already follows."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from sqlmodel import Session, select

from digest.ingest import ingest_files, load_aliases
from digest.mailers.memory import MemoryMailer
from digest.models import Article, Digest, DigestItem
from digest.pipeline import Pipeline
from subscribers.records import add_subscriber
from tests.test_reader_email import feedback_links_of, parse, preheader_of
from tests.web_helpers import local_client, subscriber_id

UTC = timezone.utc
START = datetime(2026, 11, 2, tzinfo=UTC)
COMPANIES = ("Amazon", "Meta", "Nvidia", "OpenAI", "Mistral AI", "Cohere")
SEGMENTS = ("Policy · Regulation", "Compute · Chips", "Foundation Models · Releases", "Enterprise · Deals")
WEEKLY, DAILY = "wanda@example.com", "dev@example.com"


def articles() -> list[dict]:
    """Three weeks of stories, three a day, every company in every segment over the weeks."""
    out = []
    for day in range(21):
        for k, shift in enumerate((0, 2, 4)):
            company, segment = COMPANIES[(day + shift) % 6], SEGMENTS[(day + shift + k) % 4]
            said = "AWS" if company == "Amazon" else company  # Amazon's stories call it AWS
            out.append({
                "url": f"https://news.example/a/{day}-{k}", "title": f"{said} item {day}-{k} in {segment.split(' · ')[1]}",
                "summary": f"What {said} did on day {day}.", "category": "Technology", "region": "US",
                "published_at": (START + timedelta(days=day, hours=3 + 6 * k)).isoformat().replace("+00:00", "Z"),
                "read_minutes": 2, "companies": [company], "segments": [segment], "tags": ["acceptance"],
                "scores": {"novelty": {"score": 1 + (day + k) % 3, "note": "n"},
                           "significance": {"score": 1 + (day * 2 + k) % 3, "note": "s"}},
            })
    return out


@pytest.fixture
def town(engine, settings, tmp_path):
    path = tmp_path / "articles.jsonl"
    data = articles()
    path.write_text("\n".join(json.dumps(a) for a in data), encoding="utf-8")
    with Session(engine) as session:
        load_aliases(session, {"Amazon": ["AWS"]})
        assert not ingest_files(session, [path]).rejected
        add_subscriber(session, email=WEEKLY, name="Wanda", companies=["Amazon", "OpenAI"], segments=["Policy"],
                       timezone="Europe/Berlin", send_day="mon", send_hour=8, max_articles=3)
        add_subscriber(session, email=DAILY, name="Dev", companies=["Cohere"], segments=["Compute · Chips"],
                       timezone="Europe/Berlin", send_hour=8, frequency="daily", max_articles=1)
        session.commit()
    from digest.web import create_app

    return type("Town", (), dict(engine=engine, settings=settings, pipeline=Pipeline(engine, settings),
                                 client=local_client(create_app(settings, engine)),
                                 companies={a["title"]: a["companies"] for a in data}))


def titles_in(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'class="tl"[^>]*>([^<]+)</a>', html)]


def intro_of(text: str) -> str:
    return " ".join(text.replace("\r\n", "\n").split("\n\n")[1].split("\n")[1:])


def check_issue(town, mail, address: str, follows: set[str], daily: bool) -> list[str]:
    """Every check that needs only the issue and the pages its links open; returns its titles."""
    text = " ".join(mail.text.split())
    shown = titles_in(mail.html)
    intro = intro_of(mail.text)
    said = re.match(r"(\d+) stor(?:y|ies) (today|this week|since your last digest)", intro)
    count = int(said.group(1))
    assert count == len(shown) == len(re.findall(r"(?m)^\d+\. ", mail.text)), intro
    # A daily issue covering more than one day (none went out the day before) does not say "today".
    one_day = "–" not in mail.text.replace("\r\n", "\n").split("\n")[1]
    now, other = (("today" if one_day else "since your last digest"), "this week") if daily else ("this week", "today")
    assert said.group(2) == now and other not in mail.text + mail.plain_html
    # Every name in the intro has a story in this issue (one whose reason names it).
    names = re.search(r" on (.+), ranked by", intro).group(1)
    reasons = re.findall(r"Why you're seeing this: (You follow .+?)(?= How this| More on| Less of|-{10}| Tune|$)", text)
    for name in re.split(r",? and |, ", names):  # CLDR's English list: "A, B, and C" (issue 16)
        assert any(name in r for r in reasons), (name, reasons)
    # "N more stories on the web" opens exactly those N, as the ledger recorded them.
    more = re.search(r"(\d+) more stor(?:y|ies) on the web (\S+)", text)
    with Session(town.engine) as session:
        row = session.exec(select(Digest).where(Digest.subscriber_id == subscriber_id(town.engine, address))
                           .order_by(Digest.id.desc())).first()
        overflow = {t for t in session.exec(select(Article.title).join(DigestItem, DigestItem.article_id == Article.id)
                                                .where(DigestItem.digest_id == row.id, DigestItem.kind == "overflow"))}
    if more is None:
        assert not overflow
    else:
        page = town.client.get(more.group(2).removeprefix(town.settings.base_url).split("#")[0]).text
        on_page = titles_in(page[page.index('id="more"'):])
        assert len(on_page) == int(more.group(1)) and set(on_page) == overflow and not overflow & set(shown)
    # No "More on X" for an X followed, itself or through its parent segment.
    for label, _ in feedback_links_of(mail.html):
        if label.startswith("More on "):
            name = label.removeprefix("More on ")
            assert name not in follows and name.split(" · ")[0] not in follows, (label, follows)
    assert len(mail.subject) <= 78 and len(preheader_of(mail.html)) <= 100
    return shown, (page if more else "")


def apply_link(town, url: str, promise: str) -> str:
    path = url.removeprefix(town.settings.base_url)
    assert promise in unescape(town.client.get(path).text)
    done = town.client.post(path, data={"token": path.rsplit("/", 1)[1]}).text
    assert ">Done<" in done
    return unescape(done)


def test_readers_over_consecutive_periods_read_only_true_sentences_and_feedback_keeps_its_word(town):
    follows = {WEEKLY: {"Amazon", "OpenAI", "Policy"}, DAILY: {"Cohere", "Compute · Chips"}}
    muted_from = followed_from = None
    issues = {WEEKLY: 0, DAILY: 0}
    aws = nvidia_reason = False
    overflow_pages = 0
    for day in range(15):
        at = datetime(2026, 11, 9, 7, 5, tzinfo=UTC) + timedelta(days=day)
        MemoryMailer.reset()
        town.pipeline.send_due(MemoryMailer(), at)
        sent = {m.recipient: parse(m.data) for m in MemoryMailer.outbox}
        for address, mail in sent.items():
            issues[address] += 1
            shown, more_page = check_issue(town, mail, address, follows[address], address == DAILY)
            overflow_pages += bool(more_page)
            aws = aws or ("You follow Amazon (AWS)" in " ".join(mail.text.split())
                          and "You follow Amazon (AWS)" in mail.plain_html)
            if address == WEEKLY and muted_from is not None:
                assert not any("Mistral AI" in town.companies[t] for t in shown), shown
                assert "Mistral AI" not in more_page
            if address == DAILY and followed_from is not None:
                nvidia_reason = nvidia_reason or "You follow Nvidia" in unescape(mail.html + more_page)
            links = dict(feedback_links_of(mail.html))
            if address == WEEKLY and muted_from is None and any(t.startswith("Mistral AI ") for t in shown):
                # A Mistral AI story came in through Policy: "Less of this" mutes Mistral AI.
                i = next(i for i, t in enumerate(shown) if t.startswith("Mistral AI "))
                less = next(u for label, u in feedback_links_of(mail.html.split('class="cd"')[1 + i])
                            if label == "Less of this")
                done = apply_link(town, less, "Mute the company Mistral AI")
                assert "no longer include stories about Mistral AI" in done
                muted_from = day
            if address == DAILY and followed_from is None and "More on Nvidia" in links:
                done = apply_link(town, links["More on Nvidia"], "Follow the company Nvidia")
                assert "You now follow Nvidia" in done
                follows[DAILY].add("Nvidia")
                followed_from = day
    assert issues[WEEKLY] == 3 and issues[DAILY] >= 10 and overflow_pages >= 5
    assert aws and muted_from is not None and followed_from is not None
    assert nvidia_reason  # after the follow, Nvidia's stories come with Nvidia as the reason
