"""Quick-create of a link's target from the picker: only for roles that may create it, and the new record is picked."""

from __future__ import annotations

import re
from urllib.parse import quote

from clinic_fixtures import csrf_of

from builder.records import SYSTEM

QUICK = "/records/staff/new?pick_for=visit.doctor&return_to=" + quote("/records/visit/new", safe="")


def test_a_role_that_may_create_the_target_sees_new_beside_the_picker(clinic):
    page = clinic.login("admin").get("/records/visit/new").text
    link = re.search(r'<a class="button small quick-new" href="([^"]*)" data-quick-for="f-doctor">([^<]*)</a>', page)
    assert link, "no quick-create link beside the doctor picker"
    assert link.group(1).replace("&amp;", "&") == QUICK and link.group(2) == "New Staff"


def test_a_role_without_create_right_sees_no_button_and_is_refused(clinic):
    client = clinic.login("doctor")  # may create visits, may not create staff
    page = client.get("/records/visit/new").text
    assert 'data-quick-for="f-doctor"' not in page and "pick_for=visit.doctor" not in page
    assert 'data-quick-for="f-patient"' in page  # it may create patients: that picker has one
    assert client.get(QUICK).status_code == 403
    refused = client.post(
        "/records/staff/new",
        data={"csrf_token": csrf_of(page), "name": "Dr. Sneaky", "pick_for": "visit.doctor", "return_to": "/"},
    )
    assert refused.status_code == 403
    assert not [s for s in clinic.runtime.records.list(SYSTEM, "staff").items if s["name"] == "Dr. Sneaky"]


def test_the_quick_form_asks_only_what_a_new_record_needs(clinic):
    page = clinic.login("admin").get(QUICK).text
    assert 'name="name"' in page and 'name="department"' not in page and 'name="user"' not in page
    assert 'name="pick_for" value="visit.doctor"' in page and 'name="return_to" value="/records/visit/new"' in page
    assert "data-draft-key" not in page  # a quick form keeps no draft
    assert "quick-new" not in page  # and offers no quick-create of its own


def test_without_javascript_saving_returns_to_the_form_with_the_new_record_picked(clinic):
    client = clinic.login("admin")
    page = client.get(QUICK).text
    form = {
        "csrf_token": csrf_of(page),
        "name": "Dr. Sun",
        "pick_for": "visit.doctor",
        "return_to": "/records/visit/new",
    }
    made = client.post("/records/staff/new", data=form)
    assert made.status_code == 303
    new_id = next(s["id"] for s in clinic.runtime.records.list(SYSTEM, "staff").items if s["name"] == "Dr. Sun")
    assert made.headers["location"] == f"/records/visit/new?doctor={new_id}"
    back = client.get(made.headers["location"]).text
    assert re.search(rf'<option value="{new_id}" selected>Dr\. Sun', back)
    audit = clinic.audit("create")
    assert any(row.entity == "staff" and row.record_id == new_id for row in audit)  # through the record service


def test_the_dialog_gets_the_new_record_as_json_and_errors_as_the_form(clinic):
    client = clinic.login("admin")
    page = client.get(QUICK).text
    form = {"csrf_token": csrf_of(page), "pick_for": "visit.doctor", "return_to": "/records/visit/new"}
    headers = {"Accept": "application/json"}
    missing = client.post("/records/staff/new", data=form, headers=headers)
    assert missing.status_code == 422 and 'id="err-name"' in missing.text and "quick-create" in missing.text
    made = client.post("/records/staff/new", data=form | {"name": "Dr. Qian"}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["label"].startswith("Dr. Qian") and made.json()["field"] == "doctor"


def test_an_edit_form_gets_the_new_record_back_too(clinic):
    client = clinic.login("admin")
    visit = clinic.data["visit"]
    here = f"/records/visit/{visit['id']}/edit"
    page = client.get(here).text
    assert "return_to=" + quote(here, safe="") in page.replace("&amp;", "&")
    form = {"csrf_token": csrf_of(page), "name": "Dr. Wu", "pick_for": "visit.doctor", "return_to": here}
    made = client.post("/records/staff/new", data=form)
    assert made.status_code == 303 and made.headers["location"].startswith(here + "?doctor=")


def test_a_return_address_elsewhere_is_not_followed(clinic):
    client = clinic.login("admin")
    page = client.get(QUICK).text
    for elsewhere in ("https://evil.example/records/visit/new", "//evil.example/x", "/records/patient/new"):
        form = {"csrf_token": csrf_of(page), "name": "Dr. X", "pick_for": "visit.doctor", "return_to": elsewhere}
        made = client.post("/records/staff/new", data=form)
        assert made.status_code == 303 and made.headers["location"].startswith("/records/staff/"), elsewhere
