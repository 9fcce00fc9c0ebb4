"""In a real browser on a phone, in large text: an admin uploads the messy GBK file, dry runs it,
imports it and reads the integrity report; nothing on the way is wider than the screen."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_front_desk import ARGS, CHROMIUM, server  # noqa: F401  (the uvicorn server fixture)

pytestmark = [pytest.mark.browser]

HERE = Path(__file__).resolve().parent


def _fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def test_an_admin_imports_on_a_phone_in_large_text(server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(HERE.parent / "builder" / "importing"))
    from messy_files import MAPPING, clinic_patients_csv

    source = clinic_patients_csv(tmp_path / "patients.csv")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US").new_page()
            page.set_default_timeout(30000)
            page.goto(f"{server}/login")
            page.fill("#username", "admin")
            page.fill("#password", "correct-horse-battery-staple")
            page.click(".login-form button")
            page.wait_for_url(f"{server}/")
            page.click('button[name="large_text"][value="on"]')
            page.wait_for_selector("body.large-text")

            page.goto(f"{server}/import")
            assert _fits(page)
            page.select_option("#import-entity", "patient")
            page.set_input_files("#import-file", str(source))
            page.click(".import-upload button[type=submit]")
            page.wait_for_selector("#import-mapping-text")
            assert "by: name" in page.input_value("#import-mapping-text")
            assert _fits(page)

            page.fill("#import-mapping-text", MAPPING)
            page.click("button[formaction$='/dry-run']")
            page.wait_for_selector(".import-problems")
            assert page.inner_text('[data-count="created"]') == "295"
            assert "Enter a valid phone number." in page.inner_text(".import-problems")
            assert _fits(page)

            page.click("button[formaction$='/run']")
            page.wait_for_selector("[data-integrity]", timeout=120000)
            assert page.get_attribute("[data-integrity]", "data-integrity") == "matches"
            assert page.inner_text('[data-count="created"]') == "295"
            assert _fits(page)
        finally:
            browser.close()
