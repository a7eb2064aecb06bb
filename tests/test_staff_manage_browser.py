"""The staff pages in headless Chromium: a staff member finds a reader by a company they follow and
unsubscribes them from the page; pins a story and writes a note that the preview then shows; a
form whose CSRF token was taken out is refused. No Content-Security-Policy violations."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from selenium.webdriver.common.by import By
from sqlmodel import Session, select

from digest.db import make_engine
from digest.models import EditorialControl, Subscriber
from digest.pipeline import Pipeline
from digest.web import create_app
from tests.browser import chromium, wait_until
from tests.web_helpers import AS_OF_TEXT, LiveServer, build_seeded, copy_seeded, free_port, settings_for

pytestmark = pytest.mark.browser
ANA, JIHOON = "ana@example.com", "jihoon.park@example.net"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile"), "--window-size=1400,1000", logs=True) as driver:
        yield driver


@pytest.fixture
def site(tmp_path):
    url = copy_seeded(build_seeded(tmp_path), tmp_path / "..")
    port = free_port()
    settings = settings_for(url, tmp_path).replace(base_url=f"http://127.0.0.1:{port}")
    engine = make_engine(url)
    with LiveServer(create_app(settings, engine, spool_thread=False), port=port) as server:
        yield SimpleNamespace(url=server.url, engine=engine, pipeline=Pipeline(engine, settings))
    engine.dispose()


def status_of(engine, email: str) -> str:
    with Session(engine) as session:
        return session.exec(select(Subscriber.status).where(Subscriber.email_key == email)).one()


def csp_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_find_a_reader_by_a_company_they_follow_and_unsubscribe_them(browser, site):
    browser.get(f"{site.url}/staff/subscribers")
    box = browser.find_element(By.ID, "q")
    box.send_keys("OpenAI")
    box.submit()
    wait_until(browser, lambda d: "q=OpenAI" in d.current_url)
    link = next(a for a in browser.find_elements(By.CSS_SELECTOR, "#results a")
                if ANA in a.find_element(By.XPATH, "../..").text)
    link.click()
    wait_until(browser, lambda d: "/staff/subscribers/" in d.current_url)
    assert browser.find_element(By.ID, "state").text == "active"
    browser.find_element(By.CSS_SELECTOR, "#unsubscribe button").click()
    wait_until(browser, lambda d: "done=unsubscribed" in d.current_url)
    assert browser.find_elements(By.ID, "state"), browser.find_element(By.TAG_NAME, "body").text[:500]
    assert browser.find_element(By.ID, "state").text == "unsubscribed"
    assert status_of(site.engine, ANA) == "unsubscribed"
    assert "staff" in browser.find_element(By.ID, "suppression").text
    assert csp_errors(browser) == []


def test_a_note_written_on_the_page_shows_in_the_preview_and_a_form_without_csrf_is_refused(browser, site):
    browser.get(f"{site.url}/staff/articles?as_of={AS_OF_TEXT}")
    # CSRF token taken out: refused, nothing recorded
    browser.execute_script("document.querySelector('#note input[name=csrf]').remove();"
                           "document.getElementById('text').value = 'Forged';"
                           "document.getElementById('note').submit();")
    wait_until(browser, lambda d: d.current_url.endswith("/staff/editorial"))
    assert "Form expired" in browser.find_element(By.TAG_NAME, "h1").text
    with Session(site.engine) as session:
        assert session.exec(select(EditorialControl)).all() == []
    browser.get(f"{site.url}/staff/articles?as_of={AS_OF_TEXT}")
    browser.find_element(By.ID, "text").send_keys("**Chip week**: read [the explainer](https://amw.example/x)")
    browser.find_element(By.ID, "segment").send_keys("Compute")
    browser.execute_script("document.getElementById('start').value = '2026-11-20T00:00';")
    browser.find_element(By.CSS_SELECTOR, "#note button").click()
    wait_until(browser, lambda d: "done=note" in d.current_url)
    assert "Done: note" in browser.find_element(By.ID, "notice").text
    assert "Chip week" in browser.find_element(By.ID, "controls").text
    browser.get(f"{site.url}/preview/email?email={JIHOON}&as_of={AS_OF_TEXT}")
    note = browser.find_element(By.CSS_SELECTOR, ".en")
    assert "Chip week" in note.text and note.find_element(By.TAG_NAME, "b").text == "Chip week"
    browser.get(f"{site.url}/preview/email?email={ANA}&as_of={AS_OF_TEXT}")
    assert browser.find_elements(By.CSS_SELECTOR, ".en") == []  # Ana follows no Compute segment
    with Session(site.engine) as session:
        control = session.exec(select(EditorialControl)).one()
    assert (control.kind, control.created_by, control.target_name) == ("note", "staff:local", "Compute")
    assert csp_errors(browser) == []
