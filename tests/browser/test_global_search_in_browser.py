"""In a real browser: `/` focuses the header's search box, a caller's whole number finds the patient, on a phone
without sideways scrolling; typing `/` inside a field types it."""

from __future__ import annotations

import pytest
from test_front_desk import ARGS, CHROMIUM, server  # noqa: F401  (the uvicorn server fixture)

pytestmark = [pytest.mark.browser]

PHONE = {"width": 375, "height": 667}


def test_slash_focuses_search_and_a_whole_number_finds_the_caller(server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport=PHONE, locale="en-US").new_page()
            page.set_default_timeout(15000)
            page.goto(f"{server}/login")
            page.fill("#username", "front_desk")
            page.fill("#password", "correct-horse-battery-staple")
            page.click(".login-form button")
            page.wait_for_url(f"{server}/")
            page.keyboard.press("/")
            assert page.evaluate("document.activeElement.id") == "global-search"
            page.keyboard.type("138 0013 0001")  # Zhang Wei, seeded by clinic_fixtures
            assert page.input_value("#global-search") == "138 0013 0001"  # the `/` was not typed
            page.keyboard.press("Enter")
            page.wait_for_selector("#results-patient")
            assert "Zhang Wei" in page.inner_text("#results-patient")
            assert "138****0001" in page.inner_text("#results-patient")  # still masked
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(tmp_path / "search-phone.png"), full_page=True)
            page.fill("#search-page-q", "")
            page.focus("#search-page-q")
            page.keyboard.type("a/b")  # inside a field `/` is just a character
            assert page.input_value("#search-page-q") == "a/b"
            assert page.evaluate("document.activeElement.id") == "search-page-q"
            page.click("#results-patient a.card-link")
            page.wait_for_selector("#value-phone")
        finally:
            browser.close()
