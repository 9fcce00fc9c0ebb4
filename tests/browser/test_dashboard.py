"""The operations dashboard in a real browser: the charts are drawn by ECharts, on a desktop and on a phone.

Runs `crm serve` (uvicorn in a subprocess on a free port, bounded by a timeout)
on a SQLite clinic seeded with the demo seeder, signs in as the admin (who sees
every cell; the analyst's small cells are hidden), opens the dashboard from the
home page, checks that every chart card holds a drawn ECharts instance (a canvas),
that KPI cards sit side by side on a desktop and every card is stacked on a phone,
and saves screenshots. With CRM_UPDATE_SCREENSHOTS=1 they replace
docs/screenshots/dashboard-desktop.png and dashboard-phone.png (README).
Skips when Chromium or the ECharts file (`make assets`) is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from serving import served_project

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
DOC_SHOTS = REPO / "docs" / "screenshots"
ECHARTS = REPO / "node_modules" / "echarts" / "dist" / "echarts.min.js"
SERVER_SECONDS = 240

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
    pytest.mark.skipif(not ECHARTS.exists(), reason="ECharts is not installed (make assets)"),
]


@pytest.fixture
def server(tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "builder" / "web"))
    from clinic_fixtures import build_runtime, create_users

    from builder.seeding import parse_rows, plan_rows
    from builder.seeding import seed as run_seed

    url = f"sqlite:///{tmp_path / 'project' / 'crm.sqlite3'}"
    runtime = build_runtime(tmp_path / "project", url)
    create_users(runtime)
    entities = runtime.blueprint.entities
    run_seed(runtime.records, entities, plan_rows(entities, parse_rows([], main=120)), locale="en", seed_value=2026)
    config = runtime.project.config
    (tmp_path / "project" / "crm.toml").write_text(
        f'[project]\nblueprint = "{config["project"]["blueprint"]}"\n[database]\nurl = "{url}"\n'
        f'[security]\nkey_file = "{config["security"]["key_file"]}"\n',
        encoding="utf-8",
    )
    runtime.close()
    with served_project(tmp_path / "project", "browser-test-secret-key-0123456789abcdef", SERVER_SECONDS) as base:
        yield base


DRAWN = """() => Array.from(document.querySelectorAll('[data-chart]')).map(box => {
  const chart = window.echarts && window.echarts.getInstanceByDom(box);
  const canvas = box.querySelector('canvas');
  return {id: box.id, instance: !!chart, series: chart ? chart.getOption().series.length : 0,
          canvas: !!canvas && canvas.width > 0 && canvas.height > 0};
})"""


def _open_dashboard(browser, base: str, viewport: dict, shot: Path, downloads: Path) -> list[dict]:
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", "correct-horse-battery-staple")
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    page.locator('main a[href="/dashboards/operations"]').first.click()  # linked from the home page
    page.wait_for_selector("[data-chart] canvas")
    page.wait_for_timeout(300)
    page.hover("#chart-5 canvas")  # a tooltip (drawn in the canvas: no inline style against the CSP)
    page.wait_for_timeout(200)
    page.mouse.move(0, 0)
    drawn = page.evaluate(DRAWN)
    kpis = page.locator(".kpi-value").all_inner_texts()
    widths = page.evaluate(
        "() => Array.from(document.querySelectorAll('.dash-card')).map(c => c.getBoundingClientRect().width)"
    )
    page.screenshot(path=str(shot), full_page=True)
    page.click(".dash-card h2 a >> nth=4")  # the revisit-rate chart's report page
    page.wait_for_selector("#chart-report canvas")
    table = page.locator("#table-report")
    assert table.is_hidden()  # the chart is drawn: its table is one press away
    page.click("[data-toggle-table]")
    assert table.is_visible()
    page.screenshot(path=str(downloads / f"{shot.stem}-report.png"), full_page=True)
    with page.expect_download() as download:
        page.click("[data-png]")
    png = downloads / f"{shot.stem}-chart.png"
    download.value.save_as(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    context.close()
    assert not problems, problems
    assert len(kpis) == 4 and all(k.strip() for k in kpis), kpis
    return [{**d, "widths": widths} for d in drawn]


def test_operations_dashboard_draws_its_charts_on_desktop_and_phone(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = DOC_SHOTS if os.environ.get("CRM_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            desktop = _open_dashboard(
                browser, server, {"width": 1280, "height": 900}, shots / "dashboard-desktop.png", tmp_path
            )
            phone = _open_dashboard(
                browser, server, {"width": 375, "height": 740}, shots / "dashboard-phone.png", tmp_path
            )
        finally:
            browser.close()
    for drawn in (desktop, phone):
        # revisit rate, no-show rate, new patients, blood-pressure risk, visits trend, appointment load,
        # first-visit cohort and the appointments forecast
        assert len(drawn) == 8, drawn
        assert all(d["instance"] and d["canvas"] and d["series"] >= 1 for d in drawn), drawn
    desktop_widths, phone_widths = desktop[0]["widths"], phone[0]["widths"]
    assert min(desktop_widths[:4]) < 400 < max(desktop_widths)  # KPI cards side by side, charts wider
    assert max(phone_widths) - min(phone_widths) < 2 and max(phone_widths) < 375  # stacked, one column
    assert (shots / "dashboard-desktop.png").stat().st_size > 10_000
    assert (shots / "dashboard-phone.png").stat().st_size > 10_000
