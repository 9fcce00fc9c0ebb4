"""Deliver one outbox row: resolve, protect, render, send — and say what became of it.

`deliver` does no bookkeeping of its own; it returns an `Outcome` that the job writes
back to the row. It reads the record as it is now, through the record service's loader as the
system, so a message never carries what was true when it was queued but is no longer.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engines.rules import RuleError
from engines.workflows import render_notification

from ..records import RecordService
from .channel import Address, Channel, DeliveryError, OutgoingMessage
from .protection import backoff, person_tag, quiet_until, sent_today
from .reading import Reader
from .recipients import Recipient, Unresolved, resolve
from .report_mail import REPORT_MAIL, ReportMailStop, report_message
from .settings import DeliverySettings
from .webhook import WebhookChannel


@dataclass(frozen=True)
class Outcome:
    """What became of a row: its new status, why, the gateway's id and when to try again."""

    status: str  # sent | skipped | failed | dead | pending (delayed)
    reason: str | None = None
    provider_ref: str | None = None
    next_attempt_at: dt.datetime | None = None


@dataclass
class Delivery:
    """Everything delivering needs, built once per worker from the runtime."""

    records: RecordService
    flows: Any  # engines.workflows.Flows, or None when the blueprint has none
    channels: dict[str, Channel]
    settings: DeliverySettings
    zone: ZoneInfo
    default_locale: str
    app: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    reports: Mapping[str, Any] = field(default_factory=dict)  # the blueprint's reports, for scheduled mails

    def channel(self, row: Any) -> Channel | None:
        found = self.channels.get(row.channel)
        if found is None and row.template is None:  # a webhook action needs no configured channel
            found = self.channels.setdefault("__webhook__", _bare_webhook())
        return found


def _bare_webhook() -> WebhookChannel:
    from .channel import ChannelConfig

    return WebhookChannel(ChannelConfig("webhook", {"type": "webhook"}, {}, "crm.toml"))


def _retry_or_dead(row: Any, error: DeliveryError, delivery: Delivery, now: dt.datetime) -> Outcome:
    if error.retryable and row.attempts < delivery.settings.max_attempts:
        return Outcome("failed", error.reason, next_attempt_at=now + backoff(row.attempts, delivery.settings))
    suffix = "" if not error.retryable else f" (after {row.attempts} attempts)"
    return Outcome("dead", (error.reason + suffix)[:200])


def deliver(row: Any, delivery: Delivery, now: dt.datetime, reader: Reader | None = None) -> Outcome:
    """The outcome of delivering `row` (a claimed crm_outbox row, attempts already counted) at `now`.

    `reader` is the batch's (records read once for many rows); without one, the row gets its own.
    """
    if reader is None:
        with Reader(delivery.records) as own:
            return deliver(row, delivery, now, own)
    channel = delivery.channel(row)
    if channel is None:
        return Outcome("dead", f"channel {row.channel} is not configured"[:200])
    if row.automation.startswith(REPORT_MAIL):
        return _send(row, channel, delivery, now, reader, lambda: report_message(row, delivery, reader, now))
    record = reader.record(row.entity, row.record_id)
    if record is None:
        return Outcome("skipped", "record deleted")
    try:
        message = (
            _webhook_message(row, record, delivery, reader, now)
            if row.template is None
            else _notification(row, record, channel, delivery, reader, now)
        )
    except _Stop as stop:
        return stop.outcome
    return _send(row, channel, delivery, now, reader, lambda: message)


def _send(row: Any, channel: Channel, delivery: Delivery, now: dt.datetime, reader: Reader, build: Any) -> Outcome:
    try:
        message = build()
    except ReportMailStop as stop:
        return Outcome(stop.status, stop.reason[:200])
    try:
        sent = channel.send(message)
    except DeliveryError as error:
        return _retry_or_dead(row, error, delivery, now)
    tag = message.extra.get("tag")
    if tag is not None:
        reader.sent[tag] = reader.sent.get(tag, 0) + 1
    return Outcome("sent", tag, sent.provider_ref)


