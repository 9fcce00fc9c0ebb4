"""The physio vertical end to end, as an outside user would run it: validate, migrate, seed, serve.

The blueprint (tests/blueprints/physio) was written from the docs alone; these tests
hold it to what the docs promise on SQLite and PostgreSQL: every entity can be created,
read and listed through the API, reception sees the mobile masked and no clinical
fields, a therapist sees only their own clients' records, and `overlaps` refuses a
double booking.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from physio import ENTITIES, PHYSIO, crm, init_physio_project, serve_physio

TUESDAY_9 = "2027-03-02T09:00:00"
SUNDAY_9 = "2027-03-07T09:00:00"


@pytest.fixture
def project(tmp_path, database_url):
    directory = init_physio_project(tmp_path / "physio", database_url)
    migrated = crm("migrate", "-p", directory, "--yes")
    assert migrated.exit_code == 0, migrated.output
    return directory


@pytest.fixture
def served(project):
    app = serve_physio(project)
    try:
        yield app
    finally:
        app.close()


def digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def test_the_blueprint_validates_and_its_examples_pass():
    validated = crm("validate", PHYSIO)
    assert validated.exit_code == 0 and "OK riverside_physio: 5 entities" in validated.output, validated.output
    tested = crm("test", PHYSIO)
    assert tested.exit_code == 0 and "examples passed" in tested.output, tested.output


def test_migrate_makes_a_table_per_entity_and_child_table(project, database_url):
    engine = sa.create_engine(database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(ENTITIES) | {"exercise_plan__exercises", "crm_blueprint_history"} <= tables
    assert "already matches" in crm("migrate", "-p", project).output


def test_seed_fills_every_entity(project, database_url):
    seeded = crm("seed", "-p", project, "--rows", "8", "--rows", "therapist=3")
    assert seeded.exit_code == 0, seeded.output
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            counts = {e: conn.execute(sa.text(f"select count(*) from {e}")).scalar() for e in ENTITIES}
    finally:
        engine.dispose()
    assert counts["therapist"] == 3 and all(counts[e] >= 1 for e in ENTITIES), counts


def test_create_read_and_list_every_entity_with_permissions(served):
    admin, reception = served.api("admin"), served.api("reception")
    ther_a, ther_b = served.api("ther_a"), served.api("ther_b")

    # therapist: admin creates both, each carrying its login account
    made = {}
    for name, account in (("Li Na", "ther_a"), ("Zhou Jie", "ther_b")):
        response = admin.post(
            "/api/therapist", json={"display_name": name, "specialty": "sports", "account": served.user_ids[account]}
        )
        assert response.status_code == 201, response.text
        made[account] = response.json()["id"]
    seen = reception.get(f"/api/therapist/{made['ther_a']}").json()
    assert seen["display_name"] == "Li Na" and "account" not in seen and "work_phone" not in seen
    assert reception.get("/api/therapist").json()["total"] == 2

    # client: reception registers one for each therapist, sees the mobile masked and no clinical fields
    clients = {}
    for account, mobile in (("ther_a", "13912345678"), ("ther_b", "13812345670")):
        response = reception.post(
            "/api/client",
            json={
                "full_name": f"Client of {account}",
                "mobile": mobile,
                "sex": "female",
                "born_on": "1980-05-02",
                "therapist": made[account],
            },
        )
        assert response.status_code == 201, response.text
        clients[account] = response.json()["id"]
    mine = reception.get(f"/api/client/{clients['ther_a']}").json()
    assert "****" in mine["mobile"] and "12345678" not in digits(mine["mobile"]) and mine["mobile"].endswith("5678")
    assert "condition" not in mine and "id_number" not in mine and mine["referral"] == "self"
    listed = reception.get("/api/client").json()
    assert listed["total"] == 2 and all("****" in c["mobile"] for c in listed["items"])
    assert (
        reception.patch(
            f"/api/client/{clients['ther_a']}", json={"version": mine["version"], "condition": "ACL tear"}
        ).status_code
        == 422
    )

    # a therapist sees full values of their own clients only
    own = ther_a.patch(
        f"/api/client/{clients['ther_a']}",
        json={"version": mine["version"], "condition": "ACL tear", "id_number": "11010519491231002X"},
    )
    assert own.status_code == 200, own.text
    full = ther_a.get(f"/api/client/{clients['ther_a']}").json()
    assert digits(full["mobile"]).endswith("13912345678") and full["condition"] == "ACL tear"
    assert full["id_number"] == "11010519491231002X"
    assert ther_b.get(f"/api/client/{clients['ther_a']}").status_code == 404
    assert [c["id"] for c in ther_b.get("/api/client").json()["items"]] == [clients["ther_b"]]

    # session: reception books, a double booking and a Sunday are refused, each therapist sees their own
    booking = {"client": clients["ther_a"], "therapist": made["ther_a"], "starts_at": TUESDAY_9, "room": "gym"}
    first = reception.post("/api/session", json=booking)
    assert first.status_code == 201 and first.json()["minutes"] == 45 and "notes" not in first.json(), first.text
    clash = reception.post("/api/session", json={**booking, "starts_at": "2027-03-02T09:30:00"})
    assert clash.status_code == 422 and "already booked" in clash.text
    assert reception.post("/api/session", json={**booking, "starts_at": SUNDAY_9}).status_code == 422
    assert reception.post("/api/session", json={**booking, "starts_at": "2027-03-02T09:45:00"}).status_code == 201
    session_id = first.json()["id"]
    assert ther_a.get(f"/api/session/{session_id}").json()["room"] == "gym"
    assert ther_a.get("/api/session").json()["total"] == 2
    assert (
        ther_b.get(f"/api/session/{session_id}").status_code == 404 and ther_b.get("/api/session").json()["total"] == 0
    )

    # exercise plan with its child table: therapists only
    plan = ther_a.post(
        "/api/exercise_plan",
        json={
            "client": clients["ther_a"],
            "therapist": made["ther_a"],
            "goal": "Full knee extension",
            "exercises": [
                {"exercise": "Quad sets", "reps": 10, "side": "left"},
                {"exercise": "Heel slides", "reps": 15},
            ],
        },
    )
    assert plan.status_code == 201, plan.text
    rows = ther_a.get(f"/api/exercise_plan/{plan.json()['id']}").json()["exercises"]
    assert [(r["exercise"], r["sets"]) for r in rows] == [("Quad sets", 3), ("Heel slides", 3)]
    assert ther_a.get("/api/exercise_plan").json()["total"] == 1
    assert ther_b.get(f"/api/exercise_plan/{plan.json()['id']}").status_code == 404
    assert reception.get("/api/exercise_plan").status_code == 403
    other = ther_a.post(
        "/api/exercise_plan",
        json={"client": clients["ther_b"], "therapist": made["ther_a"], "goal": "Someone else's client"},
    )
    assert other.status_code == 422  # a link the therapist sets must point at a client they can see

    # pain reading: its level comes from the decision table
    reading = ther_a.post(
        "/api/pain_reading",
        json={
            "client": clients["ther_a"],
            "therapist": made["ther_a"],
            "taken_at": "2026-03-02T10:00:00",
            "pain_score": 5,
        },
    )
    assert reading.status_code == 201 and reading.json()["pain_level"] == "moderate", reading.text
    assert ther_a.get(f"/api/pain_reading/{reading.json()['id']}").json()["pain_score"] == 5
    assert ther_a.get("/api/pain_reading").json()["total"] == 1
    assert ther_b.get("/api/pain_reading").json()["total"] == 0
    assert reception.get("/api/pain_reading").status_code == 403
    assert admin.get("/api/pain_reading").json()["total"] == 1


def test_pages_show_each_role_what_the_api_shows(served):
    admin = served.api("admin")
    therapist = admin.post("/api/therapist", json={"display_name": "Li Na", "account": served.user_ids["ther_a"]})
    client = admin.post(
        "/api/client",
        json={
            "full_name": "Wang Fang",
            "mobile": "13912345678",
            "condition": "Frozen shoulder",
            "therapist": therapist.json()["id"],
        },
    )
    plan = admin.post(
        "/api/exercise_plan",
        json={
            "client": client.json()["id"],
            "therapist": therapist.json()["id"],
            "goal": "Reach overhead",
            "exercises": [{"exercise": "Wall walk"}],
        },
    )
    assert plan.status_code == 201, plan.text

    reception = served.login("reception")
    listed = reception.get("/records/client")
    assert listed.status_code == 200 and "Wang Fang" in listed.text
    assert "13912345678" not in listed.text and "5678" in listed.text and "Frozen shoulder" not in listed.text
    detail = reception.get(f"/records/client/{client.json()['id']}")
    assert detail.status_code == 200 and "13912345678" not in detail.text and "Frozen shoulder" not in detail.text
    assert reception.get("/records/client/new").status_code == 200
    assert reception.get("/records/session/new").status_code == 200
    assert reception.get(f"/records/exercise_plan/{plan.json()['id']}").status_code in (403, 404)

    mine = served.login("ther_a")
    page = mine.get(f"/records/exercise_plan/{plan.json()['id']}")
    assert page.status_code == 200 and "Wall walk" in page.text
    assert "Frozen shoulder" in mine.get(f"/records/client/{client.json()['id']}").text
    assert served.login("ther_b").get(f"/records/client/{client.json()['id']}").status_code == 404
