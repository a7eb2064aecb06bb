"""Feeds in: JSON Feed with `_amw` and Atom/RSS with the AMW namespace, polled from a real local HTTP
server that changes between polls, answers 304, stays silent, redirects and sends too much."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.cli import App, main
from digest.cli.ops import _jobs
from digest.config import Settings
from digest.feeds import FetchLimits, poll_feeds
from digest.models import Article, Company, Feed
from digest.scheduler import DueScheduler, Job
from tests.feed_server import FeedServer, Route


def amw(i: int, **over) -> dict:
    base = {"scores": {"novelty": {"score": 3, "note": f"new {i}"}, "significance": {"score": 2, "note": "wide"}},
            "companies": ["OpenAI"], "segments": ["Foundation Models"], "region": "US", "read_minutes": 3,
            "related": []}
    base.update(over)
    return base


def item(i: int, title: str | None = None, **amw_over) -> dict:
    return {"id": f"a{i}", "url": f"https://amw.example/news/{i}", "title": title or f"Story {i}",
            "summary": f"What happened {i}.", "date_published": "2026-11-20T09:00:00Z", "tags": ["ai"],
            "_amw": amw(i, **amw_over)}


def json_feed(*items) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "AMW",
                       "items": list(items)}).encode()


@pytest.fixture
def server():
    srv = FeedServer()
    yield srv
    srv.close()


def add_feed(engine, url: str) -> None:
    with Session(engine) as session:
        session.add(Feed(url=url))
        session.commit()


def poll(engine, **limits):
    with Session(engine) as session:
        return poll_feeds(session, FetchLimits(**{"timeout": 5.0, **limits}))


def test_a_feed_polled_twice_with_a_304_stores_each_article_once(engine, server):
    server.routes["/feed.json"] = Route(json_feed(item(1), item(2)), etag='"v1"', last_modified="Fri, 20 Nov 2026 09:00:00 GMT")
    add_feed(engine, server.url("/feed.json"))
    first = poll(engine)
    second = poll(engine)
    assert (first.stored, first.not_modified) == (2, 0)
    assert (second.stored, second.updated, second.not_modified) == (0, 0, 1)
    # the second request was conditional: both validators sent back
    headers = server.requests[1][1]
    assert headers["If-None-Match"] == '"v1"' and headers["If-Modified-Since"] == "Fri, 20 Nov 2026 09:00:00 GMT"
    with Session(engine) as session:
        assert len(session.exec(select(Article)).all()) == 2
        feed = session.exec(select(Feed)).one()
        assert feed.last_status == "not_modified" and feed.etag == '"v1"'


def test_a_feed_that_changes_between_polls_stores_new_updates_changed_counts_unchanged(engine, server):
    route = server.routes["/feed.json"] = Route(json_feed(item(1), item(2)))
    add_feed(engine, server.url("/feed.json"))
    poll(engine)
    route.body = json_feed(item(1), item(2, title="Story 2, corrected"), item(3))
    report = poll(engine)
    assert (report.stored, report.updated, report.unchanged) == (1, 1, 1)
    with Session(engine) as session:
        titles = {a.url.rsplit("/", 1)[1]: a.title for a in session.exec(select(Article))}
    assert titles == {"1": "Story 1", "2": "Story 2, corrected", "3": "Story 3"}


def test_a_malformed_item_is_named_by_feed_and_item_and_the_rest_stored(engine, server):
    bad_score = item(2, scores={"novelty": {"score": 5, "note": ""}, "significance": {"score": 1, "note": ""}})
    no_amw = {k: v for k, v in item(3).items() if k != "_amw"}
    server.routes["/feed.json"] = Route(json_feed(item(1), bad_score, no_amw, "not an item", item(5)))
    url = server.url("/feed.json")
    add_feed(engine, url)
    report = poll(engine)
    assert report.stored == 2
    errors = [str(r) for r in report.rejected]
    assert errors[0] == f"{url}#2: scores.novelty.score: must be 1, 2 or 3, not 5"
    assert errors[1].startswith(f"{url}#3: scores: is required")
    assert errors[2].startswith(f"{url}#4: record: must be a JSON object")
    assert len(errors) == 3


def test_a_feed_that_times_out_keeps_its_articles_and_last_good_state(engine, server, caplog):
    route = server.routes["/feed.json"] = Route(json_feed(item(1)), etag='"v1"')
    add_feed(engine, server.url("/feed.json"))
    poll(engine)
    route.hold, route.etag = threading.Event(), '"v2"'
    report = poll(engine, timeout=0.3)
    route.hold.set()
    assert report.failed and "timeout" in report.failed[0][1]
    assert any(r.levelname == "WARNING" and "timeout" in r.getMessage() and server.url("/feed.json") in r.getMessage()
               for r in caplog.records)
    with Session(engine) as session:
        feed = session.exec(select(Feed)).one()
        assert feed.last_status == "failed" and "timeout" in feed.last_error
        assert feed.etag == '"v1"' and feed.last_ok_at is not None  # the last good state is kept
        assert len(session.exec(select(Article)).all()) == 1


@pytest.mark.parametrize("send_length", [True, False], ids=["content-length", "no-length"])
def test_an_oversized_body_fails_the_feed_with_the_limit_named(engine, server, send_length):
    big = json_feed(*[item(i) for i in range(1, 40)])
    server.routes["/feed.json"] = Route(big, send_length=send_length)
    add_feed(engine, server.url("/feed.json"))
    report = poll(engine, max_bytes=2000)
    assert report.stored == 0 and "over the limit of 2000" in report.failed[0][1]
    with Session(engine) as session:
        assert session.exec(select(Article)).all() == []


def test_redirects_are_followed_within_the_limit(engine, server):
    server.routes["/old"] = Route(status=301, location="/feed.json")
    server.routes["/feed.json"] = Route(json_feed(item(1)))
    server.routes["/loop"] = Route(status=302, location="/loop")
    add_feed(engine, server.url("/old"))
    add_feed(engine, server.url("/loop"))
    report = poll(engine)
    assert report.stored == 1
    assert [url for url, _ in report.failed] == [server.url("/loop")] and "redirects" in report.failed[0][1]


def test_an_error_status_and_a_body_that_is_no_feed_fail_the_feed(engine, server):
    server.routes["/html"] = Route(b"<html><body>Not here</body></html>", content_type="text/html")
    add_feed(engine, server.url("/gone"))
    add_feed(engine, server.url("/html"))
    report = poll(engine)
    errors = dict(report.failed)
    assert "HTTP 404" in errors[server.url("/gone")]
    assert "not JSON Feed, Atom or RSS" in errors[server.url("/html")]


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:amw="https://amw.example/ns/digest/1.0">
  <title>AMW</title><id>urn:amw</id><updated>2026-11-20T09:00:00Z</updated>
  <entry>
    <id>urn:amw:1</id><title>OpenAI &amp; Microsoft sign a deal</title>
    <link href="https://amw.example/news/atom-1"/>
    <link rel="related" href="https://amw.example/news/1"/>
    <published>2026-11-20T18:00:00+09:00</published><updated>2026-11-20T18:00:00+09:00</updated>
    <summary type="html">A &lt;b&gt;big&lt;/b&gt; deal.</summary>
    <category scheme="https://amw.example/ns/digest/1.0#company" term="OpenAI"/>
    <category scheme="https://amw.example/ns/digest/1.0#company" term="Microsoft"/>
    <category scheme="https://amw.example/ns/digest/1.0#segment" term="Cloud · Deals"/>
    <category term="partnership"/>
    <amw:novelty>2</amw:novelty><amw:novelty_note>first of its kind</amw:novelty_note>
    <amw:significance>3</amw:significance><amw:significance_note>moves the market</amw:significance_note>
    <amw:read_minutes>4</amw:read_minutes><amw:region>US</amw:region><amw:category>Business</amw:category>
  </entry>
  <entry>
    <id>urn:amw:2</id><title>No scores</title><link href="https://amw.example/news/atom-2"/>
    <updated>2026-11-20T09:00:00Z</updated>
  </entry>
</feed>
"""

