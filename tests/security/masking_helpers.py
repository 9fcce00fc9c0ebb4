"""A seeded clinic behind the real app (security layer included) for the masking and read-audit tests.

Reuses the web tests' clinic (tests/builder/web/clinic_fixtures.py): one login and one
API token per role, four patients (phones 1380013000N, allergies "penicillin").
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "builder" / "web"))

from clinic_fixtures import (
    CLINIC,
    ServedClinic,
    build_runtime,
    create_tokens,
    create_users,
    seed_clinic,
)

SECRET = "masking-tests-secret-key-that-is-long-enough-0123456789"


class Clinic(ServedClinic):
    """The web tests' clinic; closing it closes its runtime too (a second app has its own)."""

    def close(self) -> None:
        super().close()
        self.runtime.close()


def open_clinic(tmp_path: Path, url: str, source: Path = CLINIC, seed: bool = True, **settings: Any) -> Clinic:
    """The clinic served by the real app; `settings` go to SecuritySettings (e.g. masked_lookup_limit)."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = build_runtime(tmp_path / "project", url, source)
    actors = create_users(runtime)
    tokens = create_tokens(runtime)
    data = seed_clinic(runtime, actors) if seed else {}
    app = create_app(runtime, SecuritySettings(secret_key=SECRET, **settings))
    return Clinic(runtime, app, actors, tokens, data)


def second_app(clinic: Clinic, tmp_path: Path, url: str, **settings: Any) -> Clinic:
    """Another app process on the same database: its own engine, record service and settings."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = build_runtime(tmp_path / "second", url)
    app = create_app(runtime, SecuritySettings(secret_key=SECRET, **settings))
    return Clinic(runtime, app, clinic.actors, clinic.tokens, clinic.data)


def clinic_with_linked_computes(tmp_dir: Path) -> Path:
    """The clinic template plus computed appointment fields that read the linked patient's PHI.

    The front desk reads every appointment field but not `patient.allergies`, sees
    `patient.phone` masked, and (here) sees no dormant patients.
    """
    copy = tmp_dir / "clinic-linked"
    shutil.copytree(CLINIC, copy)
    appointment = copy / "entities" / "appointment.yaml"
    text = appointment.read_text(encoding="utf-8")
    text = text.replace(
        "  validations:",
        """    allergy_alert: {type: boolean, compute: "not is_empty(patient.allergies)", label: {en: Allergy alert}}
    can_call: {type: boolean, compute: "not is_empty(patient.phone)", label: {en: Can call}}
  validations:""",
        1,
    )
    appointment.write_text(text, encoding="utf-8")
    patient = copy / "entities" / "patient.yaml"
    text = patient.read_text(encoding="utf-8")
    text = re.sub(r"(front_desk: \{read: \[name.*?create: true)\}", r"""\1, where: "stage != 'dormant'"}""", text)
    assert "stage != 'dormant'" in text
    patient.write_text(text, encoding="utf-8")
    return copy


def detail_of(row: Any) -> dict[str, Any]:
    return json.loads(row.detail) if row.detail else {}


def served_clinic(tmp_path: Path, url: str, **options: Any) -> Iterator[Clinic]:
    """Body of a `clinic` fixture: `yield from served_clinic(tmp_path, database_url)`."""
    made = open_clinic(tmp_path, url, **options)
    try:
        yield made
    finally:
        made.close()
