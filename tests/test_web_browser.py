"""End to end in headless Chromium: the staff preview, switching subscriber, unsubscribing, preferences."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from digest.db import make_engine
from digest.models import Subscriber
from digest.pipeline import Pipeline
from digest.web import create_app
from tests.browser import chromium, wait_until
from tests.web_helpers import AS_OF, AS_OF_TEXT, LiveServer, build_seeded, copy_seeded, free_port, settings_for

pytestmark = pytest.mark.browser

ANA, OTHER = "ana@example.com", "juergen.weiss@example.net"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile"), "--window-size=1400,1000", logs=True) as driver:
        yield driver


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def site(seeded, tmp_path):
    url = copy_seeded(seeded, tmp_path)
    port = free_port()
    settings = settings_for(url, tmp_path).replace(base_url=f"http://127.0.0.1:{port}")
    engine = make_engine(url)
    with LiveServer(create_app(settings, engine), port=port) as server:
        yield SimpleNamespace(url=server.url, engine=engine, pipeline=Pipeline(engine, settings))
    engine.dispose()


def status_of(engine, email: str) -> str:
    with Session(engine) as session:
        return session.exec(select(Subscriber.status).where(Subscriber.email_key == email)).one()


def csp_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_preview_shows_the_issue_in_both_frames_and_switches_subscriber(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{site.url}/preview?email={ANA}&as_of={AS_OF_TEXT}")
    expected = site.pipeline.preview(ANA, AS_OF).rendered
    assert browser.find_element(By.ID, "subject").text == expected.subject
    reasons = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#articles td.why")]
    assert reasons and all(reasons)
    for frame_id in ("frame-desktop", "frame-phone"):
        browser.switch_to.frame(browser.find_element(By.ID, frame_id))
        # Frames load on their own after the page: wait for the email's text, not a fixed time.
        wait_until(browser, lambda d: "AMW DIGEST" in d.find_element(By.TAG_NAME, "body").text.upper())
        browser.switch_to.default_content()
    assert browser.find_element(By.ID, "frame-phone").size["width"] < 420  # the phone frame is phone-sized

    Select(browser.find_element(By.ID, "email")).select_by_value(OTHER)
    browser.find_element(By.ID, "show").click()
    wait_until(browser, lambda d: f"email={OTHER.replace('@', '%40')}" in d.current_url)
    assert browser.find_element(By.ID, "subject").text == site.pipeline.preview(OTHER, AS_OF).rendered.subject
    assert csp_errors(browser) == []  # the page's own styles and frames are within its policy


def test_following_the_unsubscribe_link_and_pressing_the_button_unsubscribes(browser, site):
    from selenium.webdriver.common.by import By

    browser.get(f"{site.url}/preview?email={ANA}&as_of={AS_OF_TEXT}")

    browser.switch_to.frame(browser.find_element(By.ID, "frame-desktop"))
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a[href*='/unsubscribe/']"))
    link = next(a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")
                if "/unsubscribe/" in (a.get_attribute("href") or ""))
    browser.switch_to.default_content()

    browser.get(link)
    assert status_of(site.engine, ANA) == "active"  # opening the link (as a scanner would) changes nothing
    browser.find_element(By.ID, "unsubscribe").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "result"))
    assert browser.find_element(By.ID, "result").text == "You're unsubscribed"
    assert browser.current_url == link  # answered in place, no redirect
    assert status_of(site.engine, ANA) == "unsubscribed"
    # Changed your mind? The way back is one button on the same page.
    assert "Changed your mind?" in browser.find_element(By.ID, "undo").text
    browser.find_element(By.ID, "resubscribe").click()
    # The form posts and the page is replaced: the old #result may go stale between finding and reading it.
    wait_until(browser, lambda d: d.find_element(By.ID, "result").text == "You're subscribed again")
    assert status_of(site.engine, ANA) == "active" and not csp_errors(browser)


def test_preferences_form_saves_in_the_browser(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    reader = site.pipeline.preview(ANA, AS_OF).issue.reader
    browser.get(site.pipeline.links(reader, "2026-W48").preferences)
    Select(browser.find_element(By.ID, "send_hour")).select_by_value("17")
    browser.find_element(By.ID, "add_companies").send_keys("Nvidia")
    browser.find_element(By.ID, "save").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "saved"))
    with Session(site.engine) as session:
        person = session.exec(select(Subscriber).where(Subscriber.email_key == ANA)).one()
        assert person.send_hour == 17
    assert "Nvidia" in site.pipeline.preview(ANA, AS_OF).issue.reader.companies


def test_the_send_test_form_works_in_a_real_browser(browser, seeded, tmp_path):
    # The staff pages send no referrer, so Chromium posts their forms with `Origin: null`: the browser's
    # Sec-Fetch-Site must be what tells our own form from another site's.
    from selenium.webdriver.common.by import By

    from digest.mailers.memory import MemoryMailer

    url = copy_seeded(seeded, tmp_path)
    port = free_port()
    settings = settings_for(url, tmp_path).replace(base_url=f"http://127.0.0.1:{port}",
                                                   staff_addresses="qa@amw.example")
    engine = make_engine(url)
    MemoryMailer.reset()
    try:
        with LiveServer(create_app(settings, engine), port=port) as server:
            browser.get(f"{server.url}/preview?email={ANA}&as_of={AS_OF_TEXT}")
            browser.find_element(By.ID, "to").send_keys("qa@amw.example")
            browser.find_element(By.ID, "send").click()
            wait_until(browser, lambda d: "Test to qa@amw.example" in d.page_source
                                             or "Form expired" in d.page_source)
            assert "Test to qa@amw.example: sent" in browser.page_source
        assert [m.recipient for m in MemoryMailer.outbox] == ["qa@amw.example"]
    finally:
        engine.dispose()
