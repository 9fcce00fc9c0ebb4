"""Double booking: parallel writers of one slot, each with its own connection, book it once.

Rules that read other rows (`overlaps`, `count`, `exists`, `last`) used to be checked
and then written in two steps, so on PostgreSQL 16 parallel creates of one slot let up
to 12 through. Writers of the same scope are now serialised (docs/rules.md); SQLite,
whose writers take the write lock up front, must keep holding too.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import sqlalchemy as sa
from race_helpers import (
    SLOT_MESSAGE,
    SLOT_MESSAGES,
    clinic_runtime,
    crm_servers,
    in_lockstep,
    own_service,
    summary,
    write_config,
)

from builder.records import SYSTEM, FieldError, ValidationFailed

PARALLEL = 16
SLOTS = 10
FIRST_SLOT = dt.datetime(2026, 12, 1, 9, 0)


def _slot(round_: int) -> str:
    return (FIRST_SLOT + dt.timedelta(minutes=30 * round_)).isoformat(timespec="minutes")


def _refused_for_the_slot(outcome: object) -> bool:
    return isinstance(outcome, ValidationFailed) and outcome.errors == [FieldError("starts_at", "rule", SLOT_MESSAGE)]


def _booked(runtime, doctor: int) -> list[dt.datetime]:
    table = runtime.records.schema.table("appointment")
    with runtime.engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.starts_at).where(table.c.doctor == doctor)).scalars())


def _judge(results: list[list[object]]) -> None:
    """Exactly one writer per slot got through; every other one got the rule's own refusal."""
    for round_, outcomes in enumerate(results):
        made = [o for o in outcomes if isinstance(o, dict)]
        refused = [o for o in outcomes if _refused_for_the_slot(o)]
        assert len(made) == 1, f"slot {_slot(round_)}: {len(made)} bookings; outcomes: {summary(outcomes)}"
        assert len(refused) == PARALLEL - 1, f"slot {_slot(round_)}: {summary(outcomes)}"


@pytest.mark.timeout(240)
def test_parallel_creates_book_each_slot_exactly_once(tmp_path, database_url):
    runtime, ids = clinic_runtime(tmp_path / "project", database_url)
    services = [own_service(runtime, database_url) for _ in range(PARALLEL)]
    try:

        def book(worker: int, round_: int):
            return services[worker].create(
                SYSTEM,
                "appointment",
                {"patient": ids["patient"], "doctor": ids["doctor"], "starts_at": _slot(round_), "minutes": 20},
            )

        _judge(in_lockstep(PARALLEL, SLOTS, book))
        assert len(_booked(runtime, ids["doctor"])) == SLOTS
    finally:
        for service in services:
            service.engine.dispose()
        runtime.close()


@pytest.mark.timeout(240)
def test_parallel_updates_move_one_record_into_each_slot(tmp_path, database_url):
    """Moving existing appointments into a slot is the same race as creating them there."""
    runtime, ids = clinic_runtime(tmp_path / "project", database_url)
    rounds = 4
    parked = [
        [
            runtime.records.create(
                SYSTEM,
                "appointment",
                {
                    "patient": ids["patient"],
                    "doctor": ids["doctor"],
                    "minutes": 20,
                    "starts_at": (FIRST_SLOT + dt.timedelta(days=1 + worker, minutes=30 * round_)).isoformat(),
                },
            )
            for worker in range(PARALLEL)
        ]
        for round_ in range(rounds)
    ]
    services = [own_service(runtime, database_url) for _ in range(PARALLEL)]
    try:

        def move(worker: int, round_: int):
            record = parked[round_][worker]
            return services[worker].update(
                SYSTEM, "appointment", record["id"], {"starts_at": _slot(round_)}, record["version"]
            )

        _judge(in_lockstep(PARALLEL, rounds, move))
        booked = _booked(runtime, ids["doctor"])
        assert [b for b in booked if b.date() == FIRST_SLOT.date()] == [
            FIRST_SLOT + dt.timedelta(minutes=30 * r) for r in range(rounds)
        ]
    finally:
        for service in services:
            service.engine.dispose()
        runtime.close()


