"""Long or oversized forms: the typed input comes back with the error beside its field, never a lost page."""

from __future__ import annotations

import html
import re

from clinic_fixtures import csrf_of

NOTE = "过敏" * 60_000  # 120,000 characters: over 1 MB once URL-encoded


def _textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1))


def test_a_120000_character_note_comes_back_kept_with_its_error(clinic):
    browser = clinic.login("admin")
    token = csrf_of(browser.get("/records/patient/new").text)
    response = browser.post(
        "/records/patient/new",
        data={"csrf_token": token, "name": "Wang Xiaoming", "phone": "13800138000", "allergies": NOTE},
    )
    assert response.status_code == 422, response.text[:500]
    page = response.text
    assert 'rel="stylesheet"' in page  # the app's own form page, not a bare refusal
    assert _textarea(page, "allergies") == NOTE
    assert 'value="Wang Xiaoming"' in page
    error = re.search(r'<p class="field-error" id="err-allergies">(.*?)</p>', page, re.DOTALL)
    assert error and "20000" in error.group(1)
    assert clinic.api("admin").get("/api/patient?name=Wang%20Xiaoming").json()["total"] == 0


def test_a_long_note_on_an_existing_record_is_kept_too(clinic):
    browser = clinic.login("admin")
    patient = clinic.data["patients"][1]
    form = browser.get(f"/records/patient/{patient['id']}/edit").text
    response = browser.post(
        f"/records/patient/{patient['id']}/edit",
        data={
            "csrf_token": csrf_of(form),
            "version": str(patient["version"]),
            "name": patient["name"],
            "allergies": NOTE,
        },
    )
    assert response.status_code == 422
    assert _textarea(response.text, "allergies") == NOTE


def test_maxlength_follows_the_blueprint(clinic):
    browser = clinic.login("admin")
    patient_form = browser.get("/records/patient/new").text
    assert re.search(r'<input[^>]*name="name"[^>]*maxlength="50"', patient_form, re.DOTALL)
    assert re.search(r'<textarea[^>]*name="allergies"[^>]*maxlength="20000"', patient_form, re.DOTALL)
    visit_form = browser.get("/records/visit/new").text
    assert re.search(r'<input[^>]*name="prescriptions-0-drug"[^>]*maxlength="100"', visit_form, re.DOTALL)
    follow_up_form = browser.get("/records/follow_up/new").text
    assert re.search(r'<input[^>]*name="reason"[^>]*maxlength="200"', follow_up_form, re.DOTALL)


def test_a_form_over_the_hard_cap_gets_a_styled_page_that_says_so(clinic):
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    clinic.app = create_app(clinic.runtime, SecuritySettings(secret_key="s" * 40, max_form_bytes=300_000))
    browser = clinic.login("admin")
    token = csrf_of(browser.get("/records/patient/new").text)
    response = browser.post("/records/patient/new", data={"csrf_token": token, "name": "Wang", "allergies": NOTE})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert 'rel="stylesheet"' in response.text and 'class="top-bar"' in response.text
    assert "too large" in response.text
    assert "Traceback" not in response.text and "expired" not in response.text
