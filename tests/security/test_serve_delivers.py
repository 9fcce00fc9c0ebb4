"""`crm serve` on SQLite delivers the outbox in-process (the demo needs no extra step), and the
console channel writes message text to its own stream, never to the server's log."""

from __future__ import annotations

import datetime as dt
import time

from live_server import LiveServer, clinic_project

from builder.runtime import open_runtime
from builder.system_tables import outbox

CHANNELS = """
[channels.sms]
type = "console"
stream = "messages.log"

[channels.inbox]
type = "inbox"

[delivery]
quiet_hours = ""
"""


def test_serve_on_sqlite_delivers_to_the_console_stream(tmp_path):
    project = clinic_project(tmp_path, f"sqlite:///{tmp_path / 'clinic.sqlite3'}", patients=1, extra_config=CHANNELS)
    patient = project.patients[0]
    runtime = open_runtime(project.root)
    try:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with runtime.engine.begin() as conn:
            conn.execute(
                outbox.insert().values(
                    key=f"monthly_recall:0:patient:{patient['id']}:2026-03-01T01:00:00",
                    automation="monthly_recall",
                    channel="sms",
                    template="recall",
                    entity="patient",
                    record_id=patient["id"],
                    recipient="record",
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    finally:
        runtime.close()
    messages = project.root / "messages.log"
    with LiveServer(project, tmp_path / "serve.log") as server:
        deadline = time.monotonic() + 90
        while not (messages.exists() and "Patient 1" in messages.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.2)
        log = server.log_text()
    assert "Outbox worker running in this process." in log
    assert "Patient 1" not in log and "1391234" not in log  # the text went to its own stream only
    assert "13912340001" in messages.read_text(encoding="utf-8")
