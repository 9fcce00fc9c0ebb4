"""The physio vertical's session flow, written from docs/workflows.md alone, loads and behaves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from builder.loading import load_blueprint
from engines.workflows import plan_timers

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)


def test_session_flow_and_its_reminder():
    flows = load_blueprint(ROOT / "tests" / "blueprints" / "physio").flows
    machine = flows.machine_for("session")
    session = {
        "id": 4,
        "status": "booked",
        "starts_at": NOW + dt.timedelta(days=2),
        "client": {"id": 1, "full_name": "Anna", "sms_ok": True},
    }
    assert machine.decide(session, ["therapist"], "cancel", now=NOW).code == "role"
    assert machine.decide(session, ["reception"], "cancel", now=NOW).allowed
    assert machine.decide(session, ["therapist"], "miss", now=NOW).code == "guard"
    [booked] = plan_timers(flows.of_entity("session"), "session", 4, None, session, now=NOW, zone=SHANGHAI)
    assert (booked.status, booked.due) == ("planned", NOW + dt.timedelta(days=1))
    [cancelled] = plan_timers(
        flows.of_entity("session"), "session", 4, session, {**session, "status": "cancelled"}, now=NOW, zone=SHANGHAI
    )
    assert cancelled.status == "cancelled"
