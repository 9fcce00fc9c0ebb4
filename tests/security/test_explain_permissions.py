"""`?explain=1` and the "Why?" section show only what the actor may read (issue 8, item 2).

Attack: an appointment computed from `patient.allergies` let the front desk read the
allergies through the explanation's `reads`. Every value an explanation shows now
passes the actor's permissions along links: hidden fields and linked records outside
the actor's rows are shown as hidden, sensitive values masked, and an explanation that
shows PHI is audited as a view of the record the PHI belongs to.
"""

from __future__ import annotations

import json
import shutil

import pytest
from masking_helpers import CLINIC, clinic_with_linked_computes, detail_of, open_clinic

HIDDEN = {"hidden": True}


@pytest.fixture
def linked(tmp_path, database_url):
    made = open_clinic(tmp_path, database_url, source=clinic_with_linked_computes(tmp_path))
    try:
        yield made
    finally:
        made.close()


def _appointment_of(clinic, patient_index: int) -> int:
    return clinic.data["appointments"][patient_index]["id"]


def test_front_desk_cannot_read_linked_allergies_through_explain(linked):
    appointment = _appointment_of(linked, 0)
    response = linked.api("front_desk").get(f"/api/appointment/{appointment}?explain=1")
    assert response.status_code == 200
    why = response.json()["_explain"]
    assert why["allergy_alert"]["value"] is True
    assert why["allergy_alert"]["reads"] == {"patient.allergies": HIDDEN}
    assert why["can_call"]["reads"] == {"patient.phone": "138****0000"}
    assert "penicillin" not in response.text and "13800130000" not in response.text


def test_the_why_section_of_the_page_shows_no_hidden_value(linked):
    appointment = _appointment_of(linked, 0)
    page = linked.login("front_desk").get(f"/records/appointment/{appointment}")
    assert page.status_code == 200 and '<details class="why">' in page.text
    assert "penicillin" not in page.text and "13800130000" not in page.text
    assert "138****0000" in page.text and "patient.allergies = (hidden)" in page.text


def test_a_linked_record_outside_the_actors_rows_is_hidden_entirely(linked):
    dormant = _appointment_of(linked, 3)  # Chen Jing is dormant: the front desk does not see her here
    why = linked.api("front_desk").get(f"/api/appointment/{dormant}?explain=1").json()["_explain"]
    assert why["can_call"]["reads"] == {"patient.phone": HIDDEN}
    assert why["allergy_alert"]["reads"] == {"patient.allergies": HIDDEN}


def test_an_explain_that_shows_phi_is_an_audited_view(linked):
    appointment = linked.data["appointments"][0]  # Dr. Li's, who is `doctor`
    before = len(linked.audit("view"))
    why = linked.login("doctor").get(f"/api/appointment/{appointment['id']}?explain=1").json()["_explain"]
    assert why["allergy_alert"]["reads"] == {"patient.allergies": "penicillin"}
    views = linked.audit("view")[before:]
    assert [(v.entity, v.record_id) for v in views] == [("patient", appointment["patient"])]
    assert detail_of(views[0]) == {"explain": f"appointment {appointment['id']}", "fields": ["patient.allergies"]}
    # the front desk's explanation showed no PHI: nothing to audit as a view of the patient
    linked.api("front_desk").get(f"/api/appointment/{appointment['id']}?explain=1")
    assert [(v.entity, v.record_id) for v in linked.audit("view")[before:]] == [("patient", appointment["patient"])]


def _nurse_sees_less(tmp_path):
    """A copy where the nurse reads `age` but not `birth_date`, and a reading's risk but not its pressures."""
    copy = tmp_path / "clinic-nurse"
    shutil.copytree(CLINIC, copy)
    for name, old, new in [
        (
            "patient",
            "nurse:      {read: all, write: [allergies, stage, tags]}",
            "nurse:      {read: [name, age, allergies, stage, tags], write: [allergies, stage, tags]}",
        ),
        ("vital_reading", "nurse:  {read: all, write: all, create: true}", "nurse:  {read: [patient, taken_at, risk]}"),
    ]:
        path = copy / "entities" / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
    return copy


def test_own_unreadable_inputs_are_hidden_and_decisions_say_only_their_outcome(tmp_path, database_url):
    clinic = open_clinic(tmp_path, database_url, source=_nurse_sees_less(tmp_path))
    try:
        api = clinic.api("nurse")
        patient_id = clinic.data["patients"][0]["id"]
        why = api.get(f"/api/patient/{patient_id}?explain=1").json()["_explain"]
        assert why["age"]["reads"] == {"birth_date": HIDDEN} and isinstance(why["age"]["value"], int)
        reading = api.get(f"/api/vital_reading/{clinic.data['vital']['id']}?explain=1")
        risk = reading.json()["_explain"]["risk"]
        assert risk["value"] == "elevated" and risk["reads"] == {"diastolic": HIDDEN, "systolic": HIDDEN}
        decision = risk["decisions"][0]
        assert decision["hidden_inputs"] is True and decision["rows"] == decision["inputs"] == []
        assert decision["chosen"] is None
        shown = json.dumps(reading.json()["_explain"])
        assert "150" not in shown and "95" not in shown
    finally:
        clinic.close()
