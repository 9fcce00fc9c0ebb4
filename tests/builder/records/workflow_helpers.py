"""A clinic record service with its workflows wired and a clock the test moves, on each database.

`flow_service` runs on SQLite and PostgreSQL (through `database_url`); `clock` is the
app-timezone wall clock (naive, Asia/Shanghai) the service stamps and decides with.
Actors: `admin`, `front_desk`, `nurse`, `doctor` (account 7, the doctor of `clinic`'s
appointments) and `analyst`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from builder.loading import load_blueprint
from builder.records import SYSTEM, Actor, RecordService
from builder.storage.database import make_engine
from builder.system_tables import create_system_tables
from engines.rules import get_timezone, set_timezone

CLINIC_DIR = Path(__file__).resolve().parents[3] / "blueprints" / "clinic"
LOADED = load_blueprint(CLINIC_DIR)
START = dt.datetime(2026, 12, 1, 9, 0)  # a Tuesday morning in Shanghai

ADMIN = Actor(1, "ada", "admin")
FRONT = Actor(2, "fay", "front_desk")
NURSE = Actor(3, "nina", "nurse")
DOCTOR = Actor(7, "dr_li", "doctor")
ANALYST = Actor(9, "ann", "analyst")


@dataclass
class Clock:
    """The service's clock: naive wall time in the app's timezone, moved by the test."""

    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def aware(self) -> dt.datetime:
        return self.now.replace(tzinfo=get_timezone())


@dataclass
class Clinic:
    """A wired service and the records most tests start from."""

    service: RecordService
    clock: Clock
    doctor: int = 0
    patient: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self, table: sa.Table, **where: Any) -> list[Any]:
        query = sa.select(table).order_by(*table.primary_key.columns)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        with self.service.engine.connect() as conn:
            return list(conn.execute(query).all())

    def appointment(self, hours_ahead: float = 48, **values: Any) -> dict[str, Any]:
        starts = self.clock.now + dt.timedelta(hours=hours_ahead)
        data = {"patient": self.patient, "doctor": self.doctor, "starts_at": starts.isoformat(), **values}
        return self.service.create(FRONT, "appointment", data)

    def move(self, actor: Actor, entity: str, record: dict[str, Any], name: str, **kw: Any) -> dict[str, Any]:
        return self.service.transition(actor, entity, record["id"], name, record["version"], **kw)


def make_clinic(database_url: str, loaded: Any = LOADED) -> Clinic:
    """The wired service over `loaded` (the clinic template, or a variant of it), with a doctor and a patient."""
    set_timezone(loaded.blueprint.app.timezone)
    engine = make_engine(database_url)
    clock = Clock()
    service = RecordService(
        loaded.blueprint.entities,
        engine,
        None,
        clock=clock,
        decision_tables=loaded.decision_tables,
        timezone=loaded.blueprint.app.timezone,
        flows=loaded.flows,
    )
    service.schema.metadata.create_all(engine)
    create_system_tables(engine)
    clinic = Clinic(service, clock)
    clinic.doctor = service.create(SYSTEM, "staff", {"name": "李医生", "department": "internal_medicine", "user": 7})[
        "id"
    ]
    patient = {"name": "王芳", "phone": "13800138000", "primary_doctor": clinic.doctor, "consent_sms": True}
    clinic.patient = service.create(SYSTEM, "patient", patient)["id"]
    return clinic


def clinic_fixture(database_url: str, loaded: Any = LOADED) -> Iterator[Clinic]:
    """For a test module's `clinic` fixture: the wired clinic, the global timezone restored after."""
    previous = get_timezone()
    made = make_clinic(database_url, loaded)
    yield made
    made.service.engine.dispose()
    set_timezone(previous)


def clinic_variant(directory: Path, extra_yaml: str) -> Any:
    """The clinic template with one more file under workflows/ (extra automations for a test)."""
    shutil.copytree(CLINIC_DIR, directory)
    (directory / "workflows" / "test_extra.yaml").write_text(extra_yaml, encoding="utf-8")
    return load_blueprint(directory)
