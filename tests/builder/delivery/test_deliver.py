"""Delivering outbox rows of a real clinic to real stand-ins, on a clock the tests move."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from delivery_helpers import MORNING, Clock, sms
from standins import HttpStandIn, SmtpStandIn

from builder.delivery import retry
from builder.records import SYSTEM
from builder.system_tables import inbox


def test_sms_delivered_once_with_its_key(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    with HttpStandIn() as gateway:
        job = world.job({"sms": sms(gateway.url)})
        assert job(MORNING) == 1
        assert job(MORNING + dt.timedelta(hours=1)) == 0  # sent: never claimed again
    assert gateway.keys() == {key: 1}
    [request] = gateway.accepted()
    assert request["json"]["phone_numbers"] == "+8613800130000"
    assert "Wang Fang您好" in request["json"]["template_param"]["content"]  # the clinic's locale, zh-CN
    row = world.row(key)
    assert (row.status, row.attempts, row.provider_ref, row.sent_at) == ("sent", 1, "biz-1", MORNING)


def test_email_over_smtp_with_the_key_as_message_id(world):
    key = world.add_row(channel="email")
    with SmtpStandIn() as server:
        job = world.job(
            {"email": {"type": "smtp", "host": "127.0.0.1", "port": server.port, "from": "c@clinic.example"}}
        )
        assert job(MORNING) == 1
    assert server.keys() == {key: 1}
    assert server.mails[0]["to"] == "p0@example.com"
    assert world.row(key).status == "sent"


def test_consent_refused_is_skipped_with_reason(world):
    world.patient(0, consent_sms=False)
    key = world.add_row()
    with HttpStandIn() as gateway:
        world.job({"sms": sms(gateway.url)})(MORNING)
    assert gateway.accepted() == []
    row = world.row(key)
    assert (row.status, row.reason) == ("skipped", "no consent (consent_sms)")


def test_consent_withdrawn_after_queueing_is_honoured(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    world.patient(0, consent_sms=False)  # withdrawn before the worker came round
    with HttpStandIn() as gateway:
        world.job({"sms": sms(gateway.url)})(MORNING)
    assert gateway.accepted() == [] and world.row(key).status == "skipped"


def test_quiet_hours_delay_until_morning(world):
    world.patient(0, consent_sms=True)
    late = dt.datetime(2026, 3, 2, 14, 30)  # 22:30 in Shanghai
    key = world.add_row(due=late)
    with HttpStandIn() as gateway:
        job = world.job({"sms": sms(gateway.url)})
        job(late)
        row = world.row(key)
        assert (row.status, row.reason, row.attempts) == ("pending", "quiet hours until 08:00", 0)
        assert row.next_attempt_at == dt.datetime(2026, 3, 3, 0, 0)  # 08:00 in Shanghai
        assert job(dt.datetime(2026, 3, 2, 23, 59)) == 0 and gateway.accepted() == []
        assert job(dt.datetime(2026, 3, 3, 0, 0)) == 1
    assert gateway.keys() == {key: 1}
    assert world.row(key).status == "sent"


def test_daily_cap_per_patient(world):
    world.patient(0, consent_sms=True)
    appointment = world.data["appointments"][0]["id"]
    keys = [world.add_row(key=f"reminder:{i}", record_id=appointment) for i in range(3)]
    recall = world.add_row(
        key="recall:0",
        entity="patient",
        record_id=world.data["patients"][0]["id"],
        recipient="record",
        template="recall",
    )
    with HttpStandIn() as gateway:
        world.job({"sms": sms(gateway.url)}, daily_cap=2)(MORNING)
    statuses = [(world.row(k).status, world.row(k).reason) for k in [*keys, recall]]
    assert statuses[:2] == [("sent", f"to patient {world.data['patients'][0]['id']}")] * 2
    assert statuses[2:] == [("skipped", "daily cap (2) reached")] * 2  # a recall to the same patient counts too
    assert len(gateway.accepted()) == 2


def test_retries_after_gateway_500_then_sent(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    clock = Clock()
    with HttpStandIn(script=[500, 500]) as gateway:
        job = world.job({"sms": sms(gateway.url)})
        job(clock())
        row = world.row(key)
        assert (row.status, row.reason, row.attempts) == ("failed", "gateway 500", 1)
        assert MORNING + dt.timedelta(seconds=30) <= row.next_attempt_at <= MORNING + dt.timedelta(seconds=60)
        assert job(clock()) == 0  # not before its time
        job(clock.advance(seconds=60))
        row = world.row(key)
        assert (row.status, row.attempts) == ("failed", 2)
        assert row.next_attempt_at >= clock() + dt.timedelta(seconds=60)  # backoff doubles
        job(clock.advance(seconds=120))
    assert gateway.keys() == {key: 1}
    assert (world.row(key).status, world.row(key).attempts) == ("sent", 3)


def test_dead_letter_after_the_last_retry_and_admin_retry(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    clock = Clock()
    with HttpStandIn(script=[500] * 3) as gateway:
        job = world.job({"sms": sms(gateway.url)}, max_attempts=3, backoff_seconds=0)
        for _ in range(4):
            job(clock.advance(seconds=1))
        row = world.row(key)
        assert (row.status, row.attempts, row.reason) == ("dead", 3, "gateway 500 (after 3 attempts)")
        assert gateway.accepted() == []
        assert retry(world.engine, row.id, clock())
        job(clock.advance(seconds=1))
    assert gateway.keys() == {key: 1} and world.row(key).status == "sent"


def test_gateway_4xx_is_not_retried(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    with HttpStandIn(script=[400]) as gateway:
        job = world.job({"sms": sms(gateway.url)}, backoff_seconds=0)
        job(MORNING)
        job(MORNING + dt.timedelta(hours=1))
    row = world.row(key)
    assert (row.status, row.attempts, row.reason) == ("dead", 1, "gateway 400")


def test_deleted_record_and_empty_link_are_skipped(world):
    appointment = world.data["appointments"][1]
    gone = world.add_row(record_id=appointment["id"])
    world.runtime.records.delete(SYSTEM, "appointment", appointment["id"])
    patient = world.data["patients"][2]
    no_doctor = world.add_row(
        key="alert:1",
        entity="patient",
        record_id=patient["id"],
        recipient="primary_doctor",
        channel="inbox",
        template="high_bp_alert",
    )
    current = world.runtime.records.get(SYSTEM, "patient", patient["id"])
    world.runtime.records.update(SYSTEM, "patient", patient["id"], {"primary_doctor": None}, current["version"])
    world.job({"sms": sms("http://127.0.0.1:9"), "inbox": {"type": "inbox"}})(MORNING)
    assert (world.row(gone).status, world.row(gone).reason) == ("skipped", "record deleted")
    assert (world.row(no_doctor).status, world.row(no_doctor).reason) == (
        "skipped",
        "recipient: no primary_doctor on the record",
    )


def test_inbox_to_the_primary_doctor_and_to_a_role(world):
    vital = world.data["vital"]["id"]
    to_doctor = world.add_row(
        key="high_bp_alert:0:vital_reading:1:v1",
        channel="inbox",
        template="high_bp_alert",
        entity="vital_reading",
        record_id=vital,
        recipient="patient.primary_doctor",
        automation="high_bp_alert",
    )
    to_role = world.add_row(
        key="high_bp_alert:9:vital_reading:1:v1",
        channel="inbox",
        template="high_bp_alert",
        entity="vital_reading",
        record_id=vital,
        recipient="role:doctor",
        automation="high_bp_alert",
    )
    world.job({"inbox": {"type": "inbox"}})(MORNING)
    assert world.row(to_doctor).status == world.row(to_role).status == "sent"
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(inbox).order_by(inbox.c.key, inbox.c.user_id)).all()
    doctor, doctor2 = world.actors["doctor"].id, world.actors["doctor2"].id
    assert [(r.key, r.user_id) for r in rows] == [(to_doctor, doctor), (to_role, doctor), (to_role, doctor2)]
    assert rows[0].title == "High blood pressure: Wang Fang"  # the account's locale (en)
    assert rows[0].entity == "vital_reading" and rows[0].read_at is None


def test_a_lapsed_lease_is_taken_back(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    with world.engine.begin() as conn:  # a worker died after claiming it
        from builder.system_tables import outbox

        conn.execute(
            outbox.update().values(status="sending", attempts=1, next_attempt_at=MORNING + dt.timedelta(minutes=5))
        )
    with HttpStandIn() as gateway:
        job = world.job({"sms": sms(gateway.url)})
        assert job(MORNING + dt.timedelta(minutes=4)) == 0
        assert job(MORNING + dt.timedelta(minutes=5)) == 1
    assert gateway.keys() == {key: 1}
    assert (world.row(key).status, world.row(key).attempts) == ("sent", 2)


def test_a_row_whose_workers_keep_dying_ends_dead(world):
    world.patient(0, consent_sms=True)
    key = world.add_row()
    with world.engine.begin() as conn:
        from builder.system_tables import outbox

        conn.execute(outbox.update().values(status="sending", attempts=5, next_attempt_at=MORNING))
    with HttpStandIn() as gateway:
        world.job({"sms": sms(gateway.url)}, max_attempts=5)(MORNING)
    assert gateway.accepted() == []
    assert (world.row(key).status, world.row(key).reason) == ("dead", "worker lost it 5 times")


def test_webhook_action_signed_with_its_body_from_the_record_now(tmp_path, sqlite_url, monkeypatch):
    import hashlib
    import hmac
    import shutil

    from clinic_fixtures import CLINIC, build_runtime, create_users, seed_clinic
    from delivery_helpers import World

    monkeypatch.setenv("CRM_TEST_HOOK_SECRET", "s3cret")
    with HttpStandIn() as receiver:
        source = tmp_path / "clinic"
        shutil.copytree(CLINIC, source)
        (source / "workflows" / "hooks.yaml").write_text(
            "automations:\n"
            "  tell_lab:\n"
            "    entity: appointment\n"
            "    when: created\n"
            "    do:\n"
            f"      - webhook: {{url: '{receiver.url}/hook', secret_env: CRM_TEST_HOOK_SECRET,"
            " body: {patient: patient.name, at: starts_at}}\n",
            encoding="utf-8",
        )
        runtime = build_runtime(tmp_path / "project", sqlite_url, source)
        try:
            actors = create_users(runtime)
            world = World(runtime, seed_clinic(runtime, actors), actors)
            appointment = world.data["appointments"][0]["id"]
            key = world.add_row(
                key=f"tell_lab:0:appointment:{appointment}:1", channel="webhook", template=None, automation="tell_lab"
            )
            world.job({})(MORNING)
        finally:
            runtime.close()
    assert world.row(key).status == "sent"
    [request] = receiver.accepted()
    assert request["json"]["data"] == {"patient": "Wang Fang", "at": "2026-03-01T09:00:00"}
    assert request["headers"]["Idempotency-Key"] == key
    timestamp = request["headers"]["X-CRM-Timestamp"]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-CRM-Signature"] == f"sha256={expected}"


def test_a_slow_gateway_hands_back_the_rest_of_the_batch_before_the_lease_ends(world):
    world.patient(0, consent_sms=True)
    keys = [world.add_row(key=f"reminder:{i}") for i in range(6)]
    with HttpStandIn(delay=0.4) as gateway:
        job = world.job({"sms": sms(gateway.url)}, lease_seconds=1, daily_cap=0)
        handled = job(MORNING)
        assert 0 < handled < 6
        waiting = [world.row(k) for k in keys[handled:]]
        assert {(r.status, r.attempts) for r in waiting} == {("pending", 0)}
        while job(MORNING):
            pass
    assert gateway.keys() == dict.fromkeys(keys, 1)
