"""`crm seed` on any blueprint, run as a user runs it: counts as asked, believable values, links that exist.

Issue 8, item 19: on a blueprint other than the clinic template, `--patients 2000` made
5 rows of its main entity, names were Faker sentences and birth dates lay in the future.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import sys
from pathlib import Path

import phonenumbers
import pytest
import sqlalchemy as sa

from builder.records import SYSTEM
from builder.runtime import open_runtime
from engines.forms.fieldtypes import is_valid_resident_id

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "verticals"))
physio_project = importlib.import_module("physio")  # the shared physio project (tests/verticals/physio.py)
ENTITIES, crm, init_physio_project = physio_project.ENTITIES, physio_project.crm, physio_project.init_physio_project

CHINESE_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
ENGLISH_NAME = re.compile(r"[A-Z][a-z'-]+ [A-Z][a-zA-Z'-]+")


def ok(*args):
    result = crm(*args)
    assert result.exit_code == 0, result.output
    return result.output


def counts(url: str, tables) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar() for t in tables}
    finally:
        engine.dispose()


def all_records(project: Path, entity: str) -> list[dict]:
    runtime = open_runtime(project)
    try:
        return runtime.records.list(SYSTEM, entity, limit=500).items
    finally:
        runtime.close()


def valid_phone(value: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(value, "CN"))


@pytest.fixture
def clinic(tmp_path) -> Path:
    ok("init", tmp_path / "clinic")
    ok("migrate", "-p", tmp_path / "clinic", "--yes")
    return tmp_path / "clinic"


@pytest.fixture
def physio(tmp_path, database_url) -> tuple[Path, str]:
    project = init_physio_project(tmp_path / "physio", database_url)
    ok("migrate", "-p", project, "--yes")
    return project, database_url


def test_clinic_patients_as_asked_with_believable_values(clinic):
    output = ok("seed", "-p", clinic, "--patients", "40")
    assert re.search(r"patient\s+40\s+0", output) and "Seeded" in output
    made = counts(f"sqlite:///{clinic / 'crm.sqlite3'}", ["patient", "staff", "appointment", "visit"])
    assert made["patient"] == 40 and made["staff"] >= 6 and made["appointment"] > 40 and made["visit"] > 40
    patients = all_records(clinic, "patient")
    today = dt.date.today()
    for patient in patients:
        assert CHINESE_NAME.fullmatch(patient["name"]), patient["name"]
        assert valid_phone(patient["phone"]), patient["phone"]
        assert patient["birth_date"] < today and 1 <= patient["age"] <= 95, patient["birth_date"]  # always known
        if patient["id_number"]:
            assert is_valid_resident_id(patient["id_number"])
            assert patient["id_number"][6:14] == patient["birth_date"].strftime("%Y%m%d")
    assert sum(1 for p in patients if p["birth_date"]) > 20 and sum(1 for p in patients if p["id_number"]) > 20


def test_rows_for_every_entity_with_overrides(clinic):
    output = ok("seed", "-p", clinic, "--rows", "4", "--rows", "staff=2", "--rows", "visit=0")
    assert re.search(r"visit\s+0\s+0", output)
    assert counts(
        f"sqlite:///{clinic / 'crm.sqlite3'}",
        ["patient", "staff", "appointment", "follow_up", "visit", "vital_reading"],
    ) == {"patient": 4, "staff": 2, "appointment": 4, "follow_up": 4, "visit": 0, "vital_reading": 4}


def test_physio_every_entity_gets_rows_that_link_to_existing_rows(physio):
    project, url = physio
    output = ok("seed", "-p", project, "--rows", "12", "--rows", "therapist=3")
    made = counts(url, [*ENTITIES, "exercise_plan__exercises"])
    assert made["therapist"] == 3 and made["client"] == 12 and all(made[e] > 0 for e in made), made
    assert "Traceback" not in output
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for entity, column, target in [
                ("client", "therapist", "therapist"),
                ("session", "client", "client"),
                ("session", "therapist", "therapist"),
                ("exercise_plan", "client", "client"),
                ("pain_reading", "client", "client"),
            ]:
                dangling = conn.execute(
                    sa.text(
                        f"select count(*) from {entity} e left join {target} t on t.id = e.{column} "
                        f"where e.{column} is not null and t.id is null"
                    )
                ).scalar()
                assert dangling == 0, (entity, column)
            assert (
                conn.execute(sa.text("select count(*) from session where client is null or therapist is null")).scalar()
                == 0
            )
            assert conn.execute(sa.text("select count(*) from client where therapist is not null")).scalar() > 0
    finally:
        engine.dispose()
    clients = all_records(project, "client")
    assert all(ENGLISH_NAME.fullmatch(c["full_name"]) for c in clients), [c["full_name"] for c in clients]
    assert all(c["born_on"] is None or c["born_on"] < dt.date.today() for c in clients)
    assert all(valid_phone(c["mobile"]) for c in clients)
    sessions = [s for s in all_records(project, "session") if s["status"] != "cancelled"]
    for one in sessions:  # the overlaps rule held for seeded bookings too
        for other in sessions:
            if one["id"] < other["id"] and one["therapist"] == other["therapist"]:
                first, second = sorted((one, other), key=lambda s: s["starts_at"])
                assert first["starts_at"] + dt.timedelta(minutes=first["minutes"]) <= second["starts_at"]


def test_patients_means_the_main_entity_elsewhere(physio):
    """The report of item 19, on the physio vertical: the main entity is `client`, names are `full_name`."""
    project, url = physio
    ok("seed", "-p", project, "--patients", "20")
    assert counts(url, ["client"]) == {"client": 20}
    clients = all_records(project, "client")
    assert all(ENGLISH_NAME.fullmatch(c["full_name"]) for c in clients), [c["full_name"] for c in clients]
    assert all(c["born_on"] is None or c["born_on"] < dt.date.today() for c in clients)
    assert all(valid_phone(c["mobile"]) for c in clients)
    ok("seed", "-p", project, "--patients", "3", "--rows", "session=2")
    assert counts(url, ["client", "session"]) == {"client": 23, "session": 42}


def test_the_same_seed_makes_the_same_data(tmp_path, sqlite_url):
    names = []
    for run, seed in enumerate((5, 5, 6)):
        project = init_physio_project(tmp_path / f"p{run}", f"sqlite:///{tmp_path / f'p{run}.sqlite3'}")
        ok("migrate", "-p", project, "--yes")
        ok("seed", "-p", project, "--rows", "5", "--random-seed", seed)
        names.append([c["full_name"] for c in all_records(project, "client")])
    assert names[0] == names[1] != names[2]


def small_project(tmp_path: Path, blueprint: str) -> Path:
    project = tmp_path / "small"
    project.mkdir()
    (project / "blueprint.yaml").write_text(blueprint, encoding="utf-8")
    (project / "crm.toml").write_text('[database]\nurl = "sqlite:///crm.sqlite3"\n', encoding="utf-8")
    ok("migrate", "-p", project, "--yes")
    return project


def test_rows_a_rule_refuses_are_retried_then_skipped_and_counted(tmp_path):
    project = small_project(
        tmp_path,
        """
