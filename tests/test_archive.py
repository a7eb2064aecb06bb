"""The public archive: pages by week, company and segment in the digest's order, Atom feeds that
parse back with every required element, ETag/Last-Modified with 304s, and no reader data."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser
import pytest
from sqlmodel import Session, select

from digest.archive import week_bounds
from digest.models import Article, ArticleCompany, Company, Subscriber
from digest.selection.options import SelectionOptions, rating
from digest.queries import articles_data
from tests.signup_helpers import world
from tests.web_helpers import build_seeded, copy_seeded


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture(scope="module")
def web(seeded, tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    w = world(copy_seeded(seeded, folder), folder)
    yield w
    w.engine.dispose()


def titles_in(html: str) -> list[str]:
    return [re.sub(r"&#3?9;", "'", t).replace("&amp;", "&").replace("&quot;", '"')
            for t in re.findall(r'<h2><a href="[^"]*" rel="noopener">(.*?)</a></h2>', html)]


def test_the_archive_lists_weeks_and_a_week_lists_its_stories_by_the_amw_read(web):
    index = web.remote.get("/archive/")
    weeks = re.findall(r'href="/archive/(\d{4}-W\d{2})/"', index.text)
    assert index.status_code == 200 and weeks and weeks == sorted(weeks, reverse=True)
    page = web.remote.get(f"/archive/{weeks[0]}/")
    start, end = week_bounds(weeks[0])
    with Session(web.engine) as session:
        articles = articles_data(session, list(session.exec(
            select(Article).where(Article.published_at >= start, Article.published_at < end))))
    options = SelectionOptions()
    expected = [a.title for a in sorted(articles, key=lambda a: (-rating(a, options), -a.published_at.timestamp(), a.url))]
    assert page.status_code == 200 and titles_in(page.text) == expected
    assert web.remote.get("/archive/2026-W99/").status_code == 404
    assert web.remote.get("/archive/1990-W01/").status_code == 404  # a real week without stories


def test_a_company_page_shows_its_stories_with_scores_notes_connections_and_a_follow_button(web):
    page = web.remote.get("/companies/openai/")
    assert page.status_code == 200 and 'id="follow" href="/subscribe?company=openai"' in page.text
    assert "Novelty" in page.text and "Significance" in page.text and "AMW Read" in page.text
    assert "How this connects" in page.text
    with Session(web.engine) as session:
        company = session.exec(select(Company).where(Company.slug == "openai")).one()
        assert len(titles_in(page.text)) >= 2
        assert company.name in page.text
    form = web.remote.get("/subscribe?company=openai")
    assert 'name="companies" value="OpenAI" checked' in form.text  # Follow pre-fills the form
    assert web.remote.get("/companies/no-such-company/").status_code == 404


def test_a_segment_page_covers_the_segments_inside_it(web):
    page = web.remote.get("/segments/foundation-models/")
    assert page.status_code == 200 and titles_in(page.text)
    assert 'href="/subscribe?segment=foundation-models"' in page.text
    form = web.remote.get("/subscribe?segment=foundation-models")
    assert 'name="segments" value="Foundation Models" checked' in form.text


@pytest.mark.parametrize("path", ["/archive/", "/companies/openai/", "/segments/foundation-models/", "WEEK"])
def test_every_feed_is_valid_atom_with_the_required_elements(web, path):
    if path == "WEEK":
        path = "/archive/" + re.findall(r'href="/archive/(\d{4}-W\d{2})/"', web.remote.get("/archive/").text)[0] + "/"
    answer = web.remote.get(path + "feed.atom")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.title.startswith("AMW Digest") and feed.feed.id == "http://127.0.0.1:8000" + path
    assert feed.feed.updated_parsed and feed.feed.author == "AMW Digest"
    assert {link.rel for link in feed.feed.links} == {"self", "alternate"}
    assert feed.entries
    for entry in feed.entries:
        assert entry.id.startswith("http") and entry.title and entry.updated_parsed and entry.link == entry.id
    if path != "/archive/":  # the archive's own page lists weeks; its feed, the newest stories
        assert [e.title for e in feed.entries] == titles_in(web.remote.get(path).text)


def test_pages_and_feeds_answer_conditional_requests_with_304(web):
    for path in ("/archive/", "/companies/openai/", "/companies/openai/feed.atom"):
        first = web.remote.get(path)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = web.remote.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert web.remote.get(path, headers={"If-Modified-Since": modified}).status_code == 304
        assert web.remote.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert web.remote.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
        assert web.remote.get(path, headers={"If-Modified-Since": "garbage"}).status_code == 200


def test_a_changed_story_changes_the_etag_and_the_last_modified(seeded, tmp_path):
    w = world(copy_seeded(seeded, tmp_path), tmp_path)
    try:
        first = w.remote.get("/companies/openai/")
        with Session(w.engine) as session:
            company = session.exec(select(Company).where(Company.slug == "openai")).one()
            article = session.exec(select(Article).join(ArticleCompany, ArticleCompany.article_id == Article.id)
                                   .where(ArticleCompany.company_id == company.id)
                                   .order_by(Article.published_at.desc())).first()
            article.updated_at = article.updated_at + timedelta(days=400)
            session.add(article)
            session.commit()
        again = w.remote.get("/companies/openai/", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]
        assert again.headers["last-modified"] != first.headers["last-modified"]
    finally:
        w.engine.dispose()


def test_no_public_page_shows_reader_data(web):
    with Session(web.engine) as session:
        readers = session.exec(select(Subscriber)).all()
    pages = [web.remote.get(p).text for p in ("/archive/", "/companies/openai/", "/segments/foundation-models/",
                                               "/archive/feed.atom", "/subscribe", "/manage")]
    for reader in readers:
        for text in pages:
            assert reader.email not in text and reader.email.split("@")[0] + "@" not in text


def test_public_pages_can_be_turned_off(seeded, tmp_path):
    w = world(copy_seeded(seeded, tmp_path), tmp_path, public_pages=False)
    try:
        assert w.remote.get("/archive/").status_code == 404
        assert w.remote.get("/companies/openai/feed.atom").status_code == 404
    finally:
        w.engine.dispose()


def test_the_digest_links_companies_to_these_pages_only_when_asked(tmp_path):
    from digest.config import Settings, company_link

    assert company_link(Settings()) == "https://amw.example/companies/{slug}"
    on = Settings(company_pages=True, base_url="https://digest.amw.example/")
    assert company_link(on) == "https://digest.amw.example/companies/{slug}/"
    assert company_link(on.replace(public_pages=False)) == "https://amw.example/companies/{slug}"


def test_a_public_page_speaks_the_browsers_language_with_its_own_etag(web):
    english = web.remote.get("/archive/")
    korean = web.remote.get("/archive/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"})
    japanese = web.remote.get("/subscribe", headers={"Accept-Language": "fr;q=1.0, ja;q=0.7"})
    assert "The AMW Digest archive" in english.text and 'lang="en"' in english.text
    assert "AMW 다이제스트 지난 기사" in korean.text and 'lang="ko"' in korean.text
    assert "AMWダイジェストを購読する" in japanese.text
    assert english.headers["Vary"] == korean.headers["Vary"] == "Accept-Language"
    assert english.headers["ETag"] != korean.headers["ETag"]
    # The English copy is not current for a Korean reader: their cache asks and gets the Korean page.
    again = web.remote.get("/archive/", headers={"Accept-Language": "ko", "If-None-Match": english.headers["ETag"]})
    assert again.status_code == 200 and "지난 기사" in again.text
