"""A headless Chromium for the tests that look at the Dagster UI as a user does.

Selenium is given Debian's browser and driver (`make browser`), so Selenium Manager never
looks for (or downloads) either. Without them the browser tests are skipped, except in CI
(CI=true), where they fail: CI installs them, and a missing browser must not pass unnoticed.
"""

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

# The React app loads its bundle, then fills the page from GraphQL: seconds on 2 cores.
PAGE_TIMEOUT_S = 60


@contextmanager
def chromium(width: int, height: int) -> Iterator[WebDriver]:
    """A headless Chromium with a window of `width` x `height` pixels, until the block ends."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        reason = "no Chromium or chromedriver installed (make browser installs them)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{reason}, and CI must run the browser tests")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@contextmanager
def screenshot_on_failure(driver: WebDriver, folder: Path) -> Iterator[None]:
    """Keep what the browser showed when a test fails; the failure says where."""
    try:
        yield
    except Exception as failure:
        screenshot = folder / "screenshot.png"
        driver.save_screenshot(str(screenshot))
        failure.add_note(f"the browser showed: {screenshot}")
        raise


def page_text(driver: WebDriver, *patterns: str) -> str:
    """The page's text once every one of `patterns` shows in it."""

    def text_when_shown(driver: WebDriver) -> str | None:
        text = driver.find_element(By.TAG_NAME, "body").text
        return text if all(re.search(pattern, text) for pattern in patterns) else None

    return str(WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.2).until(text_when_shown))
