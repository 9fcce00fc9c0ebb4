"""The messy files and the web tests' clinic fixtures, importable from this folder; a clinic to import into."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "web", HERE.parents[1] / "verticals"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture
def clinic(tmp_path, database_url):
    """The clinic on SQLite or PostgreSQL, with accounts per role, two doctors and one patient already there."""
    from clinic_fixtures import build_runtime, create_users
    from messy_files import EXISTING_PHONE

    from builder.records import SYSTEM

    runtime = build_runtime(tmp_path / "clinic", database_url)
    actors = create_users(runtime)
    records = runtime.records
    doctors = [
        records.create(SYSTEM, "staff", {"name": "Dr. Li", "department": "internal_medicine"}),
        records.create(SYSTEM, "staff", {"name": "Dr. Zhao", "department": "dental"}),
    ]
    existing = records.create(SYSTEM, "patient", {"name": "老患者", "phone": EXISTING_PHONE})
    try:
        yield {"runtime": runtime, "actors": actors, "doctors": doctors, "existing": existing}
    finally:
        runtime.close()
