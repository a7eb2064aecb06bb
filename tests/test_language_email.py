"""Issue 16, the email in each reader's language: real digests sent through the due pass to English,
Korean and Japanese readers, read as their readers read them (both parts, subject, headers)."""

from __future__ import annotations

import json
import re
from html import unescape
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po
from sqlmodel import Session, select

from digest.db import make_engine, upgrade
from digest.ingest import ingest_files, load_aliases
from digest.mailers.memory import MemoryMailer
from digest.models import Subscriber
from digest.pipeline import Pipeline
from digest.render.filters import display_width
from digest.render.subject import MAX_SUBJECT
from digest.web import create_app
from subscribers.records import add_subscriber

from test_reader_email import RUN, parse, story
from tests.conftest import ROOT
from tests.web_helpers import local_client


def _both(i, title_ko, **kw):
    record = story(i, f"English title {i}", **kw)
    record["title"] = {"en": f"English title {i}", "ko": title_ko}
    record["summary"] = {"en": f"English summary {i}.", "ko": f"한국어 요약 {i}입니다."}
    record["scores"]["novelty"]["note"] = {"en": f"english novelty note {i}", "ko": f"새로움 설명 {i}"}
    record["scores"]["significance"]["note"] = {"en": f"english significance note {i}", "ko": f"중요도 설명 {i}"}
    return record


ARTICLES = [
    _both(1, "오픈AI, 기업 고객용 새 추론 모델 출시", hours=5, n=3, s=3),
    _both(2, "바이트댄스, 2026년 AI 설비투자 25% 증액", hours=30, companies=("ByteDance",),
          segments=("Compute · Data Centers",), tags=("capex",)),
    story(3, "OpenAI expands its Stargate build-out in Texas", hours=60, s=1),  # English only
]
ENGLISH = [
    {"email": "wes@example.com", "name": "Wes", "companies": ["OpenAI", "ByteDance"]},
    {"email": "amy@example.com", "name": "Amy Lee", "companies": ["OpenAI"], "frequency": "daily"},
]
OTHERS = [
    {"email": "seo@example.com", "name": "이서연", "companies": ["OpenAI", "ByteDance"], "language": "ko"},
    {"email": "yui@example.com", "name": "佐藤 結衣", "companies": ["OpenAI", "ByteDance"], "language": "ja"},
    {"email": "luc@example.com", "name": "Luc", "companies": ["OpenAI"], "language": "fr-CA"},
]


def _world(engine, settings, tmp_path, people):
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES), encoding="utf-8")
    with Session(engine) as session:
        report = ingest_files(session, [path])
        assert not report.rejected, report.rejected
        load_aliases(session, {"ByteDance": ["바이트댄스", "字节跳动"]})
        for person in people:
            add_subscriber(session, timezone="Europe/Berlin", **person)
        session.commit()
    return Pipeline(engine, settings)


def _send(pipeline):
    MemoryMailer.reset()
    pipeline.send_due(MemoryMailer(), RUN)
    return {m.recipient: SimpleNamespace(raw=m.data, **vars(parse(m.data))) for m in MemoryMailer.outbox}


@pytest.fixture
def sent(engine, settings, tmp_path):
    return _send(_world(engine, settings, tmp_path, ENGLISH + OTHERS))


