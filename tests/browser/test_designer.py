"""The report designer in a real browser on a phone: an analyst designs a bar chart of appointments by doctor.

Uses the dashboard test's `crm serve` (a seeded SQLite clinic). Each choice made
in a select previews the draft at once (static/designer.js submits the form);
the chart is drawn by ECharts, the page does not scroll sideways on a 390-pixel
screen (in large text too), and the YAML shown is the report's. With CRM_UPDATE_SCREENSHOTS=1 the
screenshot replaces docs/screenshots/designer-phone.png.
"""

from __future__ import annotations

import os

from test_dashboard import ARGS, CHROMIUM, DOC_SHOTS, DRAWN, pytestmark, server  # noqa: F401 (fixture, marks)


def _choose(page, name: str, value: str) -> None:
    """Pick `value` in select `name`; the designer previews the draft (a new page) on its own."""
    with page.expect_navigation():
        page.select_option(f'select[name="{name}"]', value)


def test_an_analyst_designs_a_bar_chart_on_a_phone(server, tmp_path):  # noqa: F811 (the fixture imported)
    from playwright.sync_api import sync_playwright

    shots = DOC_SHOTS if os.environ.get("CRM_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "designer-phone.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(15000)
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{server}/login")
            page.fill("#username", "analyst")
            page.fill("#password", "correct-horse-battery-staple")
            page.click(".login-form button")
            page.wait_for_url(f"{server}/")
            page.goto(f"{server}/reports")
            page.click("[data-designer-link]")
            page.wait_for_url(f"{server}/reports/designer")
            _choose(page, "source", "appointment")
            _choose(page, "d0_field", "doctor")
            _choose(page, "chart_type", "bar")
            _choose(page, "chart_x", "doctor")
            page.fill('input[name="name"]', "appointments_by_doctor")
            page.fill('input[name="title_en"]', "Appointments by doctor")
            _choose(page, "chart_y", "records")
            page.wait_for_selector("#chart-designer canvas")
            page.wait_for_timeout(300)
            drawn = page.evaluate(DRAWN)
            sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            problems_shown = page.locator("[data-problem]").count()
            yaml = page.locator("[data-yaml]").inner_text()
            page.screenshot(path=str(shot), full_page=True)
            page.click('button[name="large_text"][value="on"]')
            page.wait_for_selector("body.large-text")
            page.goto(
                f"{server}/reports/designer?source=appointment&d0_field=doctor&m0_name=n&m0_agg=count&chart_type=bar"
            )
            page.wait_for_selector("#chart-designer canvas")
            large_sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            context.close()
        finally:
            browser.close()
    assert not problems, problems
    assert problems_shown == 0
    assert [d["instance"] and d["canvas"] and d["series"] >= 1 for d in drawn] == [True], drawn
    assert sideways <= 0 and large_sideways <= 0
    assert "appointments_by_doctor:" in yaml and "type: bar" in yaml and "- doctor" in yaml
    assert shot.stat().st_size > 10_000
