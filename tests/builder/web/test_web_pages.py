"""Pages through a signed-in browser session: forms, errors, conflicts, child rows, delete, language."""

from __future__ import annotations

from clinic_fixtures import csrf_of

from builder.records import SYSTEM


def test_create_form_keeps_input_and_shows_errors_beside_fields(clinic):
    client = clinic.login("front_desk")
    form = client.get("/records/patient/new")
    assert form.status_code == 200 and 'for="f-name"' in form.text and "Medical" not in form.text
    bad = client.post(
        "/records/patient/new",
        data={"csrf_token": csrf_of(form.text), "name": "Ma Li", "phone": "not a phone", "birth_date": "1990-02-30"},
    )
    assert bad.status_code == 422
    assert 'value="Ma Li"' in bad.text and 'value="not a phone"' in bad.text
    assert 'id="err-phone"' in bad.text and 'id="err-birth_date"' in bad.text
    good = client.post(
        "/records/patient/new",
        data={"csrf_token": csrf_of(bad.text), "name": "Ma Li", "phone": "13700000001", "gender": "female"},
    )
    assert good.status_code == 303
    detail = client.get(good.headers["location"])
    assert "Ma Li" in detail.text and "137****0001" in detail.text and "Enquiry" in detail.text  # default stage


def test_form_without_csrf_token_is_refused(clinic):
    client = clinic.login("front_desk")
    response = client.post("/records/patient/new", data={"name": "X", "phone": "13700000002"})
    assert response.status_code == 403
    assert clinic.runtime.records.list(SYSTEM, "patient", filters={"name": "X"}).total == 0


def test_edit_conflict_is_shown_clearly(clinic):
    client = clinic.login("admin")
    patient = clinic.data["patients"][1]
    form = client.get(f"/records/patient/{patient['id']}/edit")
    clinic.runtime.records.update(SYSTEM, "patient", patient["id"], {"stage": "dormant"}, patient["version"])
    response = client.post(
        f"/records/patient/{patient['id']}/edit",
        data={
            "csrf_token": csrf_of(form.text),
            "version": str(patient["version"]),
            "name": "Zhang Wei (edited)",
            "phone": patient["phone"],
            "stage": "active",
        },
    )
    assert response.status_code == 409
    assert "Someone else changed this record" in response.text and 'value="Zhang Wei (edited)"' in response.text
    assert clinic.runtime.records.get(SYSTEM, "patient", patient["id"])["name"] == "Zhang Wei"


def test_child_rows_are_edited_inline(clinic):
    client = clinic.login("doctor")
    visit = clinic.data["visit"]
    form = client.get(f"/records/visit/{visit['id']}/edit")
    assert 'name="prescriptions-0-drug" value="Amlodipine"' in form.text
    assert 'name="prescriptions-3-drug" value=""' in form.text  # blank rows without JavaScript
    response = client.post(
        f"/records/visit/{visit['id']}/edit",
        data={
            "csrf_token": csrf_of(form.text),
            "version": str(visit["version"]),
            "patient": str(visit["patient"]),
            "visited_at": "2026-03-01T10:00",
            "prescriptions-0-drug": "Amlodipine",
            "prescriptions-0-dose": "10 mg",
            "prescriptions-0-days": "30",
            "prescriptions-1-drug": "Aspirin",
            "prescriptions-1-_remove": "1",
            "prescriptions-2-drug": "Metformin",
            "prescriptions-2-days": "0",
        },
    )
    assert response.status_code == 422  # days must be at least 1: error beside the row's cell
    assert "Must be at least 1." in response.text and 'value="Metformin"' in response.text
    fixed = client.post(
        f"/records/visit/{visit['id']}/edit",
        data={
            "csrf_token": csrf_of(response.text),
            "version": str(visit["version"]),
            "patient": str(visit["patient"]),
            "visited_at": "2026-03-01T10:00",
            "prescriptions-0-drug": "Amlodipine",
            "prescriptions-0-dose": "10 mg",
            "prescriptions-2-drug": "Metformin",
            "prescriptions-2-days": "14",
        },
    )
    assert fixed.status_code == 303
    rows = clinic.runtime.records.get(SYSTEM, "visit", visit["id"])["prescriptions"]
    assert [(r["drug"], r["dose"], r["days"]) for r in rows] == [("Amlodipine", "10 mg", None), ("Metformin", None, 14)]
    detail = client.get(f"/records/visit/{visit['id']}").text
    assert "Metformin" in detail and "Wang Fang" in detail  # the link shows the patient's name


