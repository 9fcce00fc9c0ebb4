"""A patient's own reading form in a real browser on a phone, from a link staff made.

Staff sign in on a desktop window, open the patient's record and press "Send form
link"; the link is opened in a fresh phone context (375x667, WeChat's user agent, no
cookies of staff) where the patient fills the reading and sees the thanks page. Run on
the clinic (a blood-pressure reading, in Chinese) and on the physio vertical (a pain
score, in English). The app runs under `crm serve` in a subprocess, bounded by a
timeout. With CRM_UPDATE_SCREENSHOTS=1 the clinic's screenshots replace
docs/screenshots/public-reading-phone.png and public-link-desktop.png.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import served_project

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
DOC_SHOTS = REPO / "docs" / "screenshots"
SERVER_SECONDS = 240
SECRET = "browser-test-secret-key-0123456789abcdef"
PASSWORD = "correct-horse-battery-staple"
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


def _serve(project: Path) -> Iterator[str]:
    with served_project(project, SECRET) as base:
        yield base


@pytest.fixture
def clinic_server(tmp_path) -> Iterator[str]:
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
    yield from _serve(tmp_path / "project")


@pytest.fixture
def physio_server(tmp_path, monkeypatch) -> Iterator[str]:
    sys.path.insert(0, str(REPO / "tests" / "verticals"))
    from argon2 import PasswordHasher
    from physio import crm, init_physio_project

    from builder.accounts import add_user
    from builder.records import SYSTEM
    from builder.runtime import open_runtime

    for name in ("CRM_DATABASE_URL", "CRM_ENCRYPTION_KEYS", "CRM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    project = init_physio_project(tmp_path / "physio", f"sqlite:///{tmp_path / 'physio.sqlite3'}")
    assert crm("migrate", "-p", project, "--yes").exit_code == 0
    runtime = open_runtime(project)
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    add_user(runtime.engine, "admin", "admin", PASSWORD, "en", roles=list(runtime.blueprint.roles), hasher=quick)
    runtime.records.create(SYSTEM, "client", {"full_name": "Grace Ho", "mobile": "13700001111"})
    runtime.close()
    yield from _serve(project)


def _make_link(browser, base: str, user: str, entity: str, record_id: int, shot: Path | None = None) -> str:
    """Staff on a desktop: sign in, open the record, press "Send form link", read the link."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/records/{entity}/{record_id}")
    page.click("text=Send form link")
    page.wait_for_selector("#public-link")
    assert page.locator(".qr svg").count() == 1  # the QR code, drawn inline
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    link = page.inner_text("#public-link")
    context.close()
    return link


def _phone(browser, locale: str):
    context = browser.new_context(
        viewport={"width": 375, "height": 667}, locale=locale, user_agent=WECHAT, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _shots(tmp_path: Path) -> Path:
    shots = DOC_SHOTS if os.environ.get("CRM_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_a_patient_fills_a_blood_pressure_reading_on_a_phone(clinic_server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = _shots(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            link = _make_link(browser, clinic_server, "doctor", "patient", 1, shots / "public-link-desktop.png")
            context, page = _phone(browser, "zh-CN")
            page.goto(link)
            assert page.inner_text("h1") == "居家测量记录"
            assert "large-text" in (page.get_attribute("body", "class") or "")  # large by default
            assert "Wang Fang" not in page.content()  # nothing of the patient
            page.fill("#f-systolic", "138")
            page.fill("#f-diastolic", "88")
            page.select_option("#f-glucose_context", "fasting")
            page.fill("#f-glucose", "6.2")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"the form is {width}px wide on a 375px phone"
            page.screenshot(path=str(shots / "public-reading-phone.png"), full_page=True)
            page.click("button.primary[type=submit]")
            page.wait_for_selector(".public-message")
            assert "谢谢" in page.inner_text(".public-message")
            context.close()
        finally:
            browser.close()


def test_a_client_fills_the_pain_diary_on_a_phone(physio_server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            link = _make_link(browser, physio_server, "admin", "client", 1)
            context, page = _phone(browser, "en-US")
            page.goto(link)
            assert page.inner_text("h1") == "Pain diary"
            page.fill("#f-pain_score", "12")  # out of range: refused, kept
            page.click("button.primary[type=submit]")
            page.wait_for_selector(".field-error")
            assert page.input_value("#f-pain_score") == "12"
            page.fill("#f-pain_score", "4")
            page.click("button.primary[type=submit]")
            page.wait_for_selector(".public-message")
            assert "your therapist will see it" in page.inner_text(".public-message")
            page.screenshot(path=str(tmp_path / "pain-diary-phone.png"), full_page=True)
            context.close()
        finally:
            browser.close()
