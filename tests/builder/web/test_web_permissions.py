"""The permission matrix, generated from the clinic blueprint: every role × entity × action,
through the API and through the pages, with row filters, masking and hidden fields.

Expectations are derived from the blueprint's `permissions:` blocks (not from the
record service), so a change in either shows up here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_fixtures import ROLES

from builder.records import SYSTEM

SYSTEM_KEYS = {"id", "version", "created_at", "created_by", "updated_at", "updated_by"}
MASKED = re.compile(r"^.{1,4}\*+.{0,4}$")


def _fields(value: Any, all_fields: list[str]) -> set[str]:
    return set(all_fields) if value == "all" else set(value or [])


def rights(clinic, role: str, entity: str) -> dict[str, Any]:
    """What the blueprint says `role` may do with `entity`."""
    spec = clinic.runtime.blueprint.entities[entity]
    perm = spec.permissions.get(role)
    names = list(spec.fields)
    if perm is None:
        return {
            "read": set(),
            "write": set(),
            "create": False,
            "delete": False,
            "export": False,
            "full": False,
            "where": None,
        }
    read, write = _fields(perm.read, names), _fields(perm.write, names)
    if perm.create and not write and perm.read is not None:
        write = set(read)
    full = perm.full_access if perm.full_access is not None else (perm.read == "all" and perm.write == "all")
    return {
        "read": read | write,
        "write": write,
        "create": perm.create,
        "delete": perm.delete,
        "export": perm.export,
        "full": full,
        "where": perm.where,
    }


def create_body(entity: str, data: dict, n: int) -> dict[str, Any]:
    patient, staff = data["patients"][0]["id"], data["staff"][0]["id"]
    return {
        "staff": {"name": f"Staff {n}"},
        "patient": {"name": f"New patient {n}", "phone": f"1391{n:07d}"},
        "appointment": {"patient": patient, "doctor": staff, "starts_at": f"2026-05-{n % 28 + 1:02d}T10:00"},
        "visit": {"patient": patient, "visited_at": "2026-05-01T10:00"},
        "follow_up": {"patient": patient, "due_on": "2026-05-01"},
        "vital_reading": {"patient": patient, "taken_at": "2026-05-01T10:00", "systolic": 120, "diastolic": 80},
        "satisfaction": {"visit": data["visit"]["id"], "score": 4},
    }[entity]


def required_without_default(clinic, entity: str) -> set[str]:
    compiled = clinic.runtime.records.entities[entity]
    return {
        n
        for n, f in compiled.fields.items()
        if f.spec.required and f.compute is None and f.default is None and f.default_value is None
    }


def visible_ids(clinic, user: str, entity: str) -> set[int]:
    """The rows `user` should see: the row filters of the clinic blueprint, spelled out."""
    everything = clinic.runtime.records.list(SYSTEM, entity, limit=500).items
    role = clinic.actors[user].role
    if entity == "patient" and role == "marketing":
        return {r["id"] for r in everything if r["consent_marketing"]}
    if entity == "appointment" and role == "doctor":
        mine = {s["id"] for s in clinic.data["staff"] if s["user"] == clinic.actors[user].id}
        return {r["id"] for r in everything if r["doctor"] in mine}
    return {r["id"] for r in everything}


def check_record(clinic, role: str, entity: str, shown: dict, right: dict, problems: list[str]) -> None:
    """Exactly the readable fields; sensitive ones masked unless the role has full access."""
    truth = clinic.runtime.records.get(SYSTEM, entity, shown["id"])
    compiled = clinic.runtime.records.entities[entity]
    if set(shown) - SYSTEM_KEYS != right["read"]:
        problems.append(f"{role} {entity}: fields {sorted(set(shown) - SYSTEM_KEYS)} != {sorted(right['read'])}")
    for name in right["read"]:
        field = compiled.fields[name]
        real = truth.get(name)
        if field.spec.sensitive and real is not None:
            if right["full"] and shown.get(name) != real:
                problems.append(f"{role} {entity}.{name}: expected the real value")
            if not right["full"] and (shown.get(name) == real or not MASKED.match(str(shown.get(name)))):
                problems.append(f"{role} {entity}.{name}: expected a masked value, got {shown.get(name)!r}")


USERS = list(ROLES) + ["doctor2"]


@pytest.mark.parametrize("user", USERS)
def test_api_permission_matrix(clinic, user):
    role = clinic.actors[user].role
    client = clinic.login(user)
    csrf = {"X-CSRF-Token": _csrf(client)}
    problems: list[str] = []
    for n, entity in enumerate(clinic.runtime.blueprint.entities):
        right = rights(clinic, role, entity)
        readable = bool(right["read"])
        # list and get
        listed = client.get(f"/api/{entity}", params={"limit": 500})
        if not readable:
            if listed.status_code != 403:
                problems.append(f"{user} list {entity}: {listed.status_code} != 403")
            if client.get(f"/api/{entity}/1").status_code != 403:
                problems.append(f"{user} get {entity}: expected 403")
        else:
            items = listed.json()["items"]
            expected = visible_ids(clinic, user, entity)
            if {i["id"] for i in items} != expected:
                problems.append(f"{user} list {entity}: ids {sorted(i['id'] for i in items)} != {sorted(expected)}")
            for item in items:
                check_record(clinic, user, entity, item, right, problems)
            every = {r["id"] for r in clinic.runtime.records.list(SYSTEM, entity, limit=500).items}
            for record_id in every:
                status = client.get(f"/api/{entity}/{record_id}").status_code
                if status != (200 if record_id in expected else 404):
                    problems.append(f"{user} get {entity} {record_id}: {status}")
            # a hidden field cannot be filtered, sorted or searched on: same answer as a field that does not exist
            hidden = [f for f in clinic.runtime.records.entities[entity].stored_fields if f.name not in right["read"]]
            missing = client.get(f"/api/{entity}", params={"no_such_field": "x"}).json()
            for field in hidden:
                for params in ({field.name: "x"}, {"sort": field.name}, {f"{field.name}__gte": "1"}):
                    answer = client.get(f"/api/{entity}", params=params)
                    if answer.status_code != 400 or answer.json()["errors"][0]["code"] != missing["errors"][0]["code"]:
                        problems.append(f"{user} {entity} {params}: {answer.status_code} {answer.text[:100]}")
        # create
        body = create_body(entity, clinic.data, 100 + n * 10 + USERS.index(user))
        created = client.post(f"/api/{entity}", json=body, headers=csrf)
        if not right["create"]:
            want = 403
        elif set(body) <= right["write"] and required_without_default(clinic, entity) <= right["write"]:
            want = 201
        else:
            want = 422
        if created.status_code != want:
            problems.append(f"{user} create {entity}: {created.status_code} != {want} {created.text[:120]}")
        # update (an empty change: tests the action, not the values)
        if readable:
            target = sorted(visible_ids(clinic, user, entity))[0]
            version = clinic.runtime.records.get(SYSTEM, entity, target)["version"]
            patched = client.patch(f"/api/{entity}/{target}", json={"version": version}, headers=csrf)
            want = 200 if right["write"] else 403
            if patched.status_code != want:
                problems.append(f"{user} update {entity}: {patched.status_code} != {want}")
        # delete (a fresh record nobody refers to)
        fresh = clinic.runtime.records.create(SYSTEM, entity, create_body(entity, clinic.data, 900 + n))
        deleted = client.delete(f"/api/{entity}/{fresh['id']}", headers=csrf)
        want = 204 if right["delete"] else 403
        if deleted.status_code != want:
            problems.append(f"{user} delete {entity}: {deleted.status_code} != {want}")
        exported = client.get(f"/api/{entity}/export.csv")
        if exported.status_code != (200 if right["export"] else 403):
            problems.append(f"{user} export {entity}: {exported.status_code}")
        clinic.runtime.records.delete(SYSTEM, entity, fresh["id"]) if deleted.status_code != 204 else None
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("user", USERS)
def test_pages_permission_matrix(clinic, user):
    role = clinic.actors[user].role
    client = clinic.login(user)
    problems: list[str] = []
    home = client.get("/").text
    for entity in clinic.runtime.blueprint.entities:
        right = rights(clinic, role, entity)
        link = f'href="/records/{entity}"'
        if (link in home) != bool(right["read"]):
            problems.append(f"{user} home: link to {entity} shown={link in home}")
        page = client.get(f"/records/{entity}")
        if not right["read"]:
            for path in (f"/records/{entity}", f"/records/{entity}/1"):
                if client.get(path).status_code != 403:
                    problems.append(f"{user} {path}: expected 403")
            continue
        expected = visible_ids(clinic, user, entity)
        every = clinic.runtime.records.list(SYSTEM, entity, limit=500).items
        for record in every:
            detail = client.get(f"/records/{entity}/{record['id']}")
            if detail.status_code != (200 if record["id"] in expected else 404):
                problems.append(f"{user} detail {entity} {record['id']}: {detail.status_code}")
            for text in (page.text, detail.text if detail.status_code == 200 else ""):
                _check_no_leak(clinic, user, entity, record, right, text, problems)
        for action, allowed in (("new", right["create"]),):
            status = client.get(f"/records/{entity}/{action}").status_code
            if status != (200 if allowed else 403):
                problems.append(f"{user} {entity} {action} page: {status}")
        target = sorted(expected)[0]
        edit = client.get(f"/records/{entity}/{target}/edit").status_code
        if edit != (200 if right["write"] else 403):
            problems.append(f"{user} {entity} edit page: {edit}")
        delete = client.get(f"/records/{entity}/{target}/delete").status_code
        if delete != (200 if right["delete"] else 403):
            problems.append(f"{user} {entity} delete page: {delete}")
        if ("export.csv" in page.text) != right["export"]:
            problems.append(f"{user} {entity}: export button shown={'export.csv' in page.text}")
    assert not problems, "\n".join(problems)


def _check_no_leak(clinic, user: str, entity: str, record: dict, right: dict, text: str, problems: list) -> None:
    """Hidden values never appear; sensitive ones appear only masked (unless full access)."""
    compiled = clinic.runtime.records.entities[entity]
    for name, field in compiled.fields.items():
        value = record.get(name)
        if not isinstance(value, str) or len(value) < 5:
            continue
        hidden = name not in right["read"]
        masked = field.spec.sensitive and not right["full"]
        if (hidden or masked) and value in text:
            problems.append(f"{user} {entity}.{name}: the value {value!r} leaked into a page")


def test_front_desk_sees_masked_phone_and_no_medical_section(clinic):
    client = clinic.login("front_desk")
    patient = clinic.data["patients"][0]
    detail = client.get(f"/records/patient/{patient['id']}").text
    assert "138****0000" in detail and patient["phone"] not in detail
    assert "penicillin" not in detail  # allergies are not readable for the front desk
    form = client.get(f"/records/patient/{patient['id']}/edit").text
    assert "Medical" not in form and 'name="allergies"' not in form
    assert 'name="phone"' in form and 'value="138****0000"' in form
    assert 'name="stage"' not in form  # readable, not writable: shown as text
    nurse_form = clinic.login("nurse").get(f"/records/patient/{patient['id']}/edit").text
    assert "Medical" in nurse_form and 'name="allergies"' in nurse_form and 'name="name"' not in nurse_form


def test_marketing_search_cannot_probe_hidden_fields(clinic):
    client = clinic.login("marketing")
    assert client.get("/api/patient", params={"q": "penicillin"}).json()["total"] == 0
    assert client.get("/api/patient", params={"q": "Zhang"}).json()["total"] == 0  # no consent: invisible
    refused = client.get("/records/patient", params={"allergies": "penicillin"})
    assert refused.status_code == 400 and "penicillin" not in refused.text.replace('value="penicillin"', "")


def _csrf(client) -> str:
    from clinic_fixtures import csrf_of

    return csrf_of(client.get("/").text)
