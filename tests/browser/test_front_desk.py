"""A front-desk clerk in a real browser: sign in, register a patient, find them, open their record.

Runs the app with uvicorn in a subprocess on a free port (stopped at the end, and
bounded by a timeout), once on a desktop window and once on a 375x667 phone.
Screenshots go to the test's own folder; with CRM_UPDATE_SCREENSHOTS=1 they replace
the ones in docs/screenshots/ that the README shows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from serving import served_project

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
DOC_SHOTS = REPO / "docs" / "screenshots"
SERVER_SECONDS = 240

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture
def server(tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "builder" / "web"))
    from clinic_fixtures import build_runtime, create_users, seed_clinic

    url = f"sqlite:///{tmp_path / 'project' / 'crm.sqlite3'}"
    runtime = build_runtime(tmp_path / "project", url)
    seed_clinic(runtime, create_users(runtime))
    config = runtime.project.config
    (tmp_path / "project" / "crm.toml").write_text(
        f'[project]\nblueprint = "{config["project"]["blueprint"]}"\n[database]\nurl = "{url}"\n'
        f'[security]\nkey_file = "{config["security"]["key_file"]}"\n',
        encoding="utf-8",
    )
    runtime.close()
    with served_project(tmp_path / "project", "browser-test-secret-key-0123456789abcdef") as base:
        yield base


def _front_desk_journey(browser, base: str, viewport: dict, suffix: str, phone: str, name: str, shots: Path) -> None:
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", "front_desk")
    page.fill("#password", "correct-horse-battery-staple")
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    page.click('a[href="/records/patient/new"]')
    page.fill("#f-name", name)
    page.fill("#f-phone", phone)
    page.select_option("#f-gender", "female")
    page.fill("#f-birth_date", "1956-08-15")
    page.screenshot(path=str(shots / f"form-{suffix}.png"), full_page=True)
    page.click("button.primary[type=submit]")
    page.wait_for_selector(".notice")
    assert name in page.inner_text("h1")
    page.goto(f"{base}/records/patient")
    page.fill("#q", name)
    page.click(".search-row button")
    page.wait_for_selector(f"text={name}")
    page.screenshot(path=str(shots / f"list-{suffix}.png"), full_page=True)
    page.click(f"text={name}")
    page.wait_for_selector("#value-phone")
    masked = page.inner_text("#value-phone")
    assert masked == phone[:3] + "****" + phone[-4:], masked  # the front desk sees the phone masked
    if suffix == "desktop":  # the patient on a phone is test_patient_page.py's shot (its related lists)
        page.screenshot(path=str(shots / f"patient-{suffix}.png"), full_page=True)
    context.close()


def test_front_desk_registers_and_finds_a_patient(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = DOC_SHOTS if os.environ.get("CRM_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            _front_desk_journey(
                browser, server, {"width": 1280, "height": 800}, "desktop", "13912345678", "Huang Mei", shots
            )
            _front_desk_journey(
                browser, server, {"width": 375, "height": 667}, "phone", "13987654321", "Zhou Lan", shots
            )
        finally:
            browser.close()
