"""In a real browser: an over-long note comes back with the text kept and the error beside it, the
textarea carries the blueprint's limit, and the header's audit link can be read on the header."""

from __future__ import annotations

import pytest
from test_front_desk import ARGS, CHROMIUM, server  # noqa: F401  (the uvicorn server fixture)

pytestmark = [pytest.mark.browser]

NOTE = "过敏史" * 40_000  # 120,000 characters: over long_text's 20,000, and over 1 MB once encoded


def _luminance(rgb: str) -> float:
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_a_long_note_is_kept_and_the_audit_link_is_readable(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
            page.set_default_timeout(15000)
            page.goto(f"{server}/login")
            page.fill("#username", "admin")
            page.fill("#password", "correct-horse-battery-staple")
            page.click(".login-form button")
            page.wait_for_url(f"{server}/")
            link = page.locator('.top-bar a[href="/audit"]')
            colour = link.evaluate("a => getComputedStyle(a).color")
            header = page.locator(".top-bar").evaluate("h => getComputedStyle(h).backgroundColor")
            lighter, darker = sorted((_luminance(colour), _luminance(header)), reverse=True)
            assert (lighter + 0.05) / (darker + 0.05) >= 4.5, (colour, header)

            page.goto(f"{server}/records/patient/new")
            assert page.get_attribute("#f-allergies", "maxlength") == "20000"
            assert page.get_attribute("#f-name", "maxlength") == "50"
            page.fill("#f-allergies", NOTE)
            assert len(page.input_value("#f-allergies")) == 20000  # typing or pasting stops at the limit
            page.fill("#f-name", "Long Note")
            page.fill("#f-phone", "13911112222")
            page.locator("#f-allergies").evaluate("(t, note) => { t.value = note; }", NOTE)  # a script or old page
            page.click("button.primary[type=submit]")
            page.wait_for_selector("#err-allergies")
            assert "20000" in page.inner_text("#err-allergies")
            assert page.input_value("#f-allergies") == NOTE
            assert page.input_value("#f-name") == "Long Note"
        finally:
            browser.close()
