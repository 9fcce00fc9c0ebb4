"""A record's detail page and its delete confirmation."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, Conflict, NotFound, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity
from builder.records.transitions import driven_fields
from builder.runtime import Runtime
from engines.forms import localized

from ..context import require_actor
from ..i18n import register_texts, translate
from ..outbox_pages import OUTBOX_ROLES
from ..presenting import display, entity_title, field_label, link_titles, record_title
from ..public_staff import public_panel
from ..rendering import render
from ..writes import run_write
from .choices import user_names
from .common import entity_of, record_id_of
from .form_layout import form_spec
from .message_timeline import record_messages
from .record_timeline import record_timeline
from .related_panels import related_panels
from .workflow_panels import manual_buttons, workflow_panels

register_texts(
    {
        "record.edit": {"en": "Edit", "zh-CN": "编辑"},
        "record.delete": {"en": "Delete", "zh-CN": "删除"},
        "record.back": {"en": "Back to the list", "zh-CN": "返回列表"},
        "record.updated": {
            "en": "Last changed {at} by {by} (version {version})",
            "zh-CN": "最后修改:{at},{by}(版本 {version})",
        },
        "record.saved": {"en": "Saved.", "zh-CN": "已保存。"},
        "record.moved": {"en": "Done.", "zh-CN": "操作成功。"},
        "record.empty": {"en": "—", "zh-CN": "—"},
        "record.no_rows": {"en": "No rows.", "zh-CN": "无记录。"},
        "record.print": {"en": "Print", "zh-CN": "打印"},
        "print.printed": {"en": "Printed {at} by {who}", "zh-CN": "打印时间:{at},打印人:{who}"},
        "print.back": {"en": "Back to the record", "zh-CN": "返回记录"},
        "record.related": {"en": "Related records", "zh-CN": "相关记录"},
        "delete.title": {"en": "Delete {title}?", "zh-CN": "删除{title}?"},
        "delete.warning": {"en": "This cannot be undone.", "zh-CN": "删除后无法恢复。"},
        "delete.confirm": {"en": "Yes, delete", "zh-CN": "确认删除"},
        "delete.cancel": {"en": "Cancel", "zh-CN": "取消"},
    }
)


def detail_sections(
    service: RecordService, actor: Actor, entity: CompiledEntity, record: dict[str, Any], forms: Any
) -> list[dict[str, Any]]:
    """Readable fields grouped like the entity's form, each as label + text (child tables as rows)."""
    titles = link_titles(service, actor, entity, [record])
    users = user_names(
        service,
        {record[n] for n, f in entity.fields.items() if f.spec.type == "user" and isinstance(record.get(n), int)},
    )
    spec = form_spec(forms, entity.name)
    layout = [(localized(s.section, actor.locale), s.fields) for s in spec.layout] if spec else []
    placed = {n for _, names in layout for n in names}
    rest = [n for n in entity.fields if n not in placed]
    if rest:
        layout.append((translate("form.details" if not layout else "form.other", actor.locale), rest))
    sections = []
    for title, names in layout:
        items = []
        for name in names:
            field = entity.fields.get(name)
            if field is None or name not in record:
                continue
            item: dict[str, Any] = {"name": name, "label": field_label(field, actor.locale)}
            if field.children:
                item["columns"] = [field_label(c, actor.locale) for c in field.children.values()]
                item["rows"] = [
                    [display(c, row.get(n), actor.locale) for n, c in field.children.items()]
                    for row in record.get(name) or []
                ]
            elif field.spec.type == "user" and isinstance(record.get(name), int):
                item["text"] = users.get(record[name], f"#{record[name]}")
            else:
                item["text"] = display(field, record.get(name), actor.locale, titles)
                target = field.spec.to if field.spec.type == "link" else None
                if target and isinstance(record.get(name), int) and (target, record[name]) in titles:
                    item["href"] = f"/records/{target}/{record[name]}"
            items.append(item)
        if items:
            sections.append({"title": title, "items": items})
    return sections


register_texts(
    {
        "why.summary": {"en": "Why?", "zh-CN": "为什么?"},
        "why.reads": {"en": "Values read:", "zh-CN": "读取的值:"},
        "why.table": {"en": "Decision table {table}", "zh-CN": "决策表 {table}"},
        "why.then": {"en": "Result", "zh-CN": "结果"},
        "why.hidden": {"en": "(hidden)", "zh-CN": "(已隐藏)"},
        "why.hidden_inputs": {
            "en": "Decision table {table} read values you may not see; only its result is shown.",
            "zh-CN": "决策表 {table} 读取了您无权查看的值,仅显示结果。",
        },
    }
)