def _boilerplate(lang: str) -> list[str]:
    """The English pieces of every message (between placeholders), except those the language's own
    catalog keeps (names such as "AMW Read") and the CSS values."""
    with (ROOT / "digest" / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    pieces = []
    for m in catalog:
        if not m.id or m.context:
            continue
        own = " ".join([m.string] if isinstance(m.string, str) else m.string)
        for msgid in [m.id] if isinstance(m.id, str) else m.id:
            for piece in re.split(r"%\(\w+\)s", msgid):
                piece = piece.strip(" .,:;+[]·")
                if len(piece) >= 3 and re.search(r"[A-Za-z]{3}", piece) and piece not in own:
                    pieces.append(piece)
    return sorted(set(pieces))


@pytest.mark.parametrize(("email", "lang"), [("seo@example.com", "ko"), ("yui@example.com", "ja")])
def test_a_korean_or_japanese_readers_email_has_no_english_boilerplate_in_either_part(sent, email, lang):
    mail = sent[email]
    pieces = _boilerplate(lang)
    assert len(pieces) > 30
    english_data = ("English title 3", "OpenAI", "ByteDance", "Stargate", "Texas", "US", "capex", "launch",
                    "Foundation Models", "Releases", "Compute", "Data Centers", "novelty note 3",
                    "significance note 3", "What happened in story 3")
    for part in (mail.text, mail.plain_html, mail.subject):
        for piece in pieces:
            if not any(piece in d or d in piece for d in english_data):
                assert not re.search(r"(?<![A-Za-z])" + re.escape(piece) + r"(?![A-Za-z])", part), (lang, piece)


def test_the_korean_email_speaks_korean_with_korean_dates_ages_names_and_article_text(sent):
    seo = sent["seo@example.com"]
    assert "이서연님, 안녕하세요." in seo.text and "이서연님, 안녕하세요." in seo.plain_html
    assert "2026년 48주차" in seo.text and re.search(r"2026년 11월 \d+일~\d+일", seo.text)
    assert "오픈AI, 기업 고객용 새 추론 모델 출시" in seo.text
    assert re.fullmatch(r"(오픈AI|바이트댄스), .* 외 \d+건", seo.subject), seo.subject
    assert "한국어 요약 1입니다." in seo.text and "새로움 설명 1" in seo.plain_html
    assert "English title 1" not in seo.text + seo.plain_html and "English summary 1" not in seo.text
    # An article without Korean text is shown in the default language, whole: never a mix in a field.
    assert "OpenAI expands its Stargate build-out in Texas" in seo.text
    # ByteDance in the reader's script, its alias; the reason and the intro too.
    assert re.search(r'class="co"[^>]*>바이트댄스</a>', unescape(seo.html))
    assert re.search(r'class="co"[^>]*>ByteDance</a>', unescape(sent["wes@example.com"].html))
    assert "바이트댄스 팔로우 중" in seo.plain_html
    assert re.search(r"\d+(시간|일) 전", seo.text + seo.plain_html) or "이어지는" not in seo.text


def test_the_korean_html_has_lang_korean_faces_before_generic_ones_and_keeps_words_whole(sent):
    html = sent["seo@example.com"].html
    assert re.search(r'<html\s+lang="ko"', html)
    stacks = set(re.findall(r"font-family:([^;\"]+)", html)) - {" Arial, sans-serif !important"}
    assert stacks
    for stack in stacks:
        faces = [f.strip().strip("'") for f in stack.split(",")]
        assert faces.index("Apple SD Gothic Neo") < faces.index("sans-serif")
        assert {"Malgun Gothic", "Noto Sans KR"} <= set(faces[:faces.index("sans-serif")])
    assert "word-break:keep-all" in html
    ja = sent["yui@example.com"].html
    assert re.search(r'<html\s+lang="ja"', ja) and "Hiragino Sans" in ja and "word-break:keep-all" not in ja
    en = sent["wes@example.com"].html
    assert re.search(r'<html\s+lang="en"', en) and "Apple SD Gothic Neo" not in en


@pytest.mark.parametrize("email", ["seo@example.com", "yui@example.com", "wes@example.com"])
def test_the_text_part_wraps_by_display_width_and_the_subject_is_encoded_and_fits(sent, email):
    mail = sent[email]
    for line in mail.text.splitlines():
        if not re.fullmatch(r"\s*([^:]*[:：] ?)?https?://\S+", line):  # a URL is never broken
            assert display_width(line) <= 78, line
    assert display_width(mail.subject) <= MAX_SUBJECT
    header = re.search(rb"^Subject: (.*(?:\r\n[ \t].*)*)", mail.raw, re.M).group(1)
    assert header.isascii()
    if email != "wes@example.com":
        assert b"=?utf-8?" in header.lower()


def test_a_japanese_reader_without_japanese_article_text_gets_the_default_text_whole(sent):
    yui = sent["yui@example.com"]
    assert "佐藤さん、こんにちは。" in yui.text
    assert "English title 1" in yui.text and "English summary 1." in yui.text
    assert "오픈AI" not in yui.text and "한국어" not in yui.text + yui.plain_html
    assert "2026年 第48週" in yui.text


def test_a_language_without_a_catalog_gets_the_default_and_preview_says_so(engine, settings, tmp_path):
    pipeline = _world(engine, settings, tmp_path, ENGLISH + OTHERS)
    built = pipeline.preview("luc@example.com", RUN)
    assert "Hi Luc," in built.rendered.text
    assert any("no catalog for language 'fr-CA'" in w for w in built.rendered.warnings)
    assert not pipeline.preview("seo@example.com", RUN).rendered.warnings


def test_english_readers_emails_are_byte_identical_with_or_without_the_other_languages(sent, settings, tmp_path):
    url = f"sqlite:///{tmp_path / 'english-only.db'}"
    upgrade(url)
    other = make_engine(url)
    (tmp_path / "en").mkdir()
    try:
        alone = _send(_world(other, settings, tmp_path / "en", ENGLISH))
    finally:
        other.dispose()
    assert set(alone) == {p["email"] for p in ENGLISH}
    for address, mail in alone.items():
        mixed = sent[address]
        assert mixed.subject == mail.subject
        for kind in ("plain", "html"):
            assert mixed.msg.get_body((kind,)).get_payload(decode=True) == mail.msg.get_body((kind,)).get_payload(decode=True)


def test_the_preferences_page_offers_each_catalog_language_by_its_own_name_and_saves_the_choice(sent, engine,
                                                                                                 settings):
    link = re.search(r"Manage preferences: (\S+)", sent["wes@example.com"].text).group(1)
    path = link.removeprefix(settings.base_url)
    client = local_client(create_app(settings, engine))
    page = client.get(path).text
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', page.split('id="language"')[1]
                              .split("</select>")[0]))
    assert options[""] == "Default" and options["ko"] == "한국어" and options["ja"] == "日本語"
    assert options["en"] == "English"
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    saved = client.post(path, data={"token": token, "language": "ko"})
    assert saved.status_code == 200 and 'value="ko" selected' in saved.text
    assert _language(engine) == "ko"
    refused = client.post(path, data={"token": token, "language": "klingon"})
    assert refused.status_code == 400 and "unknown language" in refused.text
    assert _language(engine) == "ko"


