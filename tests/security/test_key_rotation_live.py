"""`crm keys rotate` and `crm keys prune` while a real `crm serve` keeps running.

The server was started before the rotation and is never restarted: it must keep
reading every record (reloading the key file), encrypt new values with the key the
database names, and hold prune back until it has moved on; prune must also refuse
while a stored value is under an old key. In the end nothing is lost.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from click.testing import CliRunner
from live_server import LiveServer, clinic_project, resident_id, run_cli

from builder.cli import main
from builder.storage.crypto import Keyring, field_context, key_id_of
from builder.storage.database import make_engine

CONTEXT = field_context("patient", "id_number")
# The server's own heartbeat thread must not move it on behind the test's back.
NO_IDLE_CHECKS = "key_check_seconds = 3600\n"
WAIT_SECONDS = 60  # a bound for a loaded machine, not a timing assertion


def stored_tokens(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT id, id_number FROM patient ORDER BY id")).all())


def server_keys(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT active_key FROM crm_key_user")).scalars())


def wait_for_server_key(engine: sa.Engine, key_id: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while server_keys(engine) != [key_id]:
        assert time.monotonic() < deadline, f"the server's heartbeat still says {server_keys(engine)}"
        time.sleep(0.2)


def prune_refused(project) -> str:
    result = CliRunner().invoke(main, ["keys", "prune", "-p", str(project.root)])
    assert result.exit_code == 1, result.output
    return result.output


def assert_reads(server: LiveServer, expected: dict[int, str]) -> None:
    for record_id, number in expected.items():
        answer = server.client.get(f"/api/patient/{record_id}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["id_number"] == number


def write_patient(server: LiveServer, serial: int) -> int:
    answer = server.client.post(
        "/api/patient",
        json={"name": f"New {serial}", "phone": f"1397654{serial:04d}", "id_number": resident_id(serial)},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_rotate_and_prune_with_a_server_running(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, extra_config=NO_IDLE_CHECKS)
    expected = {p["id"]: p["id_number"] for p in project.patients}
    old_keys = Keyring.load(project.key_file)
    engine = make_engine(database_url)
    try:
        with LiveServer(project, tmp_path / "serve.log") as server:
            assert_reads(server, expected)
            assert server_keys(engine) == ["k1"]

            run_cli("keys", "rotate", "-p", str(project.root))
            assert {key_id_of(t) for t in stored_tokens(engine).values()} == {"k2"}
            assert "uses k1" in prune_refused(project)  # the idle server still holds k1
            assert Keyring.load(project.key_file).key_ids == ["k1", "k2"]
            listed = server.client.get("/api/patient", params={"sort": "id"})
            assert listed.status_code == 200, listed.text
            assert [p["id_number"] for p in listed.json()["items"]] == list(expected.values())
            assert_reads(server, expected)  # no restart: the server reloaded the key file

            new_id = write_patient(server, 101)
            expected[new_id] = resident_id(101)
            assert key_id_of(stored_tokens(engine)[new_id]) == "k2", "new writes use the new key"
            wait_for_server_key(engine, "k2")

            # A value still under k1, as a write that raced an interrupted rotation would leave it.
            straggler = next(iter(expected))
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE patient SET id_number = :token WHERE id = :id"),
                    {"token": old_keys.encrypt(expected[straggler], CONTEXT), "id": straggler},
                )
            assert "k1: 1 values" in prune_refused(project)
            assert_reads(server, expected)

            run_cli("keys", "rotate", "-p", str(project.root))
            assert "uses k2" in prune_refused(project)
            expected[write_patient(server, 102)] = resident_id(102)
            wait_for_server_key(engine, "k3")
            assert "Pruned" in run_cli("keys", "prune", "-p", str(project.root))
            assert Keyring.load(project.key_file).key_ids == ["k3"]

            assert_reads(server, expected)
            newest = write_patient(server, 103)  # after the prune: under the key that is left
            expected[newest] = resident_id(103)
            assert key_id_of(stored_tokens(engine)[newest]) == "k3"
        assert "Traceback" not in server.log_text()
        final = Keyring.load(project.key_file)
        tokens = stored_tokens(engine)
        assert {record_id: final.decrypt(token, CONTEXT) for record_id, token in tokens.items()} == expected
        assert server_keys(engine) == [], "a stopped server removes its heartbeat"
    finally:
        engine.dispose()
