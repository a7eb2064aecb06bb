"""Names after the fact, on SQLite and PostgreSQL: `digest companies merge FROM INTO` moves articles,
follows, mutes, aliases and editorial targets, a reader who followed both follows one, and the
ledger is untouched; `digest segments rename` renames (or merges) a segment and those below it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.cli import main
from digest.mailers.memory import MemoryMailer
from digest.models import (Article, ArticleCompany, ArticleSegment, Company, CompanyAlias, Digest, DigestItem,
                           EditorialControl, Follow, Segment, Subscriber)
from digest.pipeline import Pipeline
from tests.pipeline_helpers import SLOT, add_people, load_articles, make_article


def with_companies(article: dict, *companies: str, segments=None) -> dict:
    return {**article, "companies": list(companies), **({"segments": segments} if segments else {})}


@pytest.fixture
def world(engine, settings, tmp_path):
    load_articles(engine, tmp_path, [
        with_companies(make_article(1, company="Google"), "Alphabet", "Google", segments=["Compute · Chips"]),
        with_companies(make_article(2, company="Alphabet"), "Alphabet", segments=["Hardware"]),
        with_companies(make_article(3, company="Google"), "Google", "Nvidia", segments=["Compute"]),
    ])
    add_people(engine, [
        {"email": "both@example.com", "companies": ["Google", "Alphabet"], "segments": ["Compute", "Hardware"]},
        {"email": "alpha@example.com", "companies": ["Alphabet"], "segments": ["Compute · Chips"]},
        {"email": "muter@example.com", "companies": ["Nvidia"]},
    ])
    with Session(engine) as session:
        muter = session.exec(select(Subscriber).where(Subscriber.email == "muter@example.com")).one()
        muter.muted = [{"kind": "company", "name": "Alphabet"}, {"kind": "segment", "name": "Compute"}]
        session.add(muter)
        session.commit()
    MemoryMailer.reset()
    pipeline = Pipeline(engine, settings)
    pipeline.send_due(MemoryMailer(), SLOT + timedelta(minutes=5))
    return pipeline


def cli(settings, *args, code=0):
    result = CliRunner().invoke(main, [*args, "--json"], env={"DIGEST_DATABASE_URL": settings.database_url,
                                                              "DIGEST_SECRET_KEY": "k"}, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def ledger(engine):
    with Session(engine) as session:
        return (sorted((d.subscriber_id, d.period, d.state) for d in session.exec(select(Digest))),
                sorted((i.digest_id, i.article_id, i.kind) for i in session.exec(select(DigestItem))))


def follows_of(session, email: str) -> set[tuple[str, str]]:
    subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
    out = set()
    for f in session.exec(select(Follow).where(Follow.subscriber_id == subscriber.id)):
        model = Company if f.kind == "company" else Segment
        out.add((f.kind, session.get(model, f.target_id).name))
    return out


def test_merging_two_companies_moves_everything_and_keeps_the_ledger(world, engine, settings):
    cli(settings, "companies", "alias", "Alphabet", "GOOG")
    cli(settings, "issue", "note", "Alphabet week", "--company", "Alphabet", "--from", "2026-11-20T00:00:00Z")
    history = ledger(engine)
    assert history[1], "the fixture sent digests"
    result = cli(settings, "companies", "merge", "alphabet", "Google")
    assert (result["from"], result["into"], result["follows_merged"], result["mutes"]) == ("Alphabet", "Google", 1, 1)
    with Session(engine) as session:
        assert session.exec(select(Company).where(Company.name == "Alphabet")).first() is None
        google = session.exec(select(Company).where(Company.name == "Google")).one()
        aliases = {a.alias for a in session.exec(select(CompanyAlias).where(CompanyAlias.company_id == google.id))}
        assert {"Alphabet", "GOOG", "Google"} <= aliases
        by_url = {a.url.rsplit("-", 1)[1]: a for a in session.exec(select(Article))}
        links = {n: [(l.company_id, l.position) for l in session.exec(
            select(ArticleCompany).where(ArticleCompany.article_id == a.id).order_by(ArticleCompany.position))]
            for n, a in by_url.items()}
        assert links["1"] == [(google.id, 0)] and by_url["1"].primary_company_id == google.id
        assert links["2"] == [(google.id, 0)] and by_url["2"].primary_company_id == google.id
        assert follows_of(session, "both@example.com") >= {("company", "Google")}
        assert [k for k in follows_of(session, "both@example.com") if k[0] == "company"] == [("company", "Google")]
        assert ("company", "Google") in follows_of(session, "alpha@example.com")
        muter = session.exec(select(Subscriber).where(Subscriber.email == "muter@example.com")).one()
        assert {"kind": "company", "name": "Google"} in muter.muted
        note = session.exec(select(EditorialControl)).one()
        assert (note.target_kind, note.target_name) == ("company", "Google")
    assert ledger(engine) == history  # every digest row and what each carried, unchanged
    assert "unknown company" in cli(settings, "companies", "merge", "Nobody", "Google", code=1)["error"]
    assert "same company" in cli(settings, "companies", "merge", "GOOG", "google", code=1)["error"]


def test_renaming_a_segment_merges_into_an_existing_one_with_the_segments_below(world, engine, settings):
    history = ledger(engine)
    result = cli(settings, "segments", "rename", "Compute", "Hardware")
    assert (result["from"], result["to"], result["segments"], result["follows_merged"]) == ("Compute", "Hardware", 2, 1)
    with Session(engine) as session:
        names = set(session.exec(select(Segment.name)))
        assert "Compute" not in names and "Compute · Chips" not in names and {"Hardware", "Hardware · Chips"} <= names
        chips = session.exec(select(Segment).where(Segment.name == "Hardware · Chips")).one()
        hardware = session.exec(select(Segment).where(Segment.name == "Hardware")).one()
        assert chips.parent_id == hardware.id
        assert [k for k in follows_of(session, "both@example.com") if k[0] == "segment"] == [("segment", "Hardware")]
        assert ("segment", "Hardware · Chips") in follows_of(session, "alpha@example.com")
        assert len(session.exec(select(ArticleSegment).where(ArticleSegment.segment_id == chips.id)).all()) == 1
        muter = session.exec(select(Subscriber).where(Subscriber.email == "muter@example.com")).one()
        assert {"kind": "segment", "name": "Hardware"} in muter.muted
    assert ledger(engine) == history
    renamed = cli(settings, "segments", "rename", "Hardware · Chips", "Hardware · Semiconductors")
    assert renamed["to"] == "Hardware · Semiconductors"
    assert "below itself" in cli(settings, "segments", "rename", "Hardware", "Hardware · X", code=1)["error"]
