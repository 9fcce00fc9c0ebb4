"""Scheduled report mails: queued on their cron moment, built at delivery as the role, received as XLSX.

The clinic's blueprint is copied with an e-mail field on staff and a schedule on
the revisit-rate report (every Monday 07:00 in Shanghai, to doctors and
analysts). The mail goes through the real worker jobs to the aiosmtpd stand-in;
the attachment is opened with openpyxl and its cells read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import shutil
from email.header import decode_header, make_header

import pytest
import sqlalchemy as sa
from clinic_fixtures import CLINIC, build_runtime, create_users, seed_clinic
from delivery_helpers import World
from openpyxl import load_workbook
from standins import SmtpStandIn

from builder.delivery.report_mail import check_report_channels
from builder.errors import ProjectError
from builder.records import SYSTEM
from builder.records.report_mail_jobs import run_due_report_mails
from builder.system_tables import audit, outbox, schedules

SUNDAY_NOON = dt.datetime(2026, 3, 1, 4, 0)  # naive UTC: 12:00 on Sunday 1 March in Shanghai
MONDAY_SEVEN = dt.datetime(2026, 3, 1, 23, 0)  # 07:00 on Monday 2 March in Shanghai
SCHEDULE = (
    '  schedule: {cron: "0 7 * * 1", to_roles: [doctor, analyst], channel: email,'
    ' params: {period: "2026-03-01..2026-03-31"}}\n'
)


def blueprint_with_schedule(tmp_path, schedule: str = SCHEDULE):
    copy = tmp_path / "clinic"
    shutil.copytree(CLINIC, copy)
    staff = copy / "entities" / "staff.yaml"
    text = staff.read_text(encoding="utf-8")
    staff.write_text(
        text.replace("    user:", "    email:      {type: email, label: {en: E-mail, zh-CN: 邮箱}}\n    user:"),
        encoding="utf-8",
    )
    visits = copy / "reports" / "visits.yaml"
    text = visits.read_text(encoding="utf-8")
    anchor = "  chart: {type: line, x: month, y: revisit_rate, series: doctor}\n"
    assert anchor in text
    visits.write_text(text.replace(anchor, anchor + schedule, 1), encoding="utf-8")
    return copy


@pytest.fixture
def world(tmp_path, database_url):
    runtime = build_runtime(tmp_path / "project", database_url, blueprint_with_schedule(tmp_path))
    actors = create_users(runtime)
    data = seed_clinic(runtime, actors)
    service = runtime.records
    for person, address in zip(data["staff"], ["li@clinic.example", "zhao@clinic.example"]):
        service.update(SYSTEM, "staff", person["id"], {"email": address}, person["version"])
    analyst = {"name": "Analyst", "email": "numbers@clinic.example", "user": actors["analyst"].id}
    service.create(SYSTEM, "staff", analyst)
    made = World(runtime, data, actors)
    try:
        yield made
    finally:
        runtime.close()


def jobs(world: World, server: SmtpStandIn):
    channels = {"email": {"type": "smtp", "host": "127.0.0.1", "port": server.port, "from": "crm@clinic.example"}}
    delivery = dataclasses.replace(world.delivery(channels), reports=world.runtime.blueprint.reports)
    from builder.delivery import delivery_job

    send = delivery_job(delivery)

    def run(now: dt.datetime) -> int:
        return run_due_report_mails(world.runtime.records, world.runtime.blueprint.reports, now) + send(now)

    return run


def cells(attachment: bytes) -> list[tuple]:
    book = load_workbook(io.BytesIO(attachment))
    return [tuple(row) for row in book.active.iter_rows(values_only=True)]


def test_a_scheduled_report_is_mailed_as_xlsx_to_each_role_as_that_role_sees_it(world):
    with SmtpStandIn() as server:
        run = jobs(world, server)
        assert run(SUNDAY_NOON) == 0  # the schedule is planned: next Monday 07:00
        assert server.mails == []
        run(MONDAY_SEVEN + dt.timedelta(minutes=5))
        run(MONDAY_SEVEN + dt.timedelta(minutes=6))  # nothing more: queued once, sent once
    mails = {mail["to"]: mail for mail in server.mails}
    assert set(mails) == {"li@clinic.example, zhao@clinic.example", "numbers@clinic.example"}
    doctors = mails["li@clinic.example, zhao@clinic.example"]
    assert str(make_header(decode_header(doctors["subject"]))) == "月度复诊率（按医生） · 2026-03-02"
    [(filename, content_type, data)] = doctors["attachments"]
    assert filename == "revisit_rate-2026-03-02.xlsx"
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert cells(data) == [
        ("月份", "医生", "就诊人次", "就诊人数", "复诊率"),
        ("2026-03", "Dr. Li", 1, 1, 0),
        ("合计", None, 1, 1, 0),  # the report has totals
    ]
    [(_, _, analysts)] = mails["numbers@clinic.example"]["attachments"]
    li = world.data["staff"][0]["id"]
    assert cells(analysts)[1] == ("2026-03", f"#{li}", "<5", "<5", "<5")  # aggregates only, names hidden
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.status, outbox.c.recipient).order_by(outbox.c.id)).all()
        entries = conn.execute(sa.select(audit.c.role, audit.c.detail).where(audit.c.action == "report")).all()
        last = conn.execute(sa.select(schedules.c.last_result, schedules.c.next_run)).one()
    assert [tuple(r) for r in rows] == [("sent", "role:doctor"), ("sent", "role:analyst")]
    assert sorted((role, json.loads(d)["via"]) for role, d in entries) == [("analyst", "mail"), ("doctor", "mail")]
    assert last.last_result == "2 mails queued" and last.next_run == MONDAY_SEVEN + dt.timedelta(days=7)


def test_a_role_without_addresses_is_skipped_and_a_missed_monday_is_not_sent_late(world):
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE staff SET email = NULL"))
    with SmtpStandIn() as server:
        run = jobs(world, server)
        run(SUNDAY_NOON)
        run(MONDAY_SEVEN)
        run(MONDAY_SEVEN + dt.timedelta(days=7, hours=3))  # the worker was down: three hours late
    assert server.mails == []
    with world.engine.connect() as conn:
        reasons = conn.execute(sa.select(outbox.c.status, outbox.c.reason).order_by(outbox.c.id)).all()
        last = conn.execute(sa.select(schedules.c.last_result)).scalar()
    assert [tuple(r) for r in reasons] == [
        ("skipped", "no e-mail address for role doctor"),
        ("skipped", "no e-mail address for role analyst"),
    ]
    assert last.startswith("missed: found 3:00:00 late")


def test_a_report_mailed_through_a_channel_crm_toml_lacks_is_named(world):
    with pytest.raises(ProjectError, match=r"no \[channels.NAME\] table for `email` \(report revisit_rate\)"):
        check_report_channels(world.runtime.blueprint.reports, {}, "crm.toml")


def test_a_report_the_role_may_not_run_is_dead_with_the_reason_and_sends_nothing(tmp_path, database_url):
    # Marketing has no right on visits; the mail to it cannot be built, the doctors' still goes.
    to_marketing = SCHEDULE.replace("to_roles: [doctor, analyst]", "to_roles: [marketing, doctor]")
    runtime = build_runtime(tmp_path / "project", database_url, blueprint_with_schedule(tmp_path, to_marketing))
    try:
        actors = create_users(runtime)
        data = seed_clinic(runtime, actors)
        marketing = {"name": "Marketing", "email": "growth@clinic.example", "user": actors["marketing"].id}
        runtime.records.create(SYSTEM, "staff", marketing)
        li = data["staff"][0]
        runtime.records.update(SYSTEM, "staff", li["id"], {"email": "li@clinic.example"}, li["version"])
        world = World(runtime, data, actors)
        with SmtpStandIn() as server:
            run = jobs(world, server)
            run(SUNDAY_NOON)
            run(MONDAY_SEVEN + dt.timedelta(minutes=5))
            run(MONDAY_SEVEN + dt.timedelta(hours=2))  # a dead row is never tried again
        assert [mail["to"] for mail in server.mails] == ["li@clinic.example"]
        with world.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.recipient, outbox.c.status, outbox.c.reason, outbox.c.attempts).order_by(outbox.c.id)
            ).all()
            roles = conn.execute(sa.select(audit.c.role).where(audit.c.action == "report")).scalars().all()
        (_, status, reason, attempts), doctors = rows
        assert (status, attempts) == ("dead", 1)
        assert reason == "report revisit_rate failed: role `marketing` may not run reports on visit records"
        assert (doctors.recipient, doctors.status) == ("role:doctor", "sent")
        assert roles == ["doctor"]  # a refused run is not audited
    finally:
        runtime.close()
