"""The messages about one record on its page: what was sent, is waiting, or was skipped and why.

Staff asked "did the reminder go out?" at the desk; the answer belongs on the record, not
only on the admin's outbox page. Only what the outbox holds is shown (never a message
text or an address), to those who may read the record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from builder.delivery.views import outbox_for_record
from builder.records import RecordService
from engines.forms.models import localized

from ..i18n import register_texts

register_texts(
    {
        "timeline.title": {"en": "Messages", "zh-CN": "消息记录"},
        "timeline.when": {"en": "Queued", "zh-CN": "时间"},
        "timeline.message": {"en": "Message", "zh-CN": "消息"},
        "timeline.channel": {"en": "Channel", "zh-CN": "渠道"},
        "timeline.status": {"en": "Status", "zh-CN": "状态"},
        "timeline.reason": {"en": "Why", "zh-CN": "原因"},
    }
)


def record_messages(
    service: RecordService, entity: str, record_id: int, locale: str, with_reasons: bool
) -> list[dict[str, Any]]:
    """The record's outbox rows, newest first, with labels for a person (times in the clinic's zone).

    A reason can tell what a role may not read ("no consent (consent_sms)" tells the
    patient's consent), so only those who may see the outbox (`with_reasons`) get it.
    """
    notifications = service.flows.notifications if service.flows is not None else {}
    zone = service.zone
    shown = []
    for row in outbox_for_record(service.engine, entity, record_id):
        notification = notifications.get(row.template) if row.template else None
        title = getattr(notification, "title", None)
        shown.append(
            {
                "when": row.created_at.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "message": localized(title, locale, row.template) if title else row.template,
                "channel": row.channel,
                "status": row.status,
                "reason": (row.reason or "") if with_reasons else "",
            }
        )
    return shown