def _language(engine) -> str:
    with Session(engine) as session:
        return session.exec(select(Subscriber.language).where(Subscriber.email_key == "wes@example.com")).one()


def test_the_pages_a_korean_readers_links_open_are_in_korean(sent, engine, settings):
    seo = sent["seo@example.com"]
    client = local_client(create_app(settings, engine))
    unsubscribe = re.search(r"수신 거부: (\S+)", seo.text).group(1).removeprefix(settings.base_url)
    preferences = re.search(r"수신 설정 관리: (\S+)", seo.text).group(1).removeprefix(settings.base_url)
    page = client.get(unsubscribe).text
    assert '<html lang="ko">' in page and "AMW 다이제스트 수신을 거부하시겠어요?" in page
    assert "매주 받던 다이제스트가 더 이상 오지 않습니다" in page
    assert not re.search(r">[^<]*Unsubscribe[^<]*<", page.split("</style>")[1])  # no English in what is shown
    done = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).text
    assert "수신 거부되었습니다" in done and "마음이 바뀌셨나요?" in done
    page = client.get(preferences).text
    assert '<html lang="ko">' in page and "팔로우 중인 기업" in page and "설정 저장" in page and "월요일" in page
    for english in ("Companies you follow", "Save preferences", "Monday", "Time zone", "Your preferences"):
        assert english not in page
    more = re.search(r"소식 더 받기:\s+(\S+)", seo.text).group(1).removeprefix(settings.base_url)
    page = client.get(more).text
    assert '<html lang="ko">' in page and "네, 팔로우할게요" in page and "Yes, follow it" not in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = client.post(more, data={"token": token}).text
    assert re.search(r"(이제 .+을\(를\) 팔로우합니다|이미 .+ 팔로우하고 있습니다)", done), done
    web = re.search(r"브라우저에서 보기: (\S+)", seo.text).group(1).removeprefix(settings.base_url)
    page = client.get(web).text
    assert re.search(r'<html\s+lang="ko"', page) and "AMW Read는 기사마다" in unescape(page)
    # The English reader's pages stay English.
    wes = sent["wes@example.com"]
    page = client.get(re.search(r"Unsubscribe: (\S+)", wes.text).group(1).removeprefix(settings.base_url)).text
    assert '<html lang="en">' in page and "Unsubscribe from the AMW Digest?" in page


def test_a_korean_issue_passes_the_unsubscribe_lint_in_both_parts():
    from digest.render.lint import _has_unsubscribe_text

    # The label is 수신 거부, not "Unsubscribe": the link's own URL tells the check what it is.
    assert _has_unsubscribe_text("수신 거부: https://digest.example/unsubscribe/WzE3XQ.abc\n")
    assert not _has_unsubscribe_text("수신 거부: https://digest.example/preferences/WzE3XQ.abc\n")