class _Stop(Exception):
    """Delivery ends before sending (skipped, delayed, dead) with this outcome."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.reason)
        self.outcome = outcome


def _notification(
    row: Any, record: dict, channel: Channel, delivery: Delivery, reader: Reader, now: dt.datetime
) -> OutgoingMessage:
    try:
        recipient = resolve(delivery.records, reader, row.recipient, row.entity, record, delivery.default_locale)
    except Unresolved as exc:
        raise _Stop(Outcome("skipped", f"recipient: {exc}"[:200])) from None
    tag = None
    if recipient.kind == "patient":
        tag = person_tag(recipient.entity, recipient.record.get("id"))
        _protect(recipient, channel, delivery, reader, now, tag)
    _check_address(recipient, channel)
    spec = (delivery.flows.notifications if delivery.flows is not None else {}).get(row.template)
    if spec is None:
        raise _Stop(Outcome("dead", f"no notification {row.template}"[:200]))
    context = reader.context(row.entity, record)
    context.update(app=dict(delivery.app), recipient={"name": recipient.address.name, "locale": recipient.locale})
    try:
        rendered = render_notification(spec, row.channel, recipient.locale, context)
    except KeyError:
        raise _Stop(Outcome("dead", f"{row.template} has no message for channel {row.channel}"[:200])) from None
    except RuleError as exc:
        raise _Stop(Outcome("dead", f"template failed ({type(exc).__name__})")) from None
    return OutgoingMessage(
        key=row.key,
        address=recipient.address,
        subject=rendered.subject,
        body=rendered.body,
        template=row.template,
        entity=row.entity,
        record_id=row.record_id,
        locale=recipient.locale,
        extra={"tag": tag},
    )


def _protect(
    recipient: Recipient, channel: Channel, delivery: Delivery, reader: Reader, now: dt.datetime, tag: str
) -> None:
    if channel.consent is not None and recipient.record.get(channel.consent) is not True:
        raise _Stop(Outcome("skipped", f"no consent ({channel.consent})"))
    wake = quiet_until(now, delivery.settings, delivery.zone)
    if wake is not None:
        local_end = delivery.settings.quiet_end
        assert local_end is not None
        raise _Stop(Outcome("pending", f"quiet hours until {local_end:%H:%M}", next_attempt_at=wake))
    cap = delivery.settings.daily_cap
    if cap:
        with delivery.records.engine.connect() as conn:
            if sent_today(conn, tag, now, delivery.zone) + reader.sent.get(tag, 0) >= cap:
                raise _Stop(Outcome("skipped", f"daily cap ({cap}) reached"))


def _check_address(recipient: Recipient, channel: Channel) -> None:
    address: Address = recipient.address
    if channel.needs == "phone" and not address.phone:
        raise _Stop(Outcome("skipped", "no phone number"))
    if channel.needs == "email" and not address.email:
        raise _Stop(Outcome("skipped", "no e-mail address"))
    if channel.needs == "user" and not address.user_ids:
        reason = "the inbox is for staff" if recipient.kind == "patient" else "no active staff account"
        raise _Stop(Outcome("skipped", reason))


def _webhook_message(row: Any, record: dict, delivery: Delivery, reader: Reader, now: dt.datetime) -> OutgoingMessage:
    """A `webhook:` action's call: its URL and key from the blueprint, the body from the record now."""
    rest = row.key.partition(":")[2]
    index_text = rest.partition(":")[0]
    automation = delivery.flows.automations.get(row.automation) if delivery.flows is not None else None
    if automation is None or not index_text.isdigit() or int(index_text) >= len(automation.actions):
        raise _Stop(Outcome("dead", f"no webhook action for {row.automation}"[:200]))
    action = automation.actions[int(index_text)]
    spec = action.spec.webhook
    if spec is None:
        raise _Stop(Outcome("dead", f"action {index_text} of {row.automation} is not a webhook"[:200]))
    secret = None
    if spec.secret_env:
        secret = delivery.environ.get(spec.secret_env)
        if not secret:
            raise _Stop(Outcome("dead", f"environment variable {spec.secret_env} is not set"))
    if action.values:
        context = reader.context(row.entity, record)
        try:
            body = {
                k: v.evaluate(context, now=now, timezone=delivery.zone) if hasattr(v, "evaluate") else v
                for k, v in action.values.items()
            }
        except RuleError as exc:
            raise _Stop(Outcome("dead", f"webhook body failed ({type(exc).__name__})")) from None
    else:
        body = {"entity": row.entity, "id": row.record_id, "record": record}
    payload = {
        "key": row.key,
        "automation": row.automation,
        "entity": row.entity,
        "record_id": row.record_id,
        "data": body,
    }
    return OutgoingMessage(
        key=row.key,
        address=Address(),
        subject=None,
        body="",
        entity=row.entity,
        record_id=row.record_id,
        payload=payload,
        url=spec.url,
        secret=secret,
    )
