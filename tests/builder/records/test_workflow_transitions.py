"""Workflow transitions through the record service: who may make which move, when, and what is kept."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from workflow_helpers import ADMIN, ANALYST, DOCTOR, FRONT, NURSE, clinic_fixture

from builder.records import Conflict, NotFound, PermissionDenied, ValidationFailed
from builder.system_tables import audit, workflow_history


@pytest.fixture
def clinic(database_url):
    yield from clinic_fixture(database_url)


def codes(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.code for e in exc.errors}


def test_new_record_starts_in_the_initial_state_and_direct_state_writes_are_refused(clinic):
    appt = clinic.appointment()
    assert appt["status"] == "requested"
    with pytest.raises(ValidationFailed) as refused:
        clinic.service.update(FRONT, "appointment", appt["id"], {"status": "confirmed"}, appt["version"])
    assert codes(refused.value) == {"status": "workflow_state"}
    assert "Confirm" in refused.value.errors[0].message  # names the transitions, by label
    with pytest.raises(ValidationFailed) as on_create:
        clinic.appointment(status="completed")
    assert codes(on_create.value) == {"status": "workflow_state"}
    # posting the state it already has back (an edit form) is harmless
    same = clinic.service.update(FRONT, "appointment", appt["id"], {"status": "requested", "minutes": 30}, 1)
    assert (same["status"], same["minutes"], same["version"]) == ("requested", 30, 2)


def test_transition_moves_the_state_writes_history_and_audit(clinic):
    appt = clinic.appointment()
    moved = clinic.move(FRONT, "appointment", appt, "confirm")
    assert (moved["status"], moved["version"]) == ("confirmed", 2)
    cancelled = clinic.move(FRONT, "appointment", moved, "cancel", comment="patient called")
    assert cancelled["status"] == "cancelled"
    history = clinic.rows(workflow_history, entity="appointment", record_id=appt["id"])
    assert [(h.transition, h.from_state, h.to_state, h.actor, h.comment) for h in history] == [
        ("confirm", "requested", "confirmed", "fay", None),
        ("cancel", "confirmed", "cancelled", "fay", "patient called"),
    ]
    assert history[0].at == dt.datetime(2026, 12, 1, 1, 0)  # 09:00 in Shanghai, stored as UTC
    entries = clinic.rows(audit, entity="appointment", action="transition")
    assert len(entries) == 2 and json.loads(entries[1].detail)["transition"] == "cancel"


def test_refusals_by_role_state_guard_and_stale_version(clinic):
    appt = clinic.appointment()
    with pytest.raises(PermissionDenied):  # nurses check in, they do not confirm
        clinic.move(NURSE, "appointment", appt, "confirm")
    with pytest.raises(ValidationFailed) as wrong:
        clinic.move(FRONT, "appointment", appt, "check_in")
    assert codes(wrong.value) == {"__all__": "transition.wrong_state"}
    confirmed = clinic.move(FRONT, "appointment", appt, "confirm")
    with pytest.raises(ValidationFailed) as guard:  # no-show only once the time has come
        clinic.move(FRONT, "appointment", confirmed, "mark_no_show")
    assert codes(guard.value) == {"__all__": "transition.guard"}
    with pytest.raises(Conflict):
        clinic.move(FRONT, "appointment", appt, "cancel")  # version 1 is stale
    clinic.clock.now += dt.timedelta(hours=49)
    assert clinic.move(FRONT, "appointment", confirmed, "mark_no_show")["status"] == "no_show"
    with pytest.raises(NotFound):
        clinic.move(FRONT, "appointment", confirmed, "fly_away")


def test_approver_needs_the_transition_not_write_access_and_hidden_records_are_404(clinic):
    appt = clinic.move(FRONT, "appointment", clinic.appointment(), "confirm")
    checked_in = clinic.move(NURSE, "appointment", appt, "check_in")
    # the doctor may write only `status`, and only sees their own appointments (doctor.user == user.id)
    done = clinic.move(DOCTOR, "appointment", checked_in, "complete")
    assert done["status"] == "completed"
    with pytest.raises(NotFound):  # an analyst reads no appointment rows: 404, not 403
        clinic.move(ANALYST, "appointment", done, "cancel")


def test_requires_can_be_filled_by_the_transition_values(clinic):
    follow_up = clinic.service.create(
        ADMIN, "follow_up", {"patient": clinic.patient, "due_on": "2026-12-04", "reason": "check"}
    )
    with pytest.raises(ValidationFailed) as empty:
        clinic.move(NURSE, "follow_up", follow_up, "done")
    assert codes(empty.value) == {"outcome": "required"}
    done = clinic.move(NURSE, "follow_up", follow_up, "done", values={"outcome": "feeling better"})
    assert (done["status"], done["outcome"]) == ("done", "feeling better")
    other = clinic.service.create(ADMIN, "follow_up", {"patient": clinic.patient, "due_on": "2026-12-04"})
    with pytest.raises(ValidationFailed) as unwritable:  # a nurse may not move the due date with a transition
        clinic.move(NURSE, "follow_up", other, "done", values={"outcome": "ok", "due_on": "2026-12-09"})
    assert codes(unwritable.value) == {"due_on": "not_writable"}
    with pytest.raises(ValidationFailed) as sneaky:
        clinic.move(NURSE, "follow_up", other, "log_attempt", values={"status": "done"})
    assert codes(sneaky.value) == {"status": "workflow_state"}
