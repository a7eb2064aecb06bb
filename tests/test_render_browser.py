"""The rendered digest in headless Chromium: no overflow at 375 and 1024 px, titles visible, AA contrast."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.render import Renderer

from render_helpers import TEMPLATES, hostile_issue, issue, links
from tests.browser import chromium

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WIDTHS = (375, 1024)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile"), "--hide-scrollbars") as browser:
        yield browser


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Rendered digests written to files: a typical one, a hostile one, the maximum article count."""
    folder = tmp_path_factory.mktemp("digests")
    renderer = Renderer(TEMPLATES)
    out = {}
    for name, the_issue in {"typical": issue(8), "hostile": hostile_issue(9), "twenty": issue(20)}.items():
        rendered = renderer.render(the_issue, links())
        path = folder / f"{name}.html"
        path.write_text(rendered.html, encoding="utf-8")
        out[name] = (path, rendered)
    return out


def _load(driver, path: Path, width: int, *, dark: bool = False) -> None:
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "media": "screen", "features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
    driver.set_window_size(width, 900)
    driver.get(path.as_uri())
    # Size the window to the viewport we want (window chrome differs between builds).
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        driver.set_window_size(width + (width - inner), 900)


def _screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": min(height, 8000), "deviceScaleFactor": 1, "mobile": False})
    path = ARTIFACTS / f"render-{name}.png"
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["typical", "hostile", "twenty"])
def test_digest_has_no_horizontal_overflow_and_every_title_is_visible(driver, pages, name, width):
    path, rendered = pages[name]
    _load(driver, path, width)
    scroll_width, inner_width = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{name} overflows at {width}px: {scroll_width} > {inner_width}"
    titles = driver.execute_script("""
        return Array.from(document.querySelectorAll('h2 a')).map(a => {
            const r = a.getBoundingClientRect(), s = getComputedStyle(a);
            return {text: a.textContent, left: r.left, right: r.right, width: r.width, height: r.height,
                    visible: s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0'};
        });""")
    assert len(titles) == rendered.article_count
    for t in titles:
        assert t["visible"] and t["width"] > 0 and t["height"] > 0, t
        assert t["left"] >= 0 and t["right"] <= inner_width + 0.5, t
    shot = _screenshot(driver, f"{name}-{width}")
    assert shot.stat().st_size > 0


# Relative luminance and contrast per WCAG 2.x, on computed colours with their effective backgrounds.
_CONTRAST_JS = """
function parse(c) { const m = c.match(/[\\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
function bg(el) { for (; el; el = el.parentElement) { const c = parse(getComputedStyle(el).backgroundColor);
                  if (c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; }
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, el = node.parentElement;
  if (!node.textContent.trim() || !el) continue;
  const s = getComputedStyle(el), r = el.getBoundingClientRect();
  if (s.display === 'none' || s.visibility === 'hidden' || r.width === 0 || parseFloat(s.opacity) === 0) continue;
  let hidden = false; for (let p = el; p; p = p.parentElement) { if (getComputedStyle(p).display === 'none') hidden = true; }
  if (hidden) continue;
  const fg = parse(s.color), b = bg(el), l1 = lum(fg), l2 = lum(b);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
  const large = size >= 24 || (bold && size >= 18.66);
  out.push({text: node.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100, need: large ? 3 : 4.5,
            color: s.color, background: `rgb(${b.r}, ${b.g}, ${b.b})`});
}
return out;
"""


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_visible_text_passes_wcag_aa_contrast(driver, pages, dark):
    path, _ = pages["typical"]
    _load(driver, path, 375, dark=dark)
    results = driver.execute_script(_CONTRAST_JS)
    assert results, "no text found"
    failing = [r for r in results if r["ratio"] < r["need"]]
    assert not failing, failing[:10]
    _screenshot(driver, f"typical-375-{'dark' if dark else 'light'}")


def test_dark_mode_actually_darkens_the_cards(driver, pages):
    path, _ = pages["typical"]
    _load(driver, path, 1024, dark=True)
    card_bg = driver.execute_script("return getComputedStyle(document.querySelector('table.cd')).backgroundColor")
    body_bg = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert card_bg == "rgb(17, 24, 39)"
    assert body_bg == "rgb(11, 17, 32)"
