"""The clinic checks a patient's birth date and gender against the resident ID they gave."""

from __future__ import annotations

import pytest

from builder.records import SYSTEM, ValidationFailed

ID = "11010519491231002X"  # the standard's example: born 1949-12-31, 17th digit 2 (female)


def test_birth_date_and_gender_must_agree_with_the_resident_id(service):
    with pytest.raises(ValidationFailed) as exc:
        service.create(
            SYSTEM,
            "patient",
            {"name": "王芳", "phone": "13800000001", "id_number": ID, "birth_date": "1949-12-30", "gender": "male"},
        )
    assert {e.field: e.code for e in exc.value.errors} == {"birth_date": "rule", "gender": "rule"}
    made = service.create(
        SYSTEM,
        "patient",
        {"name": "王芳", "phone": "13800000001", "id_number": ID, "birth_date": "1949-12-31", "gender": "female"},
    )
    with pytest.raises(ValidationFailed) as exc:
        service.update(SYSTEM, "patient", made["id"], {"gender": "male"}, version=made["version"])
    assert {e.field for e in exc.value.errors} == {"gender"}
    # an unknown gender or a missing birth date is not contradicted
    kept = service.update(SYSTEM, "patient", made["id"], {"gender": "other", "birth_date": None}, version=1)
    assert kept["gender"] == "other"