async def render_detail(
    service: RecordService,
    forms: Any,
    request: Request,
    actor: Actor,
    entity: CompiledEntity,
    record_id: int,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    """The record's page: its fields, its workflows (buttons, history, diagram); `problems` from a refused move."""
    record = await run_write(service, service.get, actor, entity.name, record_id)
    grant = service.policy.grant(actor, entity.name)
    sections = await run_in_threadpool(detail_sections, service, actor, entity, record, forms)
    explained = (
        await run_in_threadpool(service.explain, actor, entity.name, record["id"])
        if any(f.compute is not None for f in entity.fields.values())
        else {}
    )
    for name, why in explained.items():  # decision outputs as the field shows them (高危, not high)
        field = entity.fields[name]
        for decision in why["decisions"]:
            for row in decision["rows"]:
                if isinstance(row["then"], str) and field.spec.options:
                    row["then"] = field.kind.display(row["then"], field.spec, actor.locale)
    flows = await run_in_threadpool(workflow_panels, service, actor, entity, record)
    messages = await run_in_threadpool(
        record_messages, service, entity.name, record["id"], actor.locale, actor.role in OUTBOX_ROLES
    )
    public = await run_in_threadpool(public_panel, request, actor, entity.name, record["id"])

    def may_create_with(other: str, link: str) -> bool:
        other_grant = service.policy.grant(actor, other)
        return other_grant.create and link in other_grant.writable

    related = await run_in_threadpool(related_panels, service, actor, entity.name, record["id"], may_create_with)
    blueprint = request.app.state.runtime.blueprint
    history = await run_in_threadpool(record_timeline, service, actor, blueprint, entity.name, record["id"])
    return render(
        request,
        "detail.html",
        {
            "explained": explained,
            "public": public,
            "entity": entity,
            "entity_title": entity_title(entity, actor.locale),
            "record": record,
            "title": record_title(entity, record),
            "sections": sections,
            "grant": grant,
            "can_edit": bool(grant.writable - set(driven_fields(service.flows, entity.name))),
            "can_delete": grant.delete,
            "saved": request.query_params.get("saved") == "1",
            "moved": request.query_params.get("moved") == "1",
            "workflows": flows,
            "messages": messages,
            "buttons": manual_buttons(service, actor, entity),
            "ran": request.query_params.get("ran"),
            "problems": problems or [],
            "related": related,
            "history": history,
        },
        status_code=status_code,
    )


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records
    forms = runtime.blueprint.forms

    async def detail(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        return await render_detail(service, forms, request, actor, entity, record_id_of(request))

    async def printable(request: Request) -> Response:
        """An A4 copy of the record: the clinic's name, the print date, labels; audited as a view (purpose: print)."""
        actor = require_actor(request)
        entity = entity_of(service, request)
        record = await run_write(service, service.get, actor, entity.name, record_id_of(request), "print")
        sections = await run_in_threadpool(detail_sections, service, actor, entity, record, forms)

        def no_create(other: str, link: str) -> bool:
            return False

        related = await run_in_threadpool(related_panels, service, actor, entity.name, record["id"], no_create)
        printed = service.clock().strftime("%Y-%m-%d %H:%M")  # the app's clock: the clinic's local time
        return render(
            request,
            "print.html",
            {
                "entity": entity,
                "entity_title": entity_title(entity, actor.locale),
                "record": record,
                "title": record_title(entity, record),
                "sections": sections,
                "related": related,
                "printed": printed,
            },
        )

    async def delete(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        record = await run_write(service, service.get, actor, entity.name, record_id)
        service.policy.require(actor, entity.name, "delete")
        errors: list[str] = []
        if request.method == "POST":
            form = await request.form()
            version_text = form.get("version")
            version = int(version_text) if isinstance(version_text, str) and version_text.isdigit() else None
            try:
                await run_write(service, service.delete, actor, entity.name, record_id, version)
            except Conflict as exc:
                errors = [str(exc)]
            except ValidationFailed as exc:
                errors = [e.message for e in exc.errors]
            except NotFound:
                pass  # already gone: the list is where the user wanted to be
            if not errors:
                return RedirectResponse(f"/records/{entity.name}?deleted=1", status_code=303)
        return render(
            request,
            "delete.html",
            {
                "entity": entity,
                "entity_title": entity_title(entity, actor.locale),
                "record": record,
                "title": record_title(entity, record),
                "errors": errors,
            },
            status_code=409 if errors else 200,
        )

    return [
        Route("/records/{entity}/{record_id:int}", detail, methods=["GET"], name="detail"),
        Route("/records/{entity}/{record_id:int}/delete", delete, methods=["GET", "POST"], name="delete"),
        Route("/records/{entity}/{record_id:int}/print", printable, methods=["GET"], name="print"),
    ]
