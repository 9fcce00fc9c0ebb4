"""The scope locks behind race-free rules: which lock a rule takes, when, and that none can deadlock."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
import sqlalchemy as sa
from race_helpers import REPO, clinic_runtime

from builder.records.related import SqlRelated
from builder.storage.database import make_engine, write_transaction
from builder.storage.locks import ScopeBusy, lock_scope_without_deadlock, lock_scopes, scope_key

START = dt.datetime(2026, 12, 1, 9, 0)


def _advisory_keys(engine: sa.Engine) -> set[int]:
    """The advisory locks held right now in this test's own database (bigint keys are split in two halves).

    Other tests run in parallel on the same server, each in its own database: their locks are not ours.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT classid::bigint, objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).all()
    return {int.from_bytes(((hi << 32) | lo).to_bytes(8, "big"), "big", signed=True) for hi, lo in rows}


def test_a_scope_key_is_the_same_in_every_process():
    here = scope_key("rows", "appointment", [("doctor", ["7"])])
    code = "from builder.storage.locks import scope_key; print(scope_key('rows', 'appointment', [('doctor', ['7'])]))"
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PYTHONHASHSEED": "random"},
    ).stdout
    assert int(there) == here
    assert -(2**63) <= here < 2**63
    assert scope_key("rows", "appointment", [("doctor", ["8"])]) != here


@pytest.mark.postgres
def test_a_rule_read_in_a_write_locks_its_scope_and_a_plain_read_does_not(tmp_path, postgres_url):
    runtime, ids = clinic_runtime(tmp_path / "project", postgres_url)
    service, doctor = runtime.records, ids["doctor"]
    try:
        with write_transaction(service.engine) as conn:
            SqlRelated(service, conn).overlaps("appointment", START, 20, {"doctor": doctor})
            SqlRelated(service, conn).count("appointment", {})
            held = _advisory_keys(service.engine)
        assert held == {
            scope_key("rows", "appointment", [("doctor", [str(doctor)])]),
            scope_key("rows", "appointment", []),
        }
        assert _advisory_keys(service.engine) == set()  # released at commit
        with service.engine.connect() as conn, conn.begin():
            SqlRelated(service, conn).overlaps("appointment", START, 20, {"doctor": doctor})
            assert _advisory_keys(service.engine) == set()
    finally:
        runtime.close()


@pytest.mark.postgres
def test_a_further_scope_lock_gives_up_instead_of_deadlocking(postgres_url):
    engine = make_engine(postgres_url)
    first, second = scope_key("test", 1), scope_key("test", 2)
    try:
        with write_transaction(engine) as holder:
            lock_scopes(holder, [second])
            with write_transaction(engine) as waiter:
                lock_scope_without_deadlock(waiter, first, holding=False)
                with pytest.raises(ScopeBusy, match="try again"):
                    lock_scope_without_deadlock(waiter, second, holding=True, wait_limit=0.2)
    finally:
        engine.dispose()
