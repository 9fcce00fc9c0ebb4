"""'My tasks' through the real app: whose tasks, in which order, with which buttons, in which words; both databases."""

from __future__ import annotations

import re

from clinic_fixtures import csrf_of

from builder.records import SYSTEM
from builder.system_tables import workflow_history


def tasks_of(client) -> list[tuple[str, int]]:
    body = client.get("/api/tasks").json()
    return [(t["entity"], t["id"]) for t in body["items"]]


def follow_up(clinic, **values) -> dict:
    staff = clinic.data["staff"][0]["id"]
    base = {"patient": clinic.data["patients"][0]["id"], "assignee": staff, "due_on": "2099-01-01", "reason": "Call"}
    return clinic.runtime.records.create(SYSTEM, "follow_up", {**base, **values})


def test_a_doctor_sees_the_follow_ups_assigned_to_them_and_the_desk_the_appointments_to_confirm(clinic):
    mine = clinic.data["follow_up"]
    assert tasks_of(clinic.login("doctor")) == [("follow_up", mine["id"])]  # Dr. Li's account
    assert tasks_of(clinic.login("doctor2")) == []  # assigned to someone else: not theirs
    desk = tasks_of(clinic.login("front_desk"))
    assert desk == [("appointment", a["id"]) for a in clinic.data["appointments"]]  # requested: waiting to confirm
    assert tasks_of(clinic.login("nurse")) == []  # no move of theirs from these states, nothing assigned
    body = clinic.login("doctor").get("/api/tasks").json()
    [task] = body["items"]
    assert (task["state"], task["due"], task["overdue"], task["assigned"], body["total"]) == (
        "open",
        "2026-03-10",
        True,
        True,
        1,
    )
    assert [(m["name"], m["allowed"], m["refusal"]) for m in task["transitions"]] == [
        ("log_attempt", True, None),
        ("done", False, "required"),
        ("give_up", False, "guard"),
    ]
    assert task["record"]["reason"] == "Check BP"


def test_overdue_first_then_by_due_date_and_unassigned_ones_go_to_the_roles_that_may_move_them(clinic):
    later = follow_up(clinic, due_on="2099-06-01")
    sooner = follow_up(clinic, due_on="2099-02-01")
    nobody = follow_up(clinic, assignee=None, due_on="2099-03-01")
    overdue = clinic.data["follow_up"]
    assert tasks_of(clinic.login("doctor")) == [
        ("follow_up", overdue["id"]),
        ("follow_up", sooner["id"]),
        ("follow_up", nobody["id"]),
        ("follow_up", later["id"]),
    ]
    assert tasks_of(clinic.login("nurse")) == [("follow_up", nobody["id"])]  # unassigned: for the role
    assert tasks_of(clinic.login("doctor2")) == [("follow_up", nobody["id"])]
    assert tasks_of(clinic.login("front_desk"))[:1] == [("appointment", clinic.data["appointments"][0]["id"])]


def test_row_filters_apply_a_doctor_completes_only_their_own_checked_in_appointments(clinic):
    desk = clinic.api("front_desk")
    for appointment in clinic.data["appointments"][:2]:  # the first is Dr. Li's, the second Dr. Zhao's
        url = f"/api/appointment/{appointment['id']}/transitions"
        assert desk.post(f"{url}/confirm", json={"version": 1}).status_code == 200
        assert desk.post(f"{url}/check_in", json={"version": 2}).status_code == 200
    first, second = clinic.data["appointments"][:2]
    assert ("appointment", first["id"]) in tasks_of(clinic.login("doctor"))
    assert ("appointment", second["id"]) not in tasks_of(clinic.login("doctor"))  # outside their row filter
    assert ("appointment", second["id"]) in tasks_of(clinic.login("doctor2"))
    assert ("appointment", first["id"]) not in tasks_of(clinic.login("front_desk"))  # checked in: not the desk's


def test_the_page_shows_labels_buttons_with_their_questions_and_links_for_fields_to_fill(clinic):
    browser = clinic.login("front_desk")
    page = browser.get("/tasks")
    assert page.status_code == 200
    first = clinic.data["appointments"][0]
    assert f'action="/records/appointment/{first["id"]}/transitions/confirm"' in page.text
    assert "Cancel this appointment?" in page.text and 'name="comment"' in page.text  # cancel asks, with a comment
    assert ">Requested<" in page.text and "Overdue" in page.text and ">requested<" not in page.text
    assert re.search(r'class="tasks-link">My tasks <span class="badge" aria-label="4 open">4</span>', page.text)
    doctor = clinic.login("doctor").get("/tasks").text
    fu = clinic.data["follow_up"]["id"]
    assert f'href="/records/follow_up/{fu}#workflow-follow_up_flow">Done · Open to fill in: Outcome</a>' in doctor
    assert "/transitions/done" not in doctor  # the outcome is asked on the record, not here
    assert "Wang Fang" in doctor and "Dr. Li" in doctor  # links as their titles