def test_field_visible_if_is_enforced_on_the_server(clinic):
    client = clinic.login("doctor")
    patient = clinic.data["patients"][1]  # male
    form = client.get(f"/records/patient/{patient['id']}/edit").text
    assert 'data-show-if="{&#34;field&#34;: &#34;gender&#34;' in form
    response = client.post(
        f"/records/patient/{patient['id']}/edit",
        data={
            "csrf_token": csrf_of(form),
            "version": str(patient["version"]),
            "name": patient["name"],
            "phone": patient["phone"],
            "gender": "male",
            "pregnancy": "true",
        },
    )
    assert response.status_code == 303  # the hidden field was cleared, not refused
    assert clinic.runtime.records.get(SYSTEM, "patient", patient["id"])["pregnancy"] is None


def test_delete_asks_first(clinic):
    client = clinic.login("front_desk")
    appointment = clinic.data["appointments"][0]
    page = client.get(f"/records/appointment/{appointment['id']}/delete")
    assert page.status_code == 200 and "cannot be undone" in page.text
    done = client.post(
        f"/records/appointment/{appointment['id']}/delete",
        data={"csrf_token": csrf_of(page.text), "version": str(appointment["version"])},
    )
    assert done.status_code == 303 and done.headers["location"] == "/records/appointment?deleted=1"
    assert "was deleted" in client.get(done.headers["location"]).text


def test_list_search_filter_sort_and_paging(clinic):
    client = clinic.login("admin")
    for i in range(30):
        clinic.runtime.records.create(SYSTEM, "patient", {"name": f"Extra {i:02d}", "phone": f"1360000{i:04d}"})
    first = client.get("/records/patient", params={"sort": "name"}).text
    assert "1–25 of 34" in first and 'rel="next"' in first and 'aria-sort="ascending"' in first
    second = client.get("/records/patient", params={"sort": "name", "offset": "25"}).text
    assert "26–34 of 34" in second and "Zhang Wei" in second
    filtered = client.get("/records/patient", params={"stage": "active", "q": "liu"}).text
    assert "Liu Yang" in filtered and "Zhang Wei" not in filtered
    bad = client.get("/records/patient", params={"sort": "name;drop table patient", "birth_date__gte": "x"})
    assert bad.status_code == 400 and "could not be run" in bad.text


def test_error_pages_are_pages_not_tracebacks(clinic):
    client = clinic.login("nurse")
    assert client.get("/records/nothing").status_code == 404
    assert client.get("/records/patient/99999").status_code == 404
    assert client.get("/records/staff/new").status_code == 403
    assert "Traceback" not in client.get("/records/patient/99999").text
    anonymous = clinic.anonymous().get("/records/patient")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_chinese_interface_and_large_text(clinic):
    client = clinic.login("front_desk")
    home = client.get("/")
    client.post("/locale", data={"csrf_token": csrf_of(home.text), "locale": "zh-CN", "next": "/records/patient"})
    page = client.get("/records/patient").text
    assert "患者" in page and "搜索" in page and 'lang="zh-CN"' in page
    client.post("/large-text", data={"csrf_token": csrf_of(page), "large_text": "on", "next": "/"})
    assert 'class="large-text"' in client.get("/").text


def test_only_admins_see_the_audit_link(clinic):
    assert 'href="/audit"' in clinic.login("admin").get("/").text
    assert 'href="/audit"' not in clinic.login("nurse").get("/").text
