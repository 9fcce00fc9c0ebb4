"""Messages to staff are exempt from consent, quiet hours and the daily cap (docs/workflows.md, Delivery)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from standins import HttpStandIn

from builder.system_tables import inbox

NIGHT = dt.datetime(2026, 3, 2, 14, 30)  # 22:30 in Shanghai: inside the default quiet hours 21:00-08:00


def test_staff_messages_go_out_at_night_past_the_cap_without_consent(world):
    vital = world.data["vital"]["id"]
    # Three alerts about one reading to its patient's primary doctor, at night. The inbox channel
    # names a consent field staff records do not have, and the cap is one message a day.
    keys = world.add_rows(
        [f"high_bp_alert:0:vital_reading:{vital}:v{i}" for i in range(3)],
        channel="inbox",
        template="high_bp_alert",
        entity="vital_reading",
        record_id=vital,
        recipient="patient.primary_doctor",
        automation="high_bp_alert",
        due=NIGHT,
    )
    # The same night, an SMS to a consenting patient: held by the quiet hours (the contrast).
    world.patient(0, consent_sms=True)
    to_patient = world.add_row(due=NIGHT)
    channels = {
        "inbox": {"type": "inbox", "consent": "consent_sms"},
        "sms": {"type": "sms", "url": "", "sign_name": "阳光诊所", "consent": "consent_sms"},
    }
    with HttpStandIn() as gateway:
        channels["sms"]["url"] = gateway.url
        world.job(channels, daily_cap=1)(NIGHT)
    assert [(world.row(k).status, world.row(k).reason) for k in keys] == [("sent", None)] * 3
    assert (world.row(to_patient).status, world.row(to_patient).reason) == ("pending", "quiet hours until 08:00")
    assert gateway.accepted() == []
    with world.engine.connect() as conn:
        delivered = conn.execute(sa.select(inbox.c.key, inbox.c.user_id).order_by(inbox.c.key)).all()
    assert delivered == [(key, world.actors["doctor"].id) for key in keys]
