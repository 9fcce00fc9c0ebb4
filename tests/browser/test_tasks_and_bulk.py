"""In a real browser on a phone: "My tasks" makes a move with its inline button, and two list rows get a
manual automation started on them, with the summary in words."""

from __future__ import annotations

import re

import pytest
from test_front_desk import ARGS, CHROMIUM, server  # noqa: F401  (the uvicorn server fixture)

pytestmark = [pytest.mark.browser]

PHONE = {"width": 375, "height": 667}


def test_a_phone_confirms_from_my_tasks_and_reminds_two_selected_rows(server, tmp_path):  # noqa: F811
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
            page.click("summary.menu-toggle")  # on a phone the menu starts folded
            page.click("a.tasks-link")
            page.wait_for_url(f"{server}/tasks")
            cards = page.locator("li.task")
            assert cards.count() == 4
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
            first = cards.first
            record_id = re.fullmatch(r"task-appointment-(\d+)", first.get_attribute("id") or "").group(1)
            page.screenshot(path=str(tmp_path / "tasks-phone.png"), full_page=True)
            first.locator('button[data-transition="confirm"]').click()
            page.wait_for_selector(".notice")
            assert page.url.endswith("/tasks?moved=1")
            assert page.locator("li.task").count() == 3
            assert page.locator(f"#task-appointment-{record_id}").count() == 0
            assert page.text_content("a.tasks-link .badge") == "3"  # in the folded menu on a phone

            page.goto(f"{server}/records/appointment")
            page.check(f'input[name="ids"][value="{record_id}"]')
            other = page.locator(f'input[name="ids"]:not([value="{record_id}"])').first
            other.check()
            page.screenshot(path=str(tmp_path / "list-phone.png"), full_page=True)
            page.click('button[data-automation="appointment_reminder"]')
            page.wait_for_selector(".bulk-summary")
            summary = page.inner_text(".bulk-summary")
            assert "Done for 1 of 2 selected." in summary and "1 refused" in summary, summary
            assert "Does not apply to this record now" in page.inner_text(".bulk-refused")
            page.screenshot(path=str(tmp_path / "bulk-phone.png"), full_page=True)
        finally:
            browser.close()
