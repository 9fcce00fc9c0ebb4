"""The patient at the centre on a phone, in a real browser: the folded menu, related appointments, New… prefilled.

The app runs with `crm serve` in a subprocess (the front-desk test's `server` fixture).
The screenshot goes to the test's folder; with CRM_UPDATE_SCREENSHOTS=1 it replaces
docs/screenshots/patient-phone.png, which the README shows.
"""

from __future__ import annotations

import os

import pytest
from test_front_desk import ARGS, CHROMIUM, DOC_SHOTS, server  # noqa: F401  (the crm serve fixture)

pytestmark = [pytest.mark.browser]

PHONE = {"width": 375, "height": 667}


def test_a_patient_on_a_phone_shows_appointments_and_books_one_prefilled(server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    shots = DOC_SHOTS if os.environ.get("CRM_UPDATE_SCREENSHOTS") == "1" else tmp_path
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport=PHONE, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(15000)
            page.goto(f"{server}/login")
            page.fill("#username", "front_desk")
            page.fill("#password", "correct-horse-battery-staple")
            page.click(".login-form button")
            page.wait_for_url(f"{server}/")

            # the menu is folded on a phone; its toggle opens it from the keyboard
            menu = page.locator("details.main-menu")
            assert menu.evaluate("d => d.open") is False
            assert not page.locator('.main-menu a[href="/records/patient"]').is_visible()
            page.focus("summary.menu-toggle")
            page.keyboard.press("Enter")
            assert menu.evaluate("d => d.open") is True
            page.click('.main-menu a[href="/records/patient"]')
            page.wait_for_url(f"{server}/records/patient")
            assert page.locator('.main-menu a[aria-current="page"]').get_attribute("href") == "/records/patient"

            page.goto(f"{server}/records/patient/1")
            related = page.locator("#related-appointment-patient")
            related.wait_for()
            assert "Appointment" in related.inner_text() and "Dr. Li" in related.inner_text()
            assert "Requested" in related.inner_text()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the patient page scrolls sideways on a phone ({width}px)"
            page.screenshot(path=str(shots / "patient-phone.png"), full_page=True)

            page.click('.new-related a[href="/records/appointment/new?patient=1"]')
            page.wait_for_selector("#f-patient")
            assert page.input_value("#f-patient") == "1"  # the patient is filled in
            page.select_option("#f-doctor", label="Dr. Zhao · Dental")
            page.fill("#f-starts_at", "2026-05-04T09:00")
            page.click("button.primary[type=submit]")
            page.wait_for_selector(".notice")
            page.goto(f"{server}/records/patient/1")
            assert "2026-05-04 09:00" in page.locator("#related-appointment-patient").inner_text()
            context.close()
        finally:
            browser.close()
