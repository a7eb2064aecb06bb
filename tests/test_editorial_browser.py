"""A digest with an editor's note and a pinned story in headless Chromium at 375 px, light and dark:
nothing overflows, the note and the pick are visible, every text passes AA contrast."""

from __future__ import annotations

import pytest

from tests.browser import chromium
from tests.test_editorial import FROM, UNTIL, WHEN, cli, story, world  # noqa: F401 (fixtures)
from tests.test_render_browser import _CONTRAST_JS, ARTIFACTS, _load, _screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_a_digest_with_a_note_and_a_pin_reads_well_at_375_px(world, cli, tmp_path, dark):  # noqa: F811
    cli("issue", "note", "**Our coverage of the chip export rules** continues all week: read "
        "[the explainer](https://amw.example/explainer) first. _Thanks for reading._", "--from", FROM, "--until", UNTIL)
    cli("issue", "pin", story(0), "--segment", "Compute", "--from", FROM, "--until", UNTIL)
    built = world.preview("bo@example.com", WHEN)
    page = tmp_path / "digest.html"
    page.write_text(built.rendered.html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "editorial-375.txt").write_text(built.rendered.text, encoding="utf-8")
    with chromium(tmp_path / "profile", "--hide-scrollbars") as driver:
        _load(driver, page, 375, dark=dark)
        scroll, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner
        note = driver.execute_script("""const n = document.querySelector('.en'); const r = n.getBoundingClientRect();
            return {text: n.innerText, left: r.left, right: r.right, link: n.querySelector('a').href}""")
        assert note["text"].upper().startswith("EDITOR'S NOTE") and "chip export rules" in note["text"]
        assert note["left"] >= 0 and note["right"] <= inner and note["link"] == "https://amw.example/explainer"
        first_title = driver.execute_script("return document.querySelector('h2 a').textContent")
        assert first_title.startswith("Story 0:")
        body = driver.execute_script("return document.body.innerText")
        assert "Editor's pick" in body
        failing = [r for r in driver.execute_script(_CONTRAST_JS) if r["ratio"] < r["need"]]
        assert not failing, failing[:10]
        _screenshot(driver, f"editorial-375-{'dark' if dark else 'light'}")