RSS = """<?xml version="1.0"?>
<rss version="2.0" xmlns:amw="https://amw.example/ns/digest/1.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel><title>AMW</title><link>https://amw.example/</link><description>AMW</description>
    <item>
      <title>Anthropic raises</title><link>https://amw.example/news/rss-1</link><guid>https://amw.example/news/rss-1</guid>
      <pubDate>Fri, 20 Nov 2026 09:00:00 GMT</pubDate><description>Money.</description>
      <category domain="https://amw.example/ns/digest/1.0#company">Anthropic</category>
      <category>funding</category>
      <amw:novelty>1</amw:novelty><amw:significance>2</amw:significance><amw:significance_note>large round</amw:significance_note>
    </item>
  </channel>
</rss>
"""


def test_atom_and_rss_carry_the_article_fields_in_the_amw_namespace(engine, server):
    server.routes["/atom.xml"] = Route(ATOM.encode(), content_type="application/atom+xml")
    server.routes["/rss.xml"] = Route(RSS.encode(), content_type="application/rss+xml")
    add_feed(engine, server.url("/atom.xml"))
    add_feed(engine, server.url("/rss.xml"))
    report = poll(engine)
    assert report.stored == 2 and not report.failed
    assert [str(r) for r in report.rejected] == [f"{server.url('/atom.xml')}#2: scores: is required: "
                                                 '{"novelty": {"score": 1-3, "note": ...}, "significance": ...}']
    with Session(engine) as session:
        atom = session.exec(select(Article).where(Article.url == "https://amw.example/news/atom-1")).one()
        rss = session.exec(select(Article).where(Article.url == "https://amw.example/news/rss-1")).one()
        companies = set(session.exec(select(Company.name)))
    assert (atom.title, atom.summary, atom.novelty, atom.significance) == ("OpenAI & Microsoft sign a deal", "A big deal.", 2, 3)
    assert (atom.novelty_note, atom.read_minutes, atom.region, atom.category) == ("first of its kind", 4, "US", "Business")
    assert atom.published_at.isoformat() == "2026-11-20T09:00:00+00:00"
    assert atom.tags == ["partnership"] and atom.related == ["https://amw.example/news/1"]
    assert (rss.novelty, rss.significance, rss.significance_note, rss.tags) == (1, 2, "large round", ["funding"])
    assert {"OpenAI", "Microsoft", "Anthropic"} <= companies


