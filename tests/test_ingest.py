"""Ingest: valid records are stored, each bad one is named by file, line and field, nothing is lost."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from digest.ingest import ingest_files
from digest.models import Article, ArticleCompany, Company, CompanyAlias, Segment


def article(**over):
    base = {
        "url": "https://amw.example/news/xai-distillation-admission",
        "title": "Elon Musk admitted in court that xAI used distillation",
        "summary": "The admission came during testimony.",
        "published_at": "2026-11-20T09:00:00Z",
        "category": "Technology", "region": "US", "read_minutes": 2,
        "companies": ["xAI", "OpenAI"],
        "segments": ["Foundation Models · Case Studies", "Data & IP"],
        "tags": ["xAI", "lawsuit"],
        "scores": {"novelty": {"score": 3, "note": "overturns prior stance"},
                   "significance": {"score": 2, "note": "segment-level impact"}},
        "related": ["https://amw.example/news/openai-deployment-company"],
    }
    base.update(over)
    return base


def write_jsonl(path, records):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                    encoding="utf-8")
    return path


def test_mixed_file_stores_valid_records_and_names_each_bad_line(engine, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [
        article(),
        article(url="https://amw.example/news/2", published_at="2026-11-20T09:00:00"),
        article(url="https://amw.example/news/3", scores={"novelty": {"score": 4, "note": ""},
                                                          "significance": {"score": 1, "note": ""}}),
        "{not json",
        article(url="https://amw.example/news/5", title="Second good one"),
    ])
    with Session(engine) as session:
        report = ingest_files(session, [path])
        urls = set(session.exec(select(Article.url)).all())
    assert report.stored == 2 and report.updated == 0
    assert urls == {"https://amw.example/news/xai-distillation-admission", "https://amw.example/news/5"}
    errors = [str(r) for r in report.rejected]  # in line order, syntax and field errors alike
    assert f"{path}:2: published_at:" in errors[0] and "time zone" in errors[0]
    assert f"{path}:3: scores.novelty.score: must be 1, 2 or 3" in errors[1]
    assert errors[2].startswith(f"{path}:4: json:")


def test_reingesting_a_url_updates_the_article_instead_of_duplicating_it(engine, tmp_path):
    first = write_jsonl(tmp_path / "1.jsonl", [article()])
    second = write_jsonl(tmp_path / "2.jsonl", [article(title="Corrected title", companies=["OpenAI"])])
    with Session(engine) as session:
        ingest_files(session, [first])
        report = ingest_files(session, [second])
        rows = session.exec(select(Article)).all()
        companies = session.exec(select(Company.name).join(ArticleCompany, ArticleCompany.company_id == Company.id)
                                 .where(ArticleCompany.article_id == rows[0].id)).all()
    assert (report.stored, report.updated) == (0, 1)
    assert len(rows) == 1 and rows[0].title == "Corrected title"
    assert companies == ["OpenAI"]


def test_json_array_errors_carry_the_line_of_the_record(engine, tmp_path):
    records = [article(url=f"https://amw.example/news/{i}") for i in range(3)]
    records[1]["read_minutes"] = "two"
    path = tmp_path / "a.json"
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    with Session(engine) as session:
        report = ingest_files(session, [path])
    line_of_second = path.read_text().splitlines().index("  {", 2) + 1
    assert report.stored == 2
    assert [str(r) for r in report.rejected] == [
        f"{path}:{line_of_second}: read_minutes: must be a whole number of minutes from 1 to 600, not 'two'"]


def test_truncated_json_array_keeps_the_complete_records_and_reports_the_break(engine, tmp_path):
    text = json.dumps([article(url="https://amw.example/news/a"), article(url="https://amw.example/news/b")],
                      indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 3 // 4], encoding="utf-8")
    with Session(engine) as session:
        report = ingest_files(session, [path])
    assert report.stored == 1
    assert len(report.rejected) == 1 and report.rejected[0].error.startswith("json:")
    assert report.rejected[0].line > 1


def test_unknown_companies_and_segments_are_created_with_the_hierarchy(engine, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [article(companies=["바이트댄스"], segments=["Compute · Chips"])])
    with Session(engine) as session:
        ingest_files(session, [path])
        child = session.exec(select(Segment).where(Segment.name == "Compute · Chips")).one()
        parent = session.get(Segment, child.parent_id)
        alias = session.get(CompanyAlias, "바이트댄스")
    assert parent.name == "Compute" and child.label == "Chips"
    assert alias is not None


def test_company_names_match_case_insensitively_on_ingest(engine, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [
        article(url="https://amw.example/news/1", companies=["OpenAI"]),
        article(url="https://amw.example/news/2", companies=["openai"])])
    with Session(engine) as session:
        ingest_files(session, [path])
        assert session.exec(select(Company.name)).all() == ["OpenAI"]


def test_missing_file_is_reported_not_raised(engine, tmp_path):
    with Session(engine) as session:
        report = ingest_files(session, [tmp_path / "nope.jsonl"])
    assert report.stored == 0 and report.rejected[0].error == "file: no such file"


def test_control_characters_are_removed_from_titles(engine, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [article(title="Bad\x00title\r\nwith\x1bcontrols")])
    with Session(engine) as session:
        ingest_files(session, [path])
        assert session.exec(select(Article.title)).one() == "Bad title with controls"
