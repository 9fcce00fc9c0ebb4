"""A client generated from /api/openapi.json alone can do a patient's whole round trip.

Nothing here knows our routes: operations are found by operationId, URLs, query
parameters and bodies come from the spec, and every request body and response is
checked against the spec's schemas. If the spec were wrong, this client would be too.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate as validate_spec


class SpecClient:
    """Calls operations by operationId, shaped and checked by an OpenAPI 3.1 document."""

    def __init__(self, spec: dict[str, Any], http: Any):
        validate_spec(spec)
        self.spec, self.http = spec, http
        self.operations: dict[str, tuple[str, str, list[dict], dict]] = {}
        for path, item in spec["paths"].items():
            shared = item.get("parameters", [])
            for method, operation in item.items():
                if method in ("get", "post", "patch", "put", "delete"):
                    self.operations[operation["operationId"]] = (
                        method,
                        path,
                        shared + operation.get("parameters", []),
                        operation,
                    )

    def _check(self, schema: dict[str, Any], value: Any) -> None:
        jsonschema.Draft202012Validator({**schema, "components": self.spec["components"]}).validate(value)

    def call(self, operation_id: str, body: Any = None, check_body: bool = True, **arguments: Any) -> tuple[int, Any]:
        method, path, parameters, operation = self.operations[operation_id]
        query = {}
        for parameter in parameters:
            name = parameter["name"]
            if parameter["in"] == "path":
                path = path.replace("{" + name + "}", str(arguments.pop(name)))
            elif parameter["in"] == "query" and name in arguments:
                query[name] = arguments.pop(name)
        assert not arguments, f"not parameters of {operation_id}: {sorted(arguments)}"
        if body is not None and check_body:
            self._check(operation["requestBody"]["content"]["application/json"]["schema"], body)
        response = self.http.request(method.upper(), path, params=query, json=body)
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, f"{operation_id} answered an undocumented {response.status_code}"
        payload = response.json() if response.content else None
        content = documented.get("content", {}).get("application/json")
        if content:
            self._check(content["schema"], payload)
        return response.status_code, payload


def test_a_spec_generated_client_round_trips_a_patient(clinic):
    http = clinic.api("admin")
    client = SpecClient(http.get("/api/openapi.json").json(), http)
    status, created = client.call(
        "create_patient",
        body={"name": "Spec Client", "phone": "13911112222", "gender": "female", "birth_date": "1990-02-03"},
    )
    assert status == 201 and created["age"] >= 36
    status, found = client.call("list_patient", q="Spec Client", limit=10)
    assert status == 200 and [p["id"] for p in found["items"]] == [created["id"]]
    status, changed = client.call("update_patient", id=created["id"], body={"version": 1, "stage": "active"})
    assert status == 200 and changed["stage"] == "active" and changed["version"] == 2
    status, stale = client.call("update_patient", id=created["id"], body={"version": 1, "stage": "dormant"})
    assert status == 409 and stale["errors"]
    status, invalid = client.call("create_patient", body={"name": "No Phone"}, check_body=False)
    assert status == 422 and invalid["errors"][0]["field"] == "phone"
    assert client.call("delete_patient", id=created["id"])[0] == 204
    assert client.call("get_patient", id=created["id"])[0] == 404