app: {name: rooms}
entities:
  room:
    fields:
      code: {type: select, options: [a, b, c], unique: true, required: true}
""",
    )
    output = ok("seed", "-p", project, "--rows", "5")
    assert re.search(r"room\s+3\s+2", output), output
    assert "skipped 2" in output and "room: last refusal:" in output
    assert counts(f"sqlite:///{project / 'crm.sqlite3'}", ["room"]) == {"room": 3}


def test_links_in_a_cycle_and_to_the_same_entity_are_filled(tmp_path):
    project = small_project(
        tmp_path,
        """
app: {name: wards}
entities:
  ward:
    fields:
      title: {type: text, required: true}
      head: {type: link, to: nurse}
  nurse:
    fields:
      name: {type: text, required: true}
      ward: {type: link, to: ward, required: true}
      mentor: {type: link, to: nurse}
""",
    )
    output = ok("seed", "-p", project, "--rows", "10")
    assert re.search(r"ward\s+10\s+0", output) and re.search(r"nurse\s+10\s+0", output), output
    assert "ward: " in output and "linked afterwards" in output
    engine = sa.create_engine(f"sqlite:///{project / 'crm.sqlite3'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from ward where head is not null")).scalar() > 0
            assert conn.execute(sa.text("select count(*) from nurse where mentor is not null")).scalar() > 0
            assert conn.execute(sa.text("select count(*) from nurse where ward is null")).scalar() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("rows, message", [("nope=3", "no entity called `nope`"), ("lots", "expected a count")])
def test_bad_rows_are_a_clear_error(clinic, rows, message):
    result = crm("seed", "-p", clinic, "--rows", rows)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_an_unknown_entity_in_rows_names_the_known_ones_and_seeds_nothing(clinic):
    """seeding.md: `--rows ENTITY=N` with an unknown entity is an error naming the known ones."""
    result = crm("seed", "-p", clinic, "--rows", "visit=2", "--rows", "vitals=3", "--rows", "nope=1")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "no entity called `nope`, `vitals`" in result.output
    known = re.search(r"\(entities: ([^)]*)\)", result.output)
    assert known, result.output
    assert {"patient", "staff", "appointment", "visit", "vital_reading", "follow_up"} <= set(known[1].split(", "))
    assert counts(f"sqlite:///{clinic / 'crm.sqlite3'}", ["patient", "visit"]) == {"patient": 0, "visit": 0}
