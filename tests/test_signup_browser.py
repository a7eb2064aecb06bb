"""A stranger signs up in headless Chromium: the picker, the browser's time zone, the
confirmation email, the confirm button, the preferences page; the same address again, the
honeypot, and the JSON API from another origin (allowed and refused by DIGEST_CORS_ORIGINS).
Screenshots at 375 px go to test-artifacts/ (the signup, confirm and company pages, the email)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from digest.db import make_engine
from digest.mailers.memory import MemoryMailer
from digest.web import create_app
from tests.browser import chromium, wait_until
from tests.signup_helpers import html_part, link_in, mails_to, subscriber
from tests.web_helpers import LiveServer, build_seeded, copy_seeded, free_port, settings_for

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0] + "/subscribe", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({email: arguments[1], companies: ["OpenAI"]})})
  .then(r => r.json().then(j => done(r.status + " " + j.status)))
  .catch(e => done("blocked: " + e.name));
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile"), "--window-size=400,900", logs=True) as driver:
        yield driver


@pytest.fixture(scope="module")
def other_sites(tmp_path_factory):
    """Two plain pages on other origins (ports): one on the allow-list, one not."""
    folder = tmp_path_factory.mktemp("other")
    (folder / "index.html").write_text("<!doctype html><title>AMW</title><p>AMW's own site</p>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for server in servers:
        server.shutdown()


@pytest.fixture
def site(tmp_path, other_sites):
    url = copy_seeded(build_seeded(tmp_path), tmp_path)
    port = free_port()
    settings = settings_for(url, tmp_path).replace(base_url=f"http://127.0.0.1:{port}", cors_origins=other_sites[0])
    engine = make_engine(url)
    MemoryMailer.reset()
    with LiveServer(create_app(settings, engine), port=port) as server:
        yield SimpleNamespace(url=server.url, engine=engine)
    engine.dispose()


def screenshot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": min(height, 1500), "deviceScaleFactor": 1, "mobile": True})
    driver.save_screenshot(str(ARTIFACTS / f"signup-{name}.png"))
    overflow = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert not overflow, f"{name} is wider than 375 px"


def fill_signup(driver, site, address: str) -> None:
    driver.get(f"{site.url}/subscribe?company=openai")
    driver.find_element(By.ID, "email").send_keys(address)
    driver.find_element(By.ID, "follow").send_keys("Data & IP")  # a segment, found by the picker


def test_a_stranger_signs_up_confirms_from_the_email_and_lands_on_the_preferences(browser, site, tmp_path):
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/Chicago"})
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    fill_signup(browser, site, "stranger@example.org")
    chips = [c.get_attribute("value") for c in browser.find_elements(By.CSS_SELECTOR, "#chips input:checked")]
    assert chips == ["OpenAI", "Data & IP"]  # pre-filled by ?company=, then picked
    assert browser.find_element(By.ID, "follow").get_attribute("value") == ""
    assert browser.find_element(By.ID, "timezone").get_attribute("value") == "America/Chicago"
    screenshot(browser, "form")
    browser.find_element(By.ID, "subscribe").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "result"))
    first_text = browser.find_element(By.TAG_NAME, "main").text
    assert "Check your inbox" in first_text
    person = subscriber(site.engine, "stranger@example.org")
    assert person.status == "pending" and person.timezone == "America/Chicago"

    [mail] = mails_to("stranger@example.org")
    (tmp_path / "email.html").write_text(html_part(mail), encoding="utf-8")
    browser.get((tmp_path / "email.html").as_uri())
    screenshot(browser, "email")
    browser.get(link_in(mail, "/confirm/"))
    assert subscriber(site.engine, "stranger@example.org").status == "pending"  # opening it changes nothing
    screenshot(browser, "confirm")
    browser.find_element(By.ID, "confirm").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "saved"))
    assert "Subscription confirmed." in browser.find_element(By.ID, "saved").text
    assert urlsplit(browser.current_url).path.startswith("/preferences/")
    assert subscriber(site.engine, "stranger@example.org").status == "active"

    # The same address again: the same page, no second email.
    fill_signup(browser, site, "stranger@example.org")
    browser.find_element(By.ID, "subscribe").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "result"))
    assert browser.find_element(By.TAG_NAME, "main").text == first_text
    # No second confirmation: a subscribed reader is sent their preferences link instead.
    first, second = mails_to("stranger@example.org")
    assert "/confirm/" in link_in(first, "/confirm/") and "/preferences/" in link_in(second, "/preferences/")
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_honeypot_gets_the_same_page_and_nothing_happens(browser, site):
    fill_signup(browser, site, "bot@example.org")
    browser.execute_script("document.getElementById('website').value = 'http://spam.example'")
    browser.find_element(By.ID, "subscribe").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "result"))
    assert "Check your inbox" in browser.find_element(By.TAG_NAME, "main").text
    assert subscriber(site.engine, "bot@example.org") is None and MemoryMailer.outbox == []


def test_the_json_api_answers_a_listed_origin_and_the_browser_blocks_the_rest(browser, site, other_sites):
    allowed, refused = other_sites
    browser.get(allowed + "/index.html")
    assert browser.execute_async_script(FETCH, site.url, "amw-site@example.org") == "202 accepted"
    browser.get(refused + "/index.html")
    assert browser.execute_async_script(FETCH, site.url, "elsewhere@example.org").startswith("blocked")
    assert subscriber(site.engine, "amw-site@example.org").status == "pending"
    assert subscriber(site.engine, "elsewhere@example.org") is None


def test_a_company_page_at_375_px_and_its_follow_button(browser, site):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    browser.get(f"{site.url}/companies/openai/")
    screenshot(browser, "company")
    browser.find_element(By.ID, "follow").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "signup"))
    chips = [c.get_attribute("value") for c in browser.find_elements(By.CSS_SELECTOR, "#chips input:checked")]
    assert chips == ["OpenAI"]
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