@pytest.mark.timeout(280)
def test_parallel_bookings_through_two_crm_serve_processes(tmp_path, database_url):
    """The API of two real servers on one database: 201 once per slot, 422 with the rule's message otherwise."""
    runtime, ids = clinic_runtime(tmp_path / "project", database_url)
    project = write_config(runtime, database_url)
    runtime.close()
    headers = {"Authorization": f"Bearer {ids['tokens']['front_desk']}"}
    with crm_servers(project, 2) as bases:
        clients = [httpx.Client(base_url=bases[w % 2], headers=headers, timeout=60) for w in range(PARALLEL)]
        try:

            def book(worker: int, round_: int):
                response = clients[worker].post(
                    "/api/appointment",
                    json={
                        "patient": ids["patient"],
                        "doctor": ids["doctor"],
                        "starts_at": _slot(round_),
                        "minutes": 20,
                    },
                )
                return response.status_code, response.json()

            results = in_lockstep(PARALLEL, SLOTS, book)
        finally:
            for client in clients:
                client.close()
    refusals = [{"errors": [{"field": "starts_at", "code": "rule", "message": text}]} for text in SLOT_MESSAGES]
    for round_, outcomes in enumerate(results):
        statuses = sorted(o[0] if isinstance(o, tuple) else repr(o) for o in outcomes)
        assert statuses == [201] + [422] * (PARALLEL - 1), f"slot {_slot(round_)}: {summary(outcomes)}"
        assert all(body in refusals for status, body in outcomes if status == 422), summary(outcomes)


CAPACITY_BLUEPRINT = """\
app: {name: races}
entities:
  booking:
    fields:
      day:  {type: date, required: true}
      seat: {type: integer, required: true}
    validations:
      - rule: "count('booking', day=day) < 3"
        message: {en: The day is full}
      - rule: "not exists('booking', day=day, seat=seat)"
        fields: [seat]
        message: {en: The seat is taken}
"""


@pytest.mark.timeout(240)
def test_parallel_creates_respect_a_counted_capacity(tmp_path, database_url):
    """`count` and `exists` hold like `overlaps`: three bookings a day, never a fourth, one per seat."""
    from builder.loading import load_blueprint
    from builder.records import RecordService
    from builder.storage.database import make_engine
    from builder.system_tables import create_system_tables

    (tmp_path / "bp.yaml").write_text(CAPACITY_BLUEPRINT, encoding="utf-8")
    entities = load_blueprint(tmp_path / "bp.yaml").blueprint.entities
    services = [RecordService(entities, make_engine(database_url)) for _ in range(PARALLEL)]
    services[0].schema.metadata.create_all(services[0].engine)
    create_system_tables(services[0].engine)
    days = 5
    try:

        def book(worker: int, round_: int):
            return services[worker].create(SYSTEM, "booking", {"day": f"2026-12-0{round_ + 1}", "seat": worker % 4})

        for outcomes in in_lockstep(PARALLEL, days, book):
            made = [o for o in outcomes if isinstance(o, dict)]
            refused = [
                o
                for o in outcomes
                if isinstance(o, ValidationFailed)
                and {e.message for e in o.errors} <= {"The day is full", "The seat is taken"}
            ]
            assert len(made) == 3 and len({m["seat"] for m in made}) == 3, summary(outcomes)
            assert len(refused) == PARALLEL - 3, summary(outcomes)
        table = services[0].schema.table("booking")
        with services[0].engine.connect() as conn:
            per_day = conn.execute(sa.select(table.c.day, sa.func.count()).group_by(table.c.day)).all()
        assert sorted(n for _, n in per_day) == [3] * days
    finally:
        for service in services:
            service.engine.dispose()
