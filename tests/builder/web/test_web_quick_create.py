"""Quick-create of a link's target from the picker: only for roles that may create it, and the new record is picked."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from clinic_fixtures import clinic_copy, csrf_of

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


# -- prefilled from the link's filter ------------------------------------------------------

DENTAL = QUICK + "&record.department=dental"


def test_the_picker_link_carries_the_forms_values_its_filter_reads(clinic):
    client = clinic.login("admin")
    new = client.get("/records/visit/new").text
    assert "record.department" not in new  # no department chosen yet: every doctor, nothing pinned
    visit = clinic.data["visit"]
    admin = clinic.api("admin")
    moved = admin.patch(
        f"/api/visit/{visit['id']}", json={"department": "internal_medicine", "version": visit["version"]}
    )
    assert moved.status_code == 200, moved.text
    edit = client.get(f"/records/visit/{visit['id']}/edit").text.replace("&amp;", "&")
    link = re.search(r'href="(/records/staff/new\?[^"]*)" data-quick-for="f-doctor"', edit)
    assert link and "record.department=internal_medicine" in link.group(1)


def test_the_quick_form_starts_from_what_the_filter_pins(clinic):
    page = clinic.login("admin").get(DENTAL).text
    assert re.search(r'<option value="dental" selected>Dental</option>', page)  # offered, and filled in
    assert 'name="record.department" value="dental"' in page  # carried through the post
    plain = clinic.login("admin").get(QUICK).text
    assert 'name="department"' not in plain  # nothing pinned: the minimal form as before


def test_the_prefilled_record_passes_the_filter_and_is_picked(clinic):
    client = clinic.login("admin")
    page = client.get(DENTAL).text
    form = {
        "csrf_token": csrf_of(page),
        "name": "Dr. Tang",
        "department": "dental",
        "pick_for": "visit.doctor",
        "return_to": "/records/visit/new",
        "record.department": "dental",
    }
    made = client.post("/records/staff/new", data=form)
    assert made.status_code == 303, made.text
    tang = next(s for s in clinic.runtime.records.list(SYSTEM, "staff").items if s["name"] == "Dr. Tang")
    assert tang["department"] == "dental" and made.headers["location"] == f"/records/visit/new?doctor={tang['id']}"
    dialog = client.post("/records/staff/new", data=form | {"name": "Dr. Gu"}, headers={"Accept": "application/json"})
    assert dialog.status_code == 201 and dialog.json()["label"].startswith("Dr. Gu")


def test_a_new_record_the_filter_refuses_is_not_kept_and_nothing_typed_is_lost(clinic):
    client = clinic.login("admin")
    client.headers["Accept-Language"] = "en"
    page = client.get(DENTAL).text
    form = {
        "csrf_token": csrf_of(page),
        "name": "Dr. Elsewhere",
        "department": "pediatrics",  # changed away from the visit's department
        "pick_for": "visit.doctor",
        "return_to": "/records/visit/new",
        "record.department": "dental",
    }
    before = len(clinic.audit("create"))
    for headers in ({}, {"Accept": "application/json"}):
        refused = client.post("/records/staff/new", data=form, headers=headers)
        assert refused.status_code == 422, refused.text
        assert "would not be one of the allowed choices for “Doctor” there" in refused.text
        assert 'value="Dr. Elsewhere"' in refused.text and '<option value="pediatrics" selected>' in refused.text
        assert 'name="record.department" value="dental"' in refused.text  # still the same quick-create
    assert not [s for s in clinic.runtime.records.list(SYSTEM, "staff").items if s["name"] == "Dr. Elsewhere"]
    assert len(clinic.audit("create")) == before  # rolled back, its audit entry too


def test_values_in_the_address_are_only_a_start_the_server_checks_them(clinic):
    client = clinic.login("admin")
    forged = client.get(QUICK + "&record.department=nowhere&record.name=x").text
    assert 'name="record.name"' not in forged  # only what the filter reads travels
    form = {
        "csrf_token": csrf_of(forged),
        "name": "Dr. Nowhere",
        "pick_for": "visit.doctor",
        "return_to": "/records/visit/new",
        "record.department": "nowhere",  # not an option: reads as empty, so any doctor passes
    }
    assert client.post("/records/staff/new", data=form).status_code == 303


@pytest.fixture
def doctors_add_staff(tmp_path, database_url):
    """The clinic where a doctor may add staff (a name only): the department is not theirs to set."""

    def doctors_may_add_staff(blueprint):
        staff = blueprint / "entities" / "staff.yaml"
        before = "doctor:     {read: [name, department]}"
        assert before in staff.read_text(encoding="utf-8")
        after = "doctor:     {read: [name, department], write: [name], create: true}"
        staff.write_text(staff.read_text(encoding="utf-8").replace(before, after), encoding="utf-8")

    with clinic_copy(tmp_path, database_url, doctors_may_add_staff) as made:
        yield made


def test_a_pinned_field_the_role_may_not_write_is_not_offered_and_the_filter_still_holds(doctors_add_staff):
    client = doctors_add_staff.login("doctor")
    client.headers["Accept-Language"] = "en"
    page = client.get(DENTAL)
    assert page.status_code == 200 and 'name="name"' in page.text and 'name="department"' not in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "name": "Dr. Nodept",
        "department": "dental",  # forged: not the doctor's to set
        "pick_for": "visit.doctor",
        "return_to": "/records/visit/new",
        "record.department": "dental",
    }
    refused = client.post("/records/staff/new", data=form)
    assert refused.status_code == 422 and "would not be one of the allowed choices for “Doctor”" in refused.text
    staff = doctors_add_staff.runtime.records.list(SYSTEM, "staff").items
    assert not [s for s in staff if s["name"] == "Dr. Nodept"]
    unpinned = {k: v for k, v in form.items() if k not in ("record.department", "department")}
    assert client.post("/records/staff/new", data=unpinned).status_code == 303  # no department chosen: any doctor