def run_cli(env, *args):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def cli_env(db_url, tmp_path):
    return {"DIGEST_DATABASE_URL": db_url, "DIGEST_SECRET_KEY": "k", "DIGEST_OUTBOX": str(tmp_path / "out"),
            "DIGEST_FEED_TIMEOUT": "2"}


def test_feeds_commands_add_list_poll_remove_with_the_json_contract(cli_env, server):
    server.routes["/feed.json"] = Route(json_feed(item(1), item(2, read_minutes=0)), etag='"e"')
    url = server.url("/feed.json")
    assert json.loads(run_cli(cli_env, "feeds", "add", url, "--json").output) == {"url": url, "added": True}
    assert run_cli(cli_env, "feeds", "add", "ftp://x/feed", "--json").exit_code == 2
    result = run_cli(cli_env, "feeds", "poll", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("feeds", "stored", "updated", "unchanged", "not_modified")} == {
        "feeds": 1, "stored": 1, "updated": 0, "unchanged": 0, "not_modified": 0}
    assert data["rejected"] == [{"feed": url, "item": 2,
                                 "error": "read_minutes: must be a whole number of minutes from 1 to 600, not 0"}]
    assert f"{url}#2: read_minutes:" in result.stderr
    assert "no feed" in json.loads(run_cli(cli_env, "feeds", "poll", server.url("/other"), "--json").stdout)["error"]
    again = json.loads(run_cli(cli_env, "feeds", "poll", url, "--json").stdout)
    assert again["not_modified"] == 1 and again["stored"] == 0
    listed = json.loads(run_cli(cli_env, "feeds", "list", "--json").output)["feeds"]
    assert [(f["url"], f["last_status"]) for f in listed] == [(url, "not_modified")]
    server.routes.pop("/feed.json")
    failed = run_cli(cli_env, "feeds", "poll", "--json")
    assert failed.exit_code == 1 and json.loads(failed.stdout)["failed"][0]["error"] == "HTTP 404 Not Found"
    shown = run_cli(cli_env, "feeds", "list")
    assert "failed" in shown.output and "HTTP 404" in shown.output
    assert run_cli(cli_env, "feeds", "remove", url, "--json").exit_code == 0
    assert json.loads(run_cli(cli_env, "feeds", "list", "--json").output) == {"feeds": []}
    assert run_cli(cli_env, "feeds", "remove", url, "--json").exit_code == 2


def test_ingest_reads_a_jsonl_file_from_a_url_and_names_its_bad_lines(cli_env, server):
    good = {"url": "https://amw.example/news/u1", "title": "From a URL", "published_at": "2026-11-20T09:00:00Z",
            **amw(1)}
    lines = [json.dumps(good), json.dumps({**good, "url": "https://amw.example/news/u2", "read_minutes": "x"})]
    server.routes["/articles.jsonl"] = Route("\n".join(lines).encode(), content_type="application/x-ndjson")
    url = server.url("/articles.jsonl")
    result = run_cli(cli_env, "ingest", url, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["stored"] == 1 and data["rejected"][0]["file"] == url and data["rejected"][0]["line"] == 2
    missing = json.loads(run_cli(cli_env, "ingest", server.url("/none.jsonl"), "--json").stdout)
    assert missing["rejected"] == [{"file": server.url("/none.jsonl"), "line": 0, "error": "url: HTTP 404 Not Found"}]


def test_the_scheduler_command_adds_a_feed_job_every_digest_feed_interval(engine, server, db_url):
    server.routes["/feed.json"] = Route(json_feed(item(1)))
    add_feed(engine, server.url("/feed.json"))
    jobs = _jobs(App(Settings(database_url=db_url, secret_key="k", feed_interval=60)))
    assert [(job.name, job.interval) for job in jobs] == [("feed poll", 60)]
    assert jobs[0].run()["stored"] == 1
    assert _jobs(App(Settings(database_url=db_url, secret_key="k", feed_interval=0))) == []


def test_the_scheduler_runs_the_feed_job_beside_the_due_pass():
    ran = threading.Event()
    scheduler = DueScheduler(lambda stop, as_of: {}, interval=3600,
                             jobs=[Job("feed poll", 3600, lambda: ran.set() or {"feeds": 0})])
    thread = threading.Thread(target=scheduler.run, kwargs={"install_signal_handlers": False})
    thread.start()
    try:
        assert ran.wait(10)
    finally:
        scheduler.stop()
        thread.join(10)
    assert not thread.is_alive()
