"""schemathesis against the generated API: no 500s and no response that contradicts the spec."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as st_checks

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# CI explores the same cases every run (a red build always means a real change);
# CRM_FUZZ_RANDOM=1 with more CRM_FUZZ_EXAMPLES hunts for new ones.
DERANDOMIZE = os.environ.get("CRM_FUZZ_RANDOM") != "1"
EXAMPLES = int(
    os.environ.get("CRM_FUZZ_EXAMPLES", "30")
)  # per operation and mode: bounded, the whole test stays well under a minute
OPERATIONS = (
    tuple(os.environ["CRM_FUZZ_OPERATIONS"].split(","))
    if os.environ.get("CRM_FUZZ_OPERATIONS")
    else ("/api/patient", "/api/patient/{id}", "/api/appointment", "/api/appointment/{id}")
)


@pytest.fixture(params=["sqlite"])
def database_url(request, sqlite_url):  # one database is enough for fuzzing; the rest run on both
    return sqlite_url


def test_api_conforms_to_its_openapi(clinic):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", clinic.app)
    token = clinic.tokens["admin"]
    failures: list[str] = []
    for path in OPERATIONS:
        for method, mode in [(m, g) for m in ("get", "post", "patch", "delete") for g in MODES]:
            try:
                operation = schema[path][method.upper()]
            except LookupError:
                continue

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=DERANDOMIZE,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
                response = case.call()
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as exc:  # noqa: BLE001 - collect, report all at the end
                    failures.append(f"{method.upper()} {path} ({mode.value}): {str(exc)[:800]}")  # noqa: B023 - run() runs in this iteration

            run()
    assert not failures, "\n\n".join(failures[:10])
