"""A reminder from blueprint to gateway through real parts: `crm serve` (its in-process worker),
the API, a durable timer, the outbox and a local HTTP server standing in for the SMS gateway.

Confirming an appointment plans its reminder 24 hours before it starts; cancelling one
cancels its reminder; moving one moves it. Appointments start 24 hours and 35 to 45 seconds
from now, so their reminders fall due while the test watches, on the real clock (the margin
lets a slow machine cancel and move before those moments).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from live_server import LiveServer, clinic_project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "builder" / "delivery"))
from standins import HttpStandIn

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _channels(gateway: str) -> str:
    return f"""
[channels.sms]
type = "sms"
url = "{gateway}"
sign_name = "Sunrise"
consent = "consent_sms"

[channels.inbox]
type = "inbox"

[delivery]
quiet_hours = ""
"""


def _starting_in(seconds: float) -> str:
    """A clinic-time moment 24 hours and `seconds` from now: its reminder falls due in `seconds`."""
    moment = dt.datetime.now(SHANGHAI) + dt.timedelta(hours=24, seconds=seconds)
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


def test_confirmed_reminded_once_cancelled_and_moved_never(tmp_path):
    with HttpStandIn() as gateway:
        url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
        project = clinic_project(tmp_path, url, patients=3, extra_config=_channels(gateway.url))
        with LiveServer(project, tmp_path / "serve.log") as server:
            api = server.client
            doctors = [
                api.post("/api/staff", json={"name": f"Dr {n}", "department": "internal_medicine"}).json()["id"]
                for n in ("Li", "Wang", "Zhao")
            ]  # one each: the three slots overlap
            patients = [p["id"] for p in project.patients]
            for pid in patients:
                version = api.get(f"/api/patient/{pid}").json()["version"]
                answer = api.patch(f"/api/patient/{pid}", json={"consent_sms": True, "version": version})
                assert answer.status_code == 200, answer.text

            def confirmed(n: int, seconds: float) -> dict:
                values = {"patient": patients[n], "doctor": doctors[n], "starts_at": _starting_in(seconds)}
                booked = api.post("/api/appointment", json=values)
                assert booked.status_code == 201, booked.text
                moved = api.post(
                    f"/api/appointment/{booked.json()['id']}/transitions/confirm",
                    json={"version": booked.json()["version"]},
                )
                assert moved.status_code == 200, moved.text
                return moved.json()

            kept = confirmed(0, 45)
            cancelled = confirmed(1, 35)
            answer = api.post(
                f"/api/appointment/{cancelled['id']}/transitions/cancel", json={"version": cancelled["version"]}
            )
            assert answer.status_code == 200, answer.text
            later = confirmed(2, 40)
            answer = api.patch(
                f"/api/appointment/{later['id']}",
                json={"starts_at": _starting_in(3600 * 24), "version": later["version"]},
            )
            assert answer.status_code == 200, answer.text

            deadline = time.monotonic() + 120
            while not gateway.accepted():
                assert time.monotonic() < deadline, server.log_text()
                time.sleep(0.5)
            time.sleep(3)  # a second worker round: nothing is sent twice
            log = server.log_text()
    sent = gateway.accepted()
    assert len(sent) == 1, sent
    message = sent[0]["json"]
    assert message["out_id"].startswith(f"appointment_reminder:0:appointment:{kept['id']}:")  # its idempotency key
    assert "Patient 1" in str(message)  # rendered from the record as it is at sending time
    assert "Patient 1" not in log and "13912340001" not in log  # nothing of the message in the server log
