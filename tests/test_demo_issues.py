"""The demo's issues as their readers read them (issue 15): `digest demo` in an empty folder, then
the .eml files it wrote. The seeds register AWS as Amazon's other name, so a story that says "AWS"
reaches Amazon's followers with the alias in its reason; a daily issue is labelled with one day."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from email import policy
from html import unescape

import pytest


@pytest.fixture(scope="module")
def demo_issues(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(DIGEST_DATABASE_URL=f"sqlite:///{folder / 'digest.db'}", DIGEST_OUTBOX=str(folder / "outbox"),
               DIGEST_SECRET_KEY="k", DIGEST_MAILER="file")
    proc = subprocess.run([sys.executable, "-m", "digest", "demo", "--json"], env=env, cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    issues = []
    for path in sorted((folder / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        html = msg.get_body(("html",)).get_content()
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        issues.append((str(msg["To"]), text, html,
                       unescape(re.sub(r"<[^>]+>", " ", html))))
    assert issues
    return issues


def html_window(html: str) -> str:
    """The line under the issue's heading in the HTML part, as the reader sees it."""
    return unescape(re.search(r"<h1[^>]*>[^<]*</h1><div[^>]*>([^<]*)</div>", html).group(1))


def test_the_demo_says_you_follow_amazon_aws_in_both_parts_and_never_breaks_the_name_from_its_alias(demo_issues):
    with_alias = [(to, text, plain) for to, text, _, plain in demo_issues if "You follow Amazon (AWS)" in text]
    assert with_alias, "no demo issue names Amazon (AWS)"
    for to, text, plain in with_alias:
        assert "You follow Amazon (AWS)" in plain, to
    for to, text, _, _ in demo_issues:
        assert not re.search(r"Amazon\s*\n\s*\(AWS\)", text), to


def test_a_daily_demo_issue_is_labelled_with_one_day_and_a_weekly_one_with_its_week(demo_issues):
    daily = [(text, html) for _, text, html, _ in demo_issues if "today" in text.split("\n\n")[1]]
    weekly = [(text, html) for _, text, html, _ in demo_issues if "this week" in text.split("\n\n")[1]]
    assert daily and weekly
    one_day = 0
    for text, html in daily:
        heading, window = text.splitlines()[:2]
        day = re.fullmatch(r"AMW DIGEST · \w+day, (\w{3} \d{1,2}, \d{4})", heading).group(1)
        assert html_window(html) == window
        if window == day:  # a one-day window: "Nov 23, 2026", not "Nov 22 – 23, 2026"
            one_day += 1
        else:  # the day before had no story for this reader: the window reaches back to the last issue
            assert re.fullmatch(r"\w{3} \d{1,2} – (\w{3} )?\d{1,2}, \d{4}", window), window
            assert window.endswith(f"{day.split()[1]} {day.split()[2]}"), (window, day)
    assert one_day
    for text, html in weekly:
        window = text.splitlines()[1]
        assert re.fullmatch(r"\w{3} \d{1,2} – (\w{3} )?\d{1,2}, \d{4}", window), window
        assert html_window(html) == window


def test_the_demo_sends_korean_and_japanese_issues_to_the_readers_who_chose_them(demo_issues):
    """Issue 16: the seeds give some readers language=ko or ja, and some articles Korean text."""
    korean = {to: text for to, text, _, _ in demo_issues if "minjun.kim@" in to or "yujin.choi@" in to}
    japanese = [text for to, text, _, _ in demo_issues if "aiko.yamamoto@" in to]
    assert korean and japanese
    for text in korean.values():
        assert re.search(r"AMW DIGEST · 2026년 \d+주차", text) and "님, 안녕하세요." in text
        assert "Unsubscribe" not in text and "수신 거부:" in text
    assert any("삼성전자, 2027년 가속기용 HBM4E" in text or "SK텔레콤·AWS" in text for text in korean.values())
    assert all("さん、こんにちは。" in text and "配信停止:" in text for text in japanese)
    english = [text for to, text, _, _ in demo_issues if "emily.carter@" in to]
    assert english and all("Unsubscribe:" in text and "HBM4E 엔비디아" not in text for text in english)
