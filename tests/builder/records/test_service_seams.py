"""Other modules use the record service through its public names, never its private helpers (issue 8, item 20).

Explanations used to call `service._visible_row` and `service._loader`; a change
inside the service could then silently skip a row filter there.
"""

from __future__ import annotations

import re
from pathlib import Path

BUILDER = Path(__file__).resolve().parents[3] / "builder"
PRIVATE_USE = re.compile(r"\b(?:service|records)\._[a-z]\w*")


def test_no_module_reaches_into_the_record_services_private_helpers():
    offenders = {
        str(path.relative_to(BUILDER)): PRIVATE_USE.findall(path.read_text(encoding="utf-8"))
        for path in BUILDER.rglob("*.py")
        if path.name != "service.py"
    }
    assert {path: uses for path, uses in offenders.items() if uses} == {}


def test_explanations_use_the_public_seam(service):
    from builder.records import SYSTEM

    assert callable(service.visible_row) and callable(service.link_loader)
    patient = service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13812345678", "birth_date": "1980-05-01"})
    assert "age" in service.explain(SYSTEM, "patient", patient["id"])
