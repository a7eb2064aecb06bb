"""Headless Chromium for the tests that look at what a person sees (Debian's chromium + chromedriver)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DIGEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DIGEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without the networking flags Chromium keeps calling home, which this machine's closed network refuses.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def require_browser() -> None:
    """Skip where no browser is installed, unless DIGEST_TEST_BROWSER=1 makes that a failure."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (shutil.which(p) or Path(p).is_file())]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    if os.environ.get("DIGEST_TEST_BROWSER") == "1":
        pytest.fail(f"DIGEST_TEST_BROWSER=1 but {', '.join(missing)} is missing "
                    "(.ci/run installs chromium and chromium-driver)")
    pytest.skip(f"headless Chromium not installed ({', '.join(missing)} missing); "
                "set DIGEST_TEST_BROWSER=1 to make this a failure")


@contextmanager
def chromium(profile: Path, *extra_flags: str, logs: bool = False):
    """A WebDriver on a fresh profile folder; quits when the block ends."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *extra_flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(driver, condition, seconds: float = 15):
    """Wait until condition(driver) is truthy and return it. A page a form or a link replaces can leave an
    element found a moment earlier stale before it is read: that, like an element not there yet, means
    "not yet", never a failure."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)
