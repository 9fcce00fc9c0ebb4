"""The designer on the physio vertical (a copy of its blueprint in tmp), both databases.

Reception designs rooms by therapist over what it reads (notes are not offered), a
therapist's draft keeps its row filter, and the admin saves a report that
`crm validate` accepts and that the project then serves.
"""

from __future__ import annotations

import re

from physio import SECRET, PhysioApp, crm
from test_physio_reports import _sessions

DRAFT = {
    "source": "session",
    "dimensions": ["room", "therapist"],
    "measures": {"sessions": {"agg": "count"}, "minutes": {"agg": "sum", "field": "minutes"}},
    "totals": True,
    "chart": {"type": "bar", "x": "room", "y": "sessions", "series": "therapist"},
}


def test_the_designer_on_the_physio_vertical(served):
    _sessions(served)
    shown = served.api("reception").post("/api/reports/preview", json=DRAFT)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert [(r["room"], r["sessions"], r["minutes"]) for r in body["rows"]] == [("gym", 2, 90)]
    assert body["totals"] == {"sessions": 2, "minutes": 90}
    notes = served.api("reception").post("/api/reports/preview", json={**DRAFT, "filters": ["notes == 'x'"]})
    assert notes.status_code == 422 and "notes" in notes.text
    other = served.api("ther_b").post("/api/reports/preview", json=DRAFT)
    assert other.status_code == 200 and other.json()["rows"] == []  # Li Na's sessions are not ther_b's
    page = served.login("reception").get("/reports/designer?source=session")
    assert page.status_code == 200 and 'value="notes"' not in page.text and 'value="room"' in page.text

    admin = served.login("admin")
    form = {"name": "rooms", "title_en": "Rooms", "source": "session", "d0_field": "room", "m0_name": "sessions"}
    token = re.search(r'name="csrf_token" value="([^"]*)"', admin.get("/reports/designer").text).group(1)
    saved = admin.post("/reports/designer/save", data={**form, "m0_agg": "count", "csrf_token": token})
    assert saved.status_code == 200, saved.text
    project = served.runtime.project
    assert (project.blueprint_path / "reports" / "rooms.yaml").exists()
    checked = crm("validate", project.blueprint_path)
    assert checked.exit_code == 0, checked.output
    from builder.runtime import open_runtime
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = open_runtime(project.root)  # a restarted server
    again = PhysioApp(runtime, create_app(runtime, SecuritySettings(secret_key=SECRET)), served.tokens, served.user_ids)
    try:
        rooms = again.api("admin").get("/api/reports/rooms")
        assert rooms.status_code == 200 and rooms.json()["rows"] == [{"room": "gym", "sessions": 2}]
    finally:
        again.close()
