"""`digest subscribers ...`: every command with --json, exit codes 0/1/2, and the acceptance cases."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from digest.models import Subscriber
from digest.cli.subscribers import subscribers_group
from subscribers.records import confirm, deliverable_query
from subscribers.tokens import Signer

from subscribers_helpers import SECRET, cli_obj, engine, _pg_database, _sqlite_template  # noqa: F401

HEADER = "email,name,companies,segments,timezone,send_day,send_hour,frequency,max_articles\n"


@pytest.fixture
def run(cli_obj):
    def invoke(*args):
        return CliRunner().invoke(subscribers_group, list(args), obj=cli_obj, catch_exceptions=False)

    return invoke


def run_json(run, *args, code=0):
    result = run(*args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def statuses(engine):
    with Session(engine) as s:
        return {x.email: x.status for x in s.exec(select(Subscriber))}


def test_import_with_bad_lines_stores_the_good_ones_names_each_bad_one_and_exits_1(run, tmp_path, engine):
    path = tmp_path / "people.csv"
    path.write_text(HEADER
                    + "good1@example.com,Good One,xAI,Data & IP,Asia/Seoul,mon,8,weekly,8\n"
                    + "bad address,Nope,,,UTC,mon,8,weekly,8\n"
                    + '"crlf@example.com","Line\r\nBreak",,,UTC,mon,8,weekly,8\n'
                    + "tz@example.com,Tz,,,Europe/Atlantis,mon,8,weekly,8\n"
                    + "co@example.com,Co,Umbrella Corp,,UTC,mon,8,weekly,8\n"
                    + "GOOD1@example.com,Again,,,UTC,mon,8,weekly,8\n"
                    + "good2@example.com,좋은,바이트댄스,,UTC,wed,6,daily,\n", encoding="utf-8", newline="")
    result = run("import", str(path))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    # The quoted CR LF makes line 4's record end on line 5, so the next records start on 6, 7 and 8.
    assert [e.split(": ")[0] for e in errors] == [f"{path}:{n}" for n in (3, 4, 6, 7, 8)]
    assert [e.split(": ")[1] for e in errors] == ["email", "name", "timezone", "companies", "email"]
    assert "stored 2" in result.stdout
    assert statuses(engine) == {"good1@example.com": "active", "good2@example.com": "active"}

    report = run_json(run, "import", str(path), code=1)
    assert (report["stored"], report["unchanged"], len(report["rejected"])) == (0, 2, 5)
    assert set(report["rejected"][0]) == {"file", "line", "error"}


def test_export_then_import_changes_nothing_and_keeps_formula_names(run, tmp_path, engine):
    run("add", "f@example.com", "--name", "=1+2", "--company", "xai", "--segment", "Foundation Models")
    run("add", "g@example.com", "--name", "@SUM(A1)", "--timezone", "America/New_York")
    out = tmp_path / "out.csv"
    exported = run_json(run, "export", "--out", str(out))
    assert exported["exported"] == 2
    names = {r["email"]: r["name"] for r in csv.DictReader(out.open(encoding="utf-8", newline=""))}
    assert names == {"f@example.com": "'=1+2", "g@example.com": "'@SUM(A1)"}
    before = run_json(run, "list")
    report = run_json(run, "import", str(out))
    assert (report["stored"], report["updated"], report["unchanged"], report["rejected"]) == (0, 0, 2, [])
    assert run_json(run, "list") == before
    assert run_json(run, "show", "f@example.com")["subscriber"]["name"] == "=1+2"


def test_export_to_standard_output_writes_the_csv(run):
    run("add", "f@example.com")
    result = run("export")
    assert result.exit_code == 0 and result.stdout.splitlines()[1].startswith("f@example.com,")


def test_unsubscribed_address_is_not_resubscribed_by_import_and_gets_no_digest(run, tmp_path, engine):
    path = tmp_path / "list.csv"
    path.write_text(HEADER + "ana@example.com,Ana,xAI,,UTC,mon,8,weekly,8\n", encoding="utf-8")
    assert run("import", str(path)).exit_code == 0
    assert run_json(run, "unsubscribe", "ana@example.com")["changed"] is True
    result = run("import", str(path))
    assert result.exit_code == 0
    assert "not resubscribed" in result.stderr and "--resubscribe" in result.stderr
    assert statuses(engine) == {"ana@example.com": "unsubscribed"}
    with Session(engine) as s:
        assert list(s.exec(deliverable_query())) == []

    report = run_json(run, "import", str(path), "--resubscribe")
    assert report["resubscribed"] == 1
    assert statuses(engine) == {"ana@example.com": "active"}


def test_add_prints_the_subscriber_and_refuses_a_second_record_for_the_address(run):
    created = run_json(run, "add", "Ana@Example.com", "--name", "김아나", "--company", "바이트댄스",
                       "--segment", "foundation models", "--send-day", "thu", "--max-articles", "12")
    sub = created["subscriber"]
    assert (created["action"], sub["email"], sub["companies"], sub["segments"], sub["send_day"], sub["max_articles"]) == (
        "created", "Ana@example.com", ["ByteDance"], ["Foundation Models"], "thu", 12)
    again = run_json(run, "add", "ana@example.com", code=1)
    assert "already subscriber" in again["error"]


def test_add_with_invalid_input_exits_1_with_the_problem(run):
    result = run("add", "ana@example.com", "--timezone", "Mars/Base", "--company", "OpenAl")
    assert result.exit_code == 1
    assert "timezone:" in result.stderr and "did you mean 'OpenAI'" in result.stderr


def test_add_of_a_suppressed_address_needs_resubscribe_and_says_when_it_happens(run):
    run("unsubscribe", "ana@example.com", "--reason", "bounced")
    assert "bounced" in run_json(run, "add", "ana@example.com", code=1)["error"]
    result = run("add", "ana@example.com", "--resubscribe")
    assert result.exit_code == 0 and "resubscribed" in result.stdout


def test_double_opt_in_add_gives_a_confirm_link_that_activates(run, engine):
    out = run_json(run, "add", "new@example.com", "--double-opt-in")
    assert out["subscriber"]["status"] == "pending"
    assert out["confirm_link"].startswith("https://digest.example/confirm/")
    with Session(engine) as s:
        assert confirm(s, out["confirm_link"].rsplit("/", 1)[1], Signer([SECRET])).status == "active"


def test_list_filters_by_status_and_follow(run):
    run("add", "a@example.com", "--company", "xAI")
    run("add", "b@example.com", "--company", "OpenAI")
    run("unsubscribe", "b@example.com")
    assert [s["email"] for s in run_json(run, "list", "--status", "active")["subscribers"]] == ["a@example.com"]
    assert [s["email"] for s in run_json(run, "list", "--company", "openai")["subscribers"]] == ["b@example.com"]
    assert run_json(run, "list", "--limit", "1")["count"] == 1


def test_show_of_an_unknown_subscriber_exits_2_like_other_digest_commands(run):
    assert run_json(run, "show", "nobody@example.com", code=2) == {"error": "no subscriber nobody@example.com"}


def test_follow_and_unfollow_change_follows_and_reject_unknown_names(run):
    run("add", "a@example.com")
    out = run_json(run, "follow", "a@example.com", "--company", "xai", "--segment", "Data & IP")
    assert out["changed"] == ["xAI", "Data & IP"]
    out = run_json(run, "unfollow", "a@example.com", "--company", "xAI")
    assert out["subscriber"]["companies"] == [] and out["subscriber"]["segments"] == ["Data & IP"]
    assert "did you mean" in run_json(run, "follow", "a@example.com", "--segment", "Data and IP", code=1)["error"]


def test_follow_without_any_name_is_a_usage_error(run):
    run("add", "a@example.com")
    assert run("follow", "a@example.com").exit_code == 2


def test_set_changes_only_the_given_preferences(run):
    run("add", "a@example.com", "--timezone", "Asia/Seoul", "--send-hour", "7")
    out = run_json(run, "set", "a@example.com", "--frequency", "daily", "--reading-budget", "15",
                   "--paused-until", "2027-01-05")
    sub = out["subscriber"]
    assert (out["action"], sub["timezone"], sub["send_hour"], sub["frequency"], sub["reading_budget"],
            sub["paused_until"]) == ("updated", "Asia/Seoul", 7, "daily", 15, "2027-01-05")
    cleared = run_json(run, "set", "a@example.com", "--reading-budget", "", "--paused-until", "")["subscriber"]
    assert cleared["reading_budget"] is None and cleared["paused_until"] is None


def test_set_with_a_bad_value_exits_1_and_without_options_exits_2(run):
    run("add", "a@example.com")
    assert "max_articles" in run_json(run, "set", "a@example.com", "--max-articles", "21", code=1)["error"]
    assert run("set", "a@example.com").exit_code == 2


def test_import_of_a_missing_file_is_a_usage_error(run, tmp_path):
    result = run("import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_import_dry_run_reports_and_stores_nothing(run, tmp_path, engine):
    path = tmp_path / "list.csv"
    path.write_text(HEADER + "ana@example.com,Ana,,,UTC,mon,8,weekly,8\n", encoding="utf-8")
    assert run_json(run, "import", str(path), "--dry-run")["stored"] == 1
    assert statuses(engine) == {}


def test_export_json_without_an_output_file_is_a_usage_error(run):
    assert run("export", "--json").exit_code == 2
