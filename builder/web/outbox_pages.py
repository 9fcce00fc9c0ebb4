"""The outbox for admins (`/outbox`, retry a failed or dead row) and the staff inbox (`/inbox`).

The outbox page never shows a message body or an address (the outbox holds neither):
what a row is about, its channel, status, reason and attempts. The inbox is quiet: a
badge in the header and a list; no pop-up interrupts a consultation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from builder.delivery import retry
from builder.delivery.views import STATUSES, inbox_items, mark_read, outbox_page
from builder.records.read_audit import write_refs_audit
from engines.forms.models import localized

from .audit_view import app_zone, entity_label
from .i18n import register_texts
from .methods import ExclusiveRoute
from .security.guards import (
    Forbidden,
    NotAuthenticated,
    current_actor,
    forbidden_response,
    not_authenticated_response,
    require_role,
)
from .security.rendering import render

OUTBOX_ROLES = ("admin",)

register_texts(
    {
        "app.inbox": {"en": "Inbox", "zh-CN": "消息"},
        "app.outbox": {"en": "Outbox", "zh-CN": "发送队列"},
        "outbox.title": {"en": "Outbox", "zh-CN": "发送队列"},
        "outbox.hint": {
            "en": "Messages and webhooks waiting, sent or given up. Message texts are not kept here.",
            "zh-CN": "待发送、已发送或已放弃的消息与回调。此处不保存消息正文。",
        },
        "outbox.all": {"en": "All", "zh-CN": "全部"},
        "outbox.created": {"en": "Queued", "zh-CN": "加入时间"},
        "outbox.about": {"en": "About", "zh-CN": "关于"},
        "outbox.automation": {"en": "Automation", "zh-CN": "自动化"},
        "outbox.template": {"en": "Message", "zh-CN": "消息模板"},
        "outbox.channel": {"en": "Channel", "zh-CN": "渠道"},
        "outbox.status": {"en": "Status", "zh-CN": "状态"},
        "outbox.reason": {"en": "Reason", "zh-CN": "原因"},
        "outbox.attempts": {"en": "Attempts", "zh-CN": "尝试次数"},
        "outbox.next": {"en": "Next attempt", "zh-CN": "下次尝试"},
        "outbox.retry": {"en": "Retry", "zh-CN": "重试"},
        "outbox.empty": {"en": "Nothing here.", "zh-CN": "暂无记录。"},
        "outbox.status.pending": {"en": "Waiting", "zh-CN": "等待发送"},
        "outbox.status.sending": {"en": "Sending", "zh-CN": "发送中"},
        "outbox.status.sent": {"en": "Sent", "zh-CN": "已发送"},
        "outbox.status.failed": {"en": "Failed, will retry", "zh-CN": "失败，将重试"},
        "outbox.status.dead": {"en": "Given up", "zh-CN": "已放弃"},
        "outbox.status.skipped": {"en": "Skipped", "zh-CN": "已跳过"},
        "outbox.webhook": {"en": "Webhook", "zh-CN": "回调"},
        "inbox.title": {"en": "Inbox", "zh-CN": "消息"},
        "inbox.empty": {"en": "No messages.", "zh-CN": "暂无消息。"},
        "inbox.mark_read": {"en": "Mark read", "zh-CN": "标为已读"},
        "inbox.mark_all_read": {"en": "Mark all read", "zh-CN": "全部标为已读"},
        "inbox.open": {"en": "Open record", "zh-CN": "查看记录"},
        "inbox.unread": {"en": "unread", "zh-CN": "未读"},
    }
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _local(moment: dt.datetime | None, zone: dt.tzinfo) -> str:
    if moment is None:
        return ""
    return moment.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")


class OutboxPages:
    def __init__(self, runtime: Any) -> None:
        self.engine = runtime.engine
        self.blueprint = runtime.blueprint
        self.flows = runtime.loaded.flows
        self.zone = app_zone(runtime.blueprint)

    def _admin_or_refusal(self, request: Request) -> Response | None:
        try:
            require_role(request, *OUTBOX_ROLES)
        except NotAuthenticated as exc:
            return not_authenticated_response(request, exc)
        except Forbidden as exc:
            return forbidden_response(request, exc)
        return None

    def _labels(self, row: Any, locale: str) -> dict[str, Any]:
        automation = self.flows.automations.get(row.automation) if self.flows is not None else None
        notification = self.flows.notifications.get(row.template) if self.flows is not None and row.template else None
        title = getattr(getattr(automation, "spec", None), "title", None)
        return {
            "row": row,
            "entity_label": entity_label(self.blueprint, row.entity, locale),
            "record_link": f"/records/{row.entity}/{row.record_id}" if row.entity in self.blueprint.entities else None,
            "automation_label": localized(title, locale, row.automation) if title else row.automation,
            "template_label": (
                localized(notification.title, locale, row.template)
                if notification is not None and notification.title
                else (row.template or None)
            ),
            "created": _local(row.created_at, self.zone),
            "next": _local(row.next_attempt_at, self.zone) if row.status in ("pending", "failed") else "",
        }

    async def outbox(self, request: Request) -> Response:
        refused = self._admin_or_refusal(request)
        if refused is not None:
            return refused
        status = request.query_params.get("status")
        status = status if status in STATUSES else None
        try:
            number = int(request.query_params.get("page", "1"))
        except ValueError:
            number = 1
        found = await anyio.to_thread.run_sync(outbox_page, self.engine, status, number)
        await self._audit(request, current_actor(request), "view_outbox", found.rows)
        locale = request.state.locale
        return render(
            request,
            self.blueprint,
            "outbox.html",
            rows=[self._labels(row, locale) for row in found.rows],
            found=found,
            status=status,
            statuses=STATUSES,
            timezone=str(self.zone),
        )

    async def _audit(self, request: Request, actor: Any, action: str, rows: Any) -> None:
        """Who saw which records' messages: one entry per entity on the page (read_audit.write_refs_audit)."""
        refs = [(row.entity, row.record_id) for row in rows if row.entity in self.blueprint.entities and row.record_id]
        await anyio.to_thread.run_sync(write_refs_audit, self.engine, actor, action, refs, dt.datetime.now(dt.UTC))

    async def retry(self, request: Request) -> Response:
        refused = self._admin_or_refusal(request)
        if refused is not None:
            return refused
        row_id = request.path_params["row_id"]
        await anyio.to_thread.run_sync(retry, self.engine, row_id, _utcnow())
        return RedirectResponse("/outbox", status_code=303)

    async def inbox(self, request: Request) -> Response:
        try:
            actor = current_actor(request)
        except NotAuthenticated as exc:
            return not_authenticated_response(request, exc)
        items = await anyio.to_thread.run_sync(inbox_items, self.engine, actor.id) if actor.id is not None else []
        await self._audit(request, actor, "view_inbox", items)
        rows = [
            {
                "item": item,
                "created": _local(item.created_at, self.zone),
                "link": f"/records/{item.entity}/{item.record_id}" if item.entity in self.blueprint.entities else None,
            }
            for item in items
        ]
        return render(request, self.blueprint, "inbox.html", rows=rows)

    async def read(self, request: Request) -> Response:
        try:
            actor = current_actor(request)
        except NotAuthenticated as exc:
            return not_authenticated_response(request, exc)
        item_id = request.path_params.get("item_id")
        if actor.id is not None:
            await anyio.to_thread.run_sync(mark_read, self.engine, actor.id, item_id, _utcnow())
        return RedirectResponse("/inbox", status_code=303)


def outbox_routes(runtime: Any) -> list[BaseRoute]:
    """`GET /outbox`, `POST /outbox/{id}/retry` (admin); `GET /inbox`, `POST /inbox/{id}/read`, `POST /inbox/read`."""
    pages = OutboxPages(runtime)
    return [
        ExclusiveRoute("/outbox", pages.outbox, methods=["GET"], name="outbox"),
        ExclusiveRoute("/outbox/{row_id:int}/retry", pages.retry, methods=["POST"], name="outbox_retry"),
        ExclusiveRoute("/inbox", pages.inbox, methods=["GET"], name="inbox"),
        ExclusiveRoute("/inbox/read", pages.read, methods=["POST"], name="inbox_read_all"),
        ExclusiveRoute("/inbox/{item_id:int}/read", pages.read, methods=["POST"], name="inbox_read"),
    ]