def test_a_button_on_the_page_makes_the_move_and_comes_back(clinic):
    browser = clinic.login("front_desk")
    page = browser.get("/tasks")
    first = clinic.data["appointments"][0]
    moved = browser.post(
        f"/records/appointment/{first['id']}/transitions/confirm",
        data={"csrf_token": csrf_of(page.text), "version": "1", "next": "/tasks"},
    )
    assert (moved.status_code, moved.headers["location"]) == (303, "/tasks?moved=1")
    after = browser.get(moved.headers["location"])
    assert "Done." in after.text and f"/records/appointment/{first['id']}/transitions" not in after.text
    assert 'aria-label="3 open"' in after.text
    with clinic.runtime.engine.connect() as conn:
        [entry] = conn.execute(workflow_history.select()).all()
    assert (entry.transition, entry.actor) == ("confirm", "front_desk")
    elsewhere = browser.post(
        f"/records/appointment/{clinic.data['appointments'][1]['id']}/transitions/confirm",
        data={"csrf_token": csrf_of(page.text), "version": "1", "next": "https://evil.example/"},
    )
    assert elsewhere.headers["location"].startswith("/records/appointment/")  # no open redirect


def test_a_role_with_nothing_to_move_has_no_buttons_and_a_forged_post_is_refused(clinic):
    nurse = clinic.login("nurse")
    page = nurse.get("/tasks")
    assert page.status_code == 200 and "Nothing is waiting for you." in page.text and "/transitions/" not in page.text
    forged = nurse.post(
        f"/records/appointment/{clinic.data['appointments'][0]['id']}/transitions/confirm",
        data={"csrf_token": csrf_of(page.text), "version": "1", "next": "/tasks"},
    )
    assert forged.status_code == 403
    assert 'class="tasks-link"' not in clinic.login("analyst").get("/tasks").text  # no tasks possible: no link
    assert clinic.api("analyst").get("/api/tasks").json() == {"items": [], "total": 0}
    assert clinic.anonymous().get("/api/tasks").status_code == 401


def test_the_page_speaks_chinese_and_works_in_large_text(clinic):
    browser = clinic.login("front_desk")
    home = browser.get("/tasks")
    browser.post("/locale", data={"csrf_token": csrf_of(home.text), "locale": "zh-CN", "next": "/tasks"})
    browser.post("/large-text", data={"csrf_token": csrf_of(home.text), "large_text": "on", "next": "/tasks"})
    page = browser.get("/tasks").text
    assert "我的任务" in page and "待确认" in page and "已逾期" in page and "确定取消该预约？" in page
    assert "Requested" not in page and "My tasks" not in page
    assert 'class="large-text"' in page and 'name="viewport"' in page


def test_reading_tasks_is_audited_like_a_list_when_it_shows_protected_fields(clinic):
    before = len(clinic.audit("list"))
    clinic.login("front_desk").get("/tasks")
    assert len(clinic.audit("list")) == before  # appointments hold no PHI: no entry, as for their list


def test_openapi_documents_the_tasks_endpoint_and_the_answers_fit_it(clinic):
    import jsonschema

    document = clinic.api("admin").get("/api/openapi.json").json()
    operation = document["paths"]["/api/tasks"]["get"]
    assert operation["operationId"] == "list_tasks" and set(operation["responses"]) == {"200", "401"}
    schema = {**document["components"]["schemas"]["TaskList"], "components": document["components"]}
    for user in ("doctor", "front_desk", "nurse"):
        jsonschema.Draft202012Validator(schema).validate(clinic.login(user).get("/api/tasks").json())
    bulk = document["paths"]["/api/appointment/automations/{automation}"]["post"]["responses"]["200"]
    answer = clinic.api("front_desk").post(
        "/api/appointment/automations/appointment_reminder", json={"ids": [1, 999_999]}
    )
    jsonschema.Draft202012Validator(bulk["content"]["application/json"]["schema"]).validate(answer.json())


def test_a_role_that_may_not_read_the_state_field_gets_no_tasks_of_that_entity(tmp_path, database_url):
    import shutil

    from clinic_fixtures import CLINIC, build_runtime, create_users, seed_clinic

    source = tmp_path / "clinic"
    shutil.copytree(CLINIC, source)
    path = source / "entities" / "follow_up.yaml"
    text = path.read_text(encoding="utf-8")
    narrowed = "    nurse:  {read: [patient, due_on, reason, assignee, outcome, attempts], write: [outcome, attempts]}"
    path.write_text(
        text.replace("    nurse:  {read: all, write: [status, outcome, attempts], create: true}", narrowed),
        encoding="utf-8",
    )
    runtime = build_runtime(tmp_path / "project", database_url, source)
    try:
        actors = create_users(runtime)
        data = seed_clinic(runtime, actors)
        service = runtime.records
        unassigned = {"patient": data["patients"][0]["id"], "due_on": "2099-01-01", "reason": "Call"}
        made = service.create(SYSTEM, "follow_up", unassigned)
        assert [t.record["id"] for t in service.tasks(actors["doctor2"]).items] == [made["id"]]
        assert service.tasks(actors["nurse"]).items == [] and service.count_tasks(actors["nurse"]) == 0
    finally:
        runtime.close()
