"""In a real browser: a filtered link picker follows the form, "New …" creates and picks a doctor in a dialog
(its department filled in from the filter, a changed one refused in the dialog),
and a half-filled form comes back as a draft after a reload, without its sensitive or PHI values."""

from __future__ import annotations

import pytest
from test_front_desk import ARGS, CHROMIUM, server  # noqa: F401  (the served clinic fixture)

pytestmark = [pytest.mark.browser]

DRAFT_KEY = "crm-draft:admin:patient:new"


def _signed_in(browser, base: str):
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", "correct-horse-battery-staple")
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    return page


def _until(page, script: str, arg=None) -> None:
    """Wait until `script` (a function of `arg`) is true in the page; the CSP forbids wait_for_function's eval."""
    for _ in range(150):
        if page.evaluate(script, arg):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {script}")


def _doctor_options(page) -> list[str]:
    return page.eval_on_selector_all("#f-doctor option", "os => os.filter(o => o.value).map(o => o.textContent)")


def test_the_doctor_picker_follows_the_department_and_quick_creates(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = _signed_in(browser, server)
            page.goto(f"{server}/records/visit/new")
            assert sorted(o.split(" · ")[0] for o in _doctor_options(page)) == ["Dr. Li", "Dr. Zhao"]
            page.select_option("#f-department", "dental")
            _until(page, "() => document.querySelectorAll('#f-doctor option:not([value=\"\"])').length == 1")
            assert [o.split(" · ")[0] for o in _doctor_options(page)] == ["Dr. Zhao"]
            page.select_option("#f-department", "internal_medicine")
            _until(page, "() => document.querySelector('#f-doctor').dataset.refreshed == '2'")
            assert [o.split(" · ")[0] for o in _doctor_options(page)] == ["Dr. Li"]

            page.click('a.quick-new[data-quick-for="f-doctor"]')
            dialog = page.locator("dialog.quick-dialog")
            dialog.locator('input[name="name"]').fill("Dr. Sun")
            department = dialog.locator('select[name="department"]')
            assert department.input_value() == "internal_medicine"  # what the doctor filter pins, filled in
            department.select_option("dental")  # changed: he would not be a doctor this visit may take
            dialog.locator("button[type=submit]").click()
            dialog.locator(".alert[role=alert]").wait_for()
            assert "not be one of the allowed choices" in dialog.locator(".alert[role=alert]").inner_text()
            assert dialog.locator('input[name="name"]').input_value() == "Dr. Sun"  # nothing typed is lost
            dialog.locator('select[name="department"]').select_option("internal_medicine")
            dialog.locator("button[type=submit]").click()
            page.wait_for_selector("dialog.quick-dialog", state="detached")
            chosen = page.eval_on_selector("#f-doctor", "s => s.options[s.selectedIndex].textContent")
            assert chosen.startswith("Dr. Sun")

            page.select_option("#f-patient", index=1)
            page.click("button.primary[type=submit]")
            page.wait_for_url("**/records/visit/*?saved=1")
            assert "Dr. Sun" in page.inner_text("main") and "Internal medicine" in page.inner_text("main")
        finally:
            browser.close()


def test_a_draft_comes_back_after_a_reload_without_sensitive_values(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = _signed_in(browser, server)
            page.goto(f"{server}/records/patient/new")
            assert page.is_hidden(".draft-notice")
            page.fill("#f-name", "Draft Person")
            page.fill("#f-phone", "13911112222")  # sensitive
            page.fill("#f-allergies", "peanuts")  # PHI
            _until(page, "([k, v]) => (localStorage.getItem(k) || '').includes(v)", [DRAFT_KEY, "Draft Person"])
            stored = page.evaluate("k => localStorage.getItem(k)", DRAFT_KEY)
            assert "13911112222" not in stored and "peanuts" not in stored

            page.reload()
            page.wait_for_selector(".draft-notice", state="visible")
            assert page.input_value("#f-name") == "Draft Person"
            assert page.input_value("#f-phone") == "" and page.input_value("#f-allergies") == ""

            page.click("[data-discard-draft]")
            page.wait_for_load_state("load")
            page.wait_for_selector(".draft-notice", state="hidden")
            assert page.input_value("#f-name") == ""
            assert page.evaluate("k => localStorage.getItem(k)", DRAFT_KEY) is None

            page.fill("#f-name", "Saved Person")
            _until(page, "([k, v]) => (localStorage.getItem(k) || '').includes(v)", [DRAFT_KEY, "Saved Person"])
            page.click("button.primary[type=submit]")  # refused: the phone is required
            page.wait_for_selector("#err-phone")
            assert "Saved Person" in (page.evaluate("k => localStorage.getItem(k)", DRAFT_KEY) or "")  # still kept
            page.fill("#f-phone", "13911113333")
            page.click("button.primary[type=submit]")
            page.wait_for_url("**/records/patient/*?saved=1")
            assert page.evaluate("k => localStorage.getItem(k)", DRAFT_KEY) is None  # a successful save clears it
        finally:
            browser.close()


def test_a_picked_value_in_the_address_wins_and_a_stale_edit_draft_is_dropped(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = _signed_in(browser, server)
            page.goto(f"{server}/records/visit/new")
            li, zhao = (o.split(" · ")[0] for o in sorted(_doctor_options(page)))
            ids = page.eval_on_selector_all("#f-doctor option", "os => os.filter(o => o.value).map(o => o.value)")
            page.select_option("#f-doctor", index=1)
            page.fill("#f-wait_minutes", "25")
            key = "crm-draft:admin:visit:new"
            _until(page, "([k, v]) => (localStorage.getItem(k) || '').includes(v)", [key, '"25"'])
            other = next(i for i in ids if i != page.input_value("#f-doctor"))
            page.goto(f"{server}/records/visit/new?doctor={other}")  # back from a quick-create
            page.wait_for_selector(".draft-notice", state="visible")
            assert page.input_value("#f-wait_minutes") == "25" and page.input_value("#f-doctor") == other
            assert {li, zhao} == {"Dr. Li", "Dr. Zhao"}

            page.goto(f"{server}/records/staff/1/edit")
            page.fill("#f-name", "Dr. Li (draft)")
            _until(page, "k => (localStorage.getItem(k) || '').includes('draft')", "crm-draft:admin:staff:1")
            second = _signed_in(browser, server)  # another browser: its own storage, no draft there
            second.goto(f"{server}/records/staff/1/edit")
            second.fill("#f-name", "Dr. Li Ming")
            second.click("button.primary[type=submit]")
            second.wait_for_url("**/records/staff/1?saved=1")
            page.reload()  # the record changed since the draft: restoring it would undo that change
            assert page.input_value("#f-name") == "Dr. Li Ming" and page.is_hidden(".draft-notice")
            assert page.evaluate("k => localStorage.getItem(k)", "crm-draft:admin:staff:1") is None
        finally:
            browser.close()
