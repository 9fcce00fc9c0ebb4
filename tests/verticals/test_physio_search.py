"""Search strategies and global search on the second vertical (physio): clients by mobile and name, therapists."""

from __future__ import annotations

import pytest
from physio import crm, init_physio_project, serve_physio

from builder.records import SYSTEM
from builder.storage.search_indexes import live_indexes


@pytest.fixture
def served(tmp_path, database_url):
    directory = init_physio_project(tmp_path / "physio", database_url)
    migrated = crm("migrate", "-p", directory, "--yes")
    assert migrated.exit_code == 0, migrated.output
    app = serve_physio(directory)
    records = app.runtime.records
    therapist = records.create(SYSTEM, "therapist", {"display_name": "赵敏"})
    for name, mobile in (("赵一", "13700001111"), ("钱二", "13700002222")):
        records.create(SYSTEM, "client", {"full_name": name, "mobile": mobile, "therapist": therapist["id"]})
    try:
        yield app
    finally:
        app.close()


def names(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.text
    return {
        g["entity"]: sorted(r.get("full_name") or r.get("display_name") or "" for r in g["items"])
        for g in response.json()["groups"]
    }


def test_migrate_made_the_search_indexes(served):
    with served.runtime.engine.connect() as conn:
        made = live_indexes(conn)
    assert {"sx_client_mobile_last4", "sx_client_full_name_prefix", "sx_therapist_display_name_prefix"} <= set(made)


def test_global_search_groups_clients_and_therapists(served):
    admin = served.api("admin")
    assert names(admin.get("/api/search", params={"q": "赵"})) == {"client": ["赵一"], "therapist": ["赵敏"]}
    assert names(admin.get("/api/search", params={"q": "2222"})) == {"client": ["钱二"]}  # last 4, full access


def test_reception_sees_mobiles_masked_and_finds_by_whole_number_only(served):
    reception = served.api("reception")
    assert names(reception.get("/api/search", params={"q": "2222"})) == {}
    assert names(reception.get("/api/search", params={"q": "137 0000 2222"})) == {"client": ["钱二"]}
    assert reception.get("/api/client", params={"q": "2222"}).json()["total"] == 0
