"""Scheduled report mails: the outbox row names a report and a role; the workbook is built when it is sent.

A row written by `records/report_mail_jobs.py` has `automation = "report:NAME"` and
`recipient = "role:ROLE"`. At delivery the report runs *as that role* (its row
filters, its small-cell suppression; no account of its own, so a filter on
`user.id` sees nothing), on the report replica when there is one, audited
(`via: mail`); the result becomes an XLSX (or CSV) attachment with labels in the
app's language, mailed to every active account of the role whose staff record
has an e-mail address. Like every message, nothing of it is stored: the row
holds names, the figures are computed when the mail goes out.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engines.forms import localized
from engines.reports import ReportError

from ..errors import ProjectError
from ..exports import csv_chunks, write_xlsx
from ..exports.report_sheet import result_sheet
from ..records import Actor, RecordService
from ..records.codec import decode
from ..records.errors import RecordError
from ..records.reporting import run_report_as
from .channel import Address, Attachment, Channel, OutgoingMessage
from .reading import Reader

REPORT_MAIL = "report:"  # prefix of the outbox row's `automation`
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BODY = {
    "en": "Attached: {title}, {day}, as the role {role} sees it.",
    "zh-CN": "附件:{title}({day}),按角色 {role} 的权限生成。",
}


class ReportMailStop(Exception):
    """The mail is not sent: `status` skipped (nobody to send to) or dead (the report cannot run)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_report_channels(reports: Mapping[str, Any], channels: Mapping[str, Channel], source: str) -> None:
    """A ProjectError naming each channel a scheduled report is mailed through that crm.toml lacks."""
    missing = sorted(
        f"`{spec.schedule.channel}` (report {name})"
        for name, spec in reports.items()
        if spec.schedule is not None and spec.schedule.channel not in channels
    )
    if missing:
        raise ProjectError(f"{source}: no [channels.NAME] table for {'; '.join(missing)}")


def staff_emails(records: RecordService, user_ids: list[int]) -> list[str]:
    """The e-mail addresses of the staff records of these accounts (entities with a `user` and an `email` field)."""
    found: list[str] = []
    if not user_ids:
        return found
    for name, entity in records.entities.items():
        user = next((f for f in entity.fields.values() if f.spec.type == "user"), None)
        email = next((f for f in entity.fields.values() if f.spec.type == "email"), None)
        if user is None or email is None:
            continue
        table = records.schema.table(name)
        with records.engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(table.c[user.name].in_(user_ids)).order_by(table.c.id)).all()
        for row in rows:
            value = decode(entity.stored_fields, row, name, records.cipher).get(email.name)
            if value and value not in found:
                found.append(str(value))
    return found


def report_message(row: Any, delivery: Any, reader: Reader, now: dt.datetime) -> OutgoingMessage:
    """The mail of one scheduled report row, its attachment built now; ReportMailStop when it cannot go."""
    name = row.automation.removeprefix(REPORT_MAIL)
    spec = delivery.reports.get(name)
    if spec is None or spec.schedule is None:
        raise ReportMailStop("dead", f"no scheduled report {name}")
    role = row.recipient.removeprefix("role:")
    emails = staff_emails(delivery.records, [account.id for account in reader.accounts(role=role)])
    if not emails:
        raise ReportMailStop("skipped", f"no e-mail address for role {role}")
    locale = delivery.default_locale
    moment = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    day = moment.astimezone(delivery.zone).date()
    actor = Actor(id=None, name=f"report mail {name}", role=role, locale=locale)
    try:
        result = run_report_as(
            delivery.records, delivery.reports, actor, name, spec.schedule.params, today=day, via="mail"
        )
    except (ReportError, RecordError) as exc:
        raise ReportMailStop("dead", f"report {name} failed: {exc}") from None
    sheet = result_sheet(delivery.records, name, spec, result, locale)
    if spec.schedule.format == "csv":
        attachment = Attachment(f"{name}-{day}.csv", "text/csv", "".join(csv_chunks(sheet)).encode("utf-8"))
    else:
        buffer = io.BytesIO()
        write_xlsx(sheet, buffer)
        attachment = Attachment(f"{name}-{day}.xlsx", XLSX_TYPE, buffer.getvalue())
    title = localized(spec.title, locale, name)
    body = BODY.get(locale, BODY["en"]).format(title=title, day=day.isoformat(), role=role)
    return OutgoingMessage(
        key=row.key,
        address=Address(email=", ".join(emails), role=role),
        subject=f"{title} · {day.isoformat()}",
        body=body,
        entity=row.entity,
        locale=locale,
        attachments=(attachment,),
    )
