"""The OpenAPI document says what the server checks: every list parameter the server accepts is documented,
every documented one is accepted, filters and sorts are typed, and required text cannot be empty."""

from __future__ import annotations

from openapi_spec_validator import validate as validate_spec

from builder.records.querying import OPERATORS

OPS = (*OPERATORS, "in", "contains")
SAMPLES = {
    "text": "a",
    "long_text": "a",
    "phone": "13800138000",
    "email": "a@example.com",
    "cn_resident_id": "11010519491231002X",
    "boolean": "true",
    "integer": "1",
    "decimal": "1.5",
    "date": "2026-01-01",
    "datetime": "2026-01-01T09:00",
    "link": "1",
    "user": "1",
}


def _sample(field, op: str) -> str:
    kind = field.spec.type if field is not None else "integer"
    value = (field.spec.options or ["x"])[0] if field is not None and field.spec.options else SAMPLES.get(kind, "a")
    return f"{value},{value}" if op == "in" else value


def _list_parameters(spec: dict, entity: str) -> dict[str, dict]:
    return {p["name"]: p for p in spec["paths"][f"/api/{entity}"]["get"]["parameters"]}


def test_the_document_is_valid_openapi(clinic):
    validate_spec(clinic.api("admin").get("/api/openapi.json").json())


def test_every_accepted_list_parameter_is_documented_and_every_documented_one_accepted(clinic):
    api = clinic.api("admin")
    documented = _list_parameters(api.get("/api/openapi.json").json(), "patient")
    entity = clinic.runtime.records.entities["patient"]
    candidates: dict[str, str] = {
        "q": "wang",
        "sort": "-name",
        "limit": "5",
        "offset": "0",
        "count": "exact",
        "fields": "name,phone",
        "after": api.get("/api/patient", params={"limit": 1}).json()["next_after"],
        "no_such_field": "a",
        "name__startswith": "a",
        "tags__in": "vip,vip",
    }
    fields = {"id": None, **{n: f for n, f in entity.fields.items() if f.kind.stored and not f.children}}
    for name, field in fields.items():
        for op in OPS:
            candidates[name if op == "eq" else f"{name}__{op}"] = _sample(field, op)
    for stamp in ("created_at", "updated_at"):  # every table's stamps: ranges only (a report's drill-down)
        for op in OPS:
            candidates[stamp if op == "eq" else f"{stamp}__{op}"] = "2026-01-01T00:00"
    assert set(documented) <= set(candidates), set(documented) - set(candidates)
    accepted, crashed = set(), []
    for key, value in candidates.items():
        response = api.get("/api/patient", params={key: value})
        if response.status_code == 200:
            accepted.add(key)
        elif response.status_code != 400:
            crashed.append((key, response.status_code))
    assert not crashed
    assert accepted == set(documented), (sorted(accepted - set(documented)), sorted(set(documented) - accepted))


def test_filters_and_sort_are_typed(clinic):
    params = _list_parameters(clinic.api("admin").get("/api/openapi.json").json(), "patient")
    assert params["age"]["schema"]["type"] == "integer" and params["age__gte"]["schema"]["type"] == "integer"
    assert params["id"]["schema"]["type"] == "integer"
    assert params["primary_doctor"]["schema"]["type"] == "integer"
    assert params["birth_date__lte"]["schema"]["format"] == "date"
    assert params["pregnancy"]["schema"] == {"type": "boolean"}
    assert params["stage"]["schema"]["enum"] == ["lead", "new", "active", "follow_up", "dormant"]
    listed = params["stage__in"]
    assert listed["schema"]["type"] == "array" and listed["schema"]["items"]["enum"][0] == "lead"
    assert listed["style"] == "form" and listed["explode"] is False and "comma" in listed["description"]
    assert "pregnancy__gte" not in params and "age__contains" not in params
    assert "id_number__gte" not in params and "id_number__contains" not in params  # encrypted: exact only
    sort = params["sort"]
    assert sort["style"] == "form" and sort["explode"] is False
    keys = sort["schema"]["items"]["enum"]
    assert {"name", "-name", "birth_date", "-birth_date", "id", "-id"} <= set(keys)
    assert "phone" not in keys and "-id_number" not in keys  # sensitive and encrypted fields are not sortable


def test_every_documented_sort_is_accepted_and_others_refused(clinic):
    api = clinic.api("admin")
    keys = _list_parameters(api.get("/api/openapi.json").json(), "patient")["sort"]["schema"]["items"]["enum"]
    assert all(api.get("/api/patient", params={"sort": key}).status_code == 200 for key in keys)
    for refused in ("phone", "-id_number", "no_such_field"):
        assert api.get("/api/patient", params={"sort": refused}).status_code == 400


def test_required_text_has_min_length_and_blank_text_is_required(clinic):
    api = clinic.api("admin")
    schemas = api.get("/api/openapi.json").json()["components"]["schemas"]
    name = schemas["PatientCreate"]["properties"]["name"]
    assert name["minLength"] == 1 and name["pattern"] == r"\S"
    assert "minLength" not in str(schemas["PatientCreate"]["properties"]["email"])  # optional: may be empty
    assert schemas["VisitCreate"]["properties"]["prescriptions"]["items"]["properties"]["drug"]["minLength"] == 1
    for blank in ("", "   "):
        response = api.post("/api/patient", json={"name": blank, "phone": "13800138000"})
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "name", "code": "required", "message": response.json()["errors"][0]["message"]}
        ]
