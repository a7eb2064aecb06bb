"""Issue 16 in headless Chromium: a Korean and a Japanese issue at 375 px, no horizontal overflow and no
missing glyph. Glyphs are checked through Chromium's own account of the fonts it drew each title with
(CSS.getPlatformFontsForNode), once with the system's fonts (fonts-noto-cjk) and once with a
fontconfig that holds every font but the CJK ones: the check must see the difference."""

from __future__ import annotations

import os
import shutil
import unicodedata
from contextlib import contextmanager
from pathlib import Path

import pytest

from digest.render import Renderer

from render_helpers import TEMPLATES, article, issue, links
from tests.browser import CHROMEDRIVER, CHROMIUM, FLAGS, require_browser
from digest.types import Choice

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TITLES = {
    "ko": ["바이트댄스, 2026년 AI 설비투자 예산을 25% 늘린 2천억 위안으로 확정", "오픈AI, 기업 고객에 AI 엔지니어를 파견하는 40억 달러 규모 배포 회사 출범",
           "네이버, 하이퍼클로바X 기반 소버린 AI 데이터센터를 울산에 착공"],
    "ja": ["バイトダンス、2026年のAI設備投資予算を25％増の2000億元に引き上げ", "オープンAI、企業にAIエンジニアを派遣する40億ドル規模の新会社を設立",
           "ソフトバンク、国内最大級のAIデータセンターを北海道で着工"],
}
SUMMARY = {"ko": "이번 결정은 미국의 수출 규제 속에서도 중국 기업들이 자체 연산 인프라 확보에 속도를 내고 있음을 보여 준다. "
                 "회사는 추론 수요 증가를 이유로 들었다.",
           "ja": "今回の決定は、米国の輸出規制の下でも中国企業が自前の計算基盤の確保を急いでいることを示している。"
                 "同社は推論需要の増加を理由に挙げた。"}


def _issue(lang: str):
    choices = []
    for i, title in enumerate(TITLES[lang]):
        translations = ((lang, "summary", SUMMARY[lang]), (lang, "title", title))
        choices.append(Choice(article=article(i, translations=translations), reasons=(), rating=10.0 - i,
                              connected=(article(100 + i, hours_old=13, translations=((lang, "title", title[::-1]),)),),
                              reason_names=("OpenAI",)))
    return issue(choices=tuple(choices), name={"ko": "이서연", "ja": "佐藤 結衣"}[lang], language=lang)


@contextmanager
def _chromium(profile: Path, env: dict | None = None):
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env={**os.environ, **(env or {})}), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _no_cjk_fontconfig(folder: Path) -> dict:
    """FONTCONFIG_FILE for a fontconfig that knows every installed font except the CJK ones."""
    fonts = folder / "fonts"
    fonts.mkdir()
    kept = 0
    for path in Path("/usr/share/fonts").rglob("*"):
        if path.suffix.lower() in (".ttf", ".otf", ".ttc") and "cjk" not in path.name.lower():
            (fonts / f"{kept}-{path.name}").symlink_to(path)
            kept += 1
    assert kept, "no non-CJK font installed to compare with"
    config = folder / "fonts.conf"
    config.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig><dir>{fonts}</dir>'
                      f"<cachedir>{folder / 'cache'}</cachedir></fontconfig>\n", encoding="utf-8")
    return {"FONTCONFIG_FILE": str(config)}


def _load(driver, path: Path, width: int = 375) -> None:
    driver.set_window_size(width, 900)
    driver.get(path.as_uri())
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        driver.set_window_size(width + (width - inner), 900)


def _title_fonts(driver) -> list[tuple[str, int, dict[str, int]]]:
    """Per card title: (text, its CJK letters, glyphs drawn per font family)."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    out = []
    for node in driver.execute_cdp_cmd("DOM.querySelectorAll", {"nodeId": root, "selector": "h2 a"})["nodeIds"]:
        fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        text = driver.execute_cdp_cmd("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]
        cjk = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF" and ch.isalpha())
        out.append((text, cjk, {f["familyName"]: f["glyphCount"] for f in fonts}))
    return out


def _render(tmp_path: Path, lang: str) -> Path:
    rendered = Renderer(TEMPLATES).render(_issue(lang), links())
    path = tmp_path / f"{lang}.html"
    path.write_text(rendered.html, encoding="utf-8")
    return path


@pytest.mark.parametrize("lang", ["ko", "ja"])
def test_a_korean_or_japanese_issue_fits_375px_and_every_title_glyph_comes_from_a_cjk_font(tmp_path, lang):
    path = _render(tmp_path, lang)
    with _chromium(tmp_path / "profile") as driver:
        _load(driver, path)
        scroll, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{lang} overflows at 375px: {scroll} > {inner}"
        titles = _title_fonts(driver)
        assert len(titles) == len(TITLES[lang])
        for text, cjk, fonts in titles:
            drawn = sum(n for family, n in fonts.items() if "CJK" in family or "Noto Sans KR" in family)
            assert cjk and drawn >= cjk, (text, fonts)
        ARTIFACTS.mkdir(exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 375, "height": min(height, 8000), "deviceScaleFactor": 1, "mobile": False})
        driver.save_screenshot(str(ARTIFACTS / f"language-{lang}-375.png"))
    with _chromium(tmp_path / "profile-no-cjk", _no_cjk_fontconfig(tmp_path)) as driver:
        _load(driver, path)
        for text, cjk, fonts in _title_fonts(driver):
            # Without the CJK font no title's letters come from one: the check above can fail.
            assert not any("CJK" in family for family in fonts), (text, fonts)
