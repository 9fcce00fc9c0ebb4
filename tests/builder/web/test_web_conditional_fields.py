"""`required_if` / `readonly_if` on the form page: computed on the server for the values shown."""

from __future__ import annotations

import re

from clinic_fixtures import csrf_of

from builder.records import SYSTEM


def _input(html: str, name: str) -> str:
    match = re.search(rf'<(?:input|textarea|select)[^>]*name="{name}"[^>]*>', html)
    assert match, name
    return match.group(0)


def test_an_open_follow_up_has_an_optional_outcome_and_a_writable_reason(clinic):
    client = clinic.login("admin")
    task = clinic.data["follow_up"]
    form = client.get(f"/records/follow_up/{task['id']}/edit").text
    assert "disabled" not in _input(form, "reason") and " required" not in _input(form, "outcome")
    assert 'data-required-if="{&#34;field&#34;: &#34;status&#34;' in form  # mirrored live by forms.js
    assert 'data-readonly-if="{&#34;field&#34;: &#34;status&#34;' in form


def test_a_done_follow_up_shows_the_outcome_required_and_the_reason_locked(clinic):
    client = clinic.login("admin")
    task = clinic.data["follow_up"]
    done = clinic.runtime.records.update(
        SYSTEM, "follow_up", task["id"], {"status": "done", "outcome": "fine"}, version=task["version"]
    )
    form = client.get(f"/records/follow_up/{task['id']}/edit").text
    assert "disabled" in _input(form, "reason") and "required" in _input(form, "outcome")
    cleared = client.post(
        f"/records/follow_up/{task['id']}/edit",
        data={"csrf_token": csrf_of(form), "version": str(done["version"]), "due_on": "2026-03-10", "outcome": ""},
    )
    assert cleared.status_code == 422 and 'id="err-outcome"' in cleared.text
    # the disabled reason is not sent: it is kept, not read as emptied
    kept = {"patient": str(task["patient"]), "assignee": str(task["assignee"]), "attempts": "0"}
    saved = client.post(
        f"/records/follow_up/{task['id']}/edit",
        data={"csrf_token": csrf_of(form), "version": str(done["version"]), "due_on": "2026-03-10", "outcome": "ok"}
        | kept,
    )
    assert saved.status_code == 303, re.findall(r'id="err-[^"]*"[^<]*<', saved.text)
    stored = clinic.runtime.records.get(SYSTEM, "follow_up", task["id"])
    assert (stored["reason"], stored["outcome"]) == ("Check BP", "ok")


def test_the_api_refuses_a_change_to_a_locked_field_with_the_reason(clinic):
    task = clinic.data["follow_up"]
    done = clinic.runtime.records.update(
        SYSTEM, "follow_up", task["id"], {"status": "done", "outcome": "fine"}, version=task["version"]
    )
    response = clinic.api("admin").patch(
        f"/api/follow_up/{task['id']}", json={"version": done["version"], "reason": "other"}
    )
    assert response.status_code == 422, response.text
    assert "read_only_if" in response.text and "状态" in response.text  # the label, in the reader's locale


def test_a_birth_date_against_the_resident_id_is_refused_beside_the_field(clinic):
    client = clinic.login("admin")
    form = client.get("/records/patient/new").text
    data = {"csrf_token": csrf_of(form), "name": "王芳", "phone": "13700000009", "gender": "female"}
    bad = client.post(
        "/records/patient/new", data=data | {"id_number": "11010519491231002X", "birth_date": "1950-01-01"}
    )
    assert bad.status_code == 422 and 'id="err-birth_date"' in bad.text
    assert "出生日期与身份证号中的不一致" in bad.text or "differs from the one in the resident ID" in bad.text
    good = client.post(
        "/records/patient/new", data=data | {"id_number": "11010519491231002X", "birth_date": "1949-12-31"}
    )
    assert good.status_code == 303
