"""In a real browser on a phone: the front desk ticks two patients, ticks a field in the list's bar (gender),
sets it with the form's own select, adds a second field (how they came) to the same change, and reads which
one the rules refused and why; the new pages fit 375 px and pass axe-core."""

from __future__ import annotations

import pytest
from test_every_page import AXE, AXE_RUN, WIDE
from test_front_desk import ARGS, CHROMIUM, server  # noqa: F401  (the uvicorn server fixture)

pytestmark = [pytest.mark.browser]

PHONE = {"width": 375, "height": 667}


def test_a_phone_sets_a_field_on_two_selected_patients_and_sees_the_refused_one(server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport=PHONE, locale="en-US", bypass_csp=True).new_page()
            page.set_default_timeout(15000)
            page.goto(f"{server}/login")
            page.fill("#username", "front_desk")
            page.fill("#password", "correct-horse-battery-staple")
            page.click(".login-form button")
            page.wait_for_url(f"{server}/")
            page.goto(f"{server}/records/patient")
            page.check('input[aria-label="Select Wang Fang"]')  # her resident id says female
            page.check('input[aria-label="Select Liu Yang"]')
            page.click("details.bulk-update > summary")
            page.check("#bulk-field-gender")  # one field ticked in the bar; a second is added on the next page
            assert page.evaluate(WIDE) <= 1  # the opened bar still fits the phone
            page.screenshot(path=str(tmp_path / "bar-phone.png"), full_page=True)
            page.click('button[data-bulk="update"]')
            page.wait_for_selector("#f-gender")
            assert "Apply to 2 selected" in page.inner_text('button[data-bulk="apply"]')
            page.select_option("#f-gender", label="Male")  # option labels, as in the record form
            page.select_option("#bulk-add-field", label="Came through")  # a second field in the same change
            page.click('button[data-bulk="add"]')
            page.wait_for_selector("#f-channel")
            assert page.input_value("#f-gender") == "male"  # what was chosen stays
            page.select_option("#f-channel", label="WeChat")
            problems = [f"value page: axe {v}" for v in _axe(page)]
            assert page.evaluate(WIDE) <= 1
            page.click('button[data-bulk="apply"]')
            page.wait_for_selector(".bulk-summary")
            summary = page.inner_text(".bulk-summary")
            assert "Done for 1 of 2 selected." in summary and "1 refused" in summary, summary
            refused = page.inner_text(".bulk-refused")
            assert "Refused: Gender: The gender differs from the one in the resident ID" in refused, refused
            assert page.evaluate(WIDE) <= 1
            problems += [f"result page: axe {v}" for v in _axe(page)]
            page.screenshot(path=str(tmp_path / "bulk-update-phone.png"), full_page=True)
            page.click("ul.bulk-refused a")
            assert "Female" in page.inner_text("main")  # the refused record kept its value
            page.goto(f"{server}/records/patient?q=Liu%20Yang")
            page.click("table.records tbody a")
            assert "Male" in page.inner_text("main") and "WeChat" in page.inner_text("main")
            assert not problems, "\n".join(problems)
        finally:
            browser.close()


def _axe(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)
