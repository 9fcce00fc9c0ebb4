"""Selected rows in the physio vertical: assigning sessions to a therapist, and a therapist's row filter per row.

Both databases; the project is migrated with `crm migrate` and served like `crm serve`.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from builder.system_tables import audit


def setup(served) -> dict:
    """Two therapists, a client of each, and two sessions booked with therapist A."""
    admin, reception = served.api("admin"), served.api("reception")
    therapists = {
        account: admin.post("/api/therapist", json={"display_name": name, "account": served.user_ids[account]}).json()
        for account, name in (("ther_a", "Li Na"), ("ther_b", "Zhou Bo"))
    }
    clients = {
        account: reception.post(
            "/api/client", json={"full_name": name, "mobile": mobile, "therapist": therapists[account]["id"]}
        ).json()
        for account, name, mobile in (("ther_a", "Anna", "13912345678"), ("ther_b", "Bert", "13912345679"))
    }
    sessions = [
        reception.post(
            "/api/session",
            json={"client": clients["ther_a"]["id"], "therapist": therapists["ther_a"]["id"], "starts_at": starts},
        ).json()
        for starts in ("2099-03-03T09:00:00", "2099-03-10T09:00:00")
    ]
    return {"therapists": therapists, "clients": clients, "sessions": sessions}


def bulk_entries(served) -> list:
    with served.runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(audit).where(audit.c.action == "bulk_update")).all())


def test_a_therapist_changes_their_own_clients_and_the_others_are_not_found(served):
    made = setup(served)
    mine, theirs = made["clients"]["ther_a"], made["clients"]["ther_b"]
    selected = [{"id": c["id"], "version": c["version"]} for c in (mine, theirs)]
    answer = served.api("ther_a").post(
        "/api/client/bulk-update", json={"field": "referral", "value": "gp", "records": selected}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["updated"] == [mine["id"]] and [(r["id"], r["code"]) for r in body["refused"]] == [
        (theirs["id"], "not_found")
    ]
    admin = served.api("admin")
    assert admin.get(f"/api/client/{theirs['id']}").json()["referral"] == "self"
    assert admin.get(f"/api/client/{mine['id']}").json()["referral"] == "gp"
    [entry] = bulk_entries(served)
    assert json.loads(entry.detail) == {
        "fields": ["referral"],
        "ids": [mine["id"]],
        "refused": [[theirs["id"], "not_found"]],
    }
    sessions = [{"id": s["id"], "version": s["version"]} for s in made["sessions"]]
    reception = served.api("reception")
    hidden = reception.post("/api/session/bulk-update", json={"field": "notes", "value": "x", "records": sessions})
    assert hidden.status_code == 422 and hidden.json()["errors"][0]["code"] == "unknown_field"  # PHI it cannot read
    state = served.api("ther_a").post(
        "/api/session/bulk-update", json={"field": "status", "value": "attended", "records": sessions}
    )
    assert state.status_code == 422 and state.json()["errors"][0]["code"] == "not_bulk"


def test_reception_assigns_selected_sessions_to_another_therapist_and_they_become_theirs(served):
    made = setup(served)
    browser = served.login("reception")
    page = browser.get("/records/session")
    assert 'data-bulk="assign"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
    form = {
        "csrf_token": csrf,
        "ids": [str(s["id"]) for s in made["sessions"]],
        **{f"version.{s['id']}": str(s["version"]) for s in made["sessions"]},
        "assign": "1",
    }
    asked = browser.post("/records/session/bulk-update", data=form)
    assert asked.status_code == 200 and '<select id="f-therapist" name="therapist"' in asked.text
    assert ">Zhou Bo" in asked.text
    other = str(made["therapists"]["ther_b"]["id"])
    done = browser.post("/records/session/bulk-update", data={**form, "apply": "1", "therapist": other})
    assert done.status_code == 200 and "Done for 2 of 2 selected." in done.text
    tasks = served.login("ther_b").get("/api/tasks").json()
    assert sorted(t["id"] for t in tasks["items"]) == sorted(s["id"] for s in made["sessions"])
    assert served.login("ther_a").get("/api/tasks").json()["total"] == 0
    assert len(bulk_entries(served)) == 1


def test_reception_moves_sessions_to_another_therapist_and_room_in_one_change_each(served):
    made = setup(served)
    other = made["therapists"]["ther_b"]["id"]
    selected = [{"id": s["id"], "version": s["version"]} for s in made["sessions"]]
    answer = served.api("reception").post(
        "/api/session/bulk-update", json={"values": {"therapist": other, "room": "pool"}, "records": selected}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == ["therapist", "room"] and len(answer.json()["updated"]) == 2
    admin = served.api("admin")
    for session in made["sessions"]:
        now = admin.get(f"/api/session/{session['id']}").json()
        assert (now["therapist"], now["room"], now["version"]) == (other, "pool", session["version"] + 1)
    [entry] = bulk_entries(served)
    assert json.loads(entry.detail)["fields"] == ["therapist", "room"] and "pool" not in entry.detail
    browser = served.login("reception")  # the page: assign, add the room, apply
    page = browser.get("/records/session")
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
    form = {
        "csrf_token": csrf,
        "ids": [str(s["id"]) for s in made["sessions"]],
        **{f"version.{s['id']}": str(s["version"] + 1) for s in made["sessions"]},
        "assign": "1",
    }
    mine = str(made["therapists"]["ther_a"]["id"])
    added = browser.post(
        "/records/session/bulk-update", data={**form, "therapist": mine, "add": "1", "add_field": "room"}
    )
    assert 'id="f-room"' in added.text and f'<option value="{mine}" selected>' in added.text
    done = browser.post(
        "/records/session/bulk-update", data={**form, "field": "room", "therapist": mine, "room": "gym", "apply": "1"}
    )
    assert "Done for 2 of 2 selected." in done.text
    assert {admin.get(f"/api/session/{s['id']}").json()["room"] for s in made["sessions"]} == {"gym"}
    assert [json.loads(e.detail)["fields"] for e in bulk_entries(served)] == [
        ["therapist", "room"],
        ["therapist", "room"],
    ]
