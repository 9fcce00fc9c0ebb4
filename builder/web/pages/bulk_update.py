"""Change fields on selected rows of a list, assign them to someone, or export just them.

The list's bar posts the checked ids (and each row's version) here. Changing fields
takes two steps: the bar's checkboxes name one or more fields (or "Assign…", the
entity's assignee field; no script needed, so the same on a phone),
this page then shows their inputs exactly as the record form does (option
labels, link picker), and applying it sets the value on each record through the
record service (`update_many`): every rule and permission per row, each refused row
listed with its reason in words. Export hands the ids to the list's own audited
export (`/api/{entity}/export.csv?id__in=…`), so it is the same file, the same right
and the same audit entry as exporting the list.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, NotFound, PermissionDenied, RecordService, ValidationFailed
from builder.records.bulk_update import MAX_BULK_FIELDS, assignee_field, bulk_fields
from builder.records.compiled import CompiledEntity
from builder.records.policy import Grant
from builder.runtime import Runtime

from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import field_label
from ..rendering import render
from ..writes import run_write
from .bulk import refusals, refused_count, result_context, selected_ids, selected_pairs
from .common import entity_of, submitted_form
from .form_input import raw_submission
from .form_layout import FormBuilder, FormSection, FormView

register_texts(
    {
        "bulk.update": {"en": "Change fields", "zh-CN": "修改字段"},
        "bulk.update_fields": {"en": "Fields to change (one or more)", "zh-CN": "要修改的字段(可多选)"},
        "bulk.choose_field": {"en": "Tick at least one field to change.", "zh-CN": "请至少勾选一个要修改的字段。"},
        "bulk.next": {"en": "Next", "zh-CN": "下一步"},
        "bulk.assign": {"en": "Assign…", "zh-CN": "分配…"},
        "bulk.update_title": {"en": "Set “{field}”", "zh-CN": "设置“{field}”"},
        "bulk.update_hint": {
            "en": "The values are set on each of the {count} selected records, all in one change per record; a "
            "record whose rules refuse them is left as it was and listed.",
            "zh-CN": "将为所选的 {count} 条记录逐条设置这些值(每条记录一次修改);规则不允许的记录保持不变并列出。",
        },
        "bulk.add_field": {"en": "Also change", "zh-CN": "同时修改"},
        "bulk.add": {"en": "Add this field", "zh-CN": "添加此字段"},
        "bulk.remove_field": {"en": "Do not change “{field}”", "zh-CN": "不修改“{field}”"},
        "bulk.apply": {"en": "Apply to {count} selected", "zh-CN": "应用到所选 {count} 条"},
        "bulk.invalid": {"en": "Refused: {reason}", "zh-CN": "被拒绝:{reason}"},
        "bulk.field_refused": {
            "en": "Choose a field your role may change on selected rows.",
            "zh-CN": "请选择您的角色可在所选记录上修改的字段。",
        },
        "bulk.export_csv": {"en": "Export selected (CSV)", "zh-CN": "导出所选(CSV)"},
        "bulk.export_xlsx": {"en": "Export selected (Excel)", "zh-CN": "导出所选(Excel)"},
    }
)

FORMATS = ("csv", "xlsx")


def bulk_bar(service: RecordService, actor: Actor, entity: CompiledEntity, grant: Grant) -> dict[str, Any]:
    """What the list's bar offers besides buttons and moves: fields to change, assigning, exporting."""
    names = bulk_fields(service, actor, entity.name)
    assignee = assignee_field(service, entity.name)
    return {
        "bulk_fields": [(n, field_label(entity.fields[n], actor.locale)) for n in names],
        "bulk_assign": assignee is not None and assignee in names,
        "bulk_export": grant.export and bool(grant.readable),
    }


def chosen_fields(form: FormData, assignee: str | None) -> list[str]:
    """The fields the page sets, in the order chosen: `field` (repeated), the assignee first when assigning,
    plus `add_field` when "Add" was pressed, less `remove` when a field's "Remove" was."""
    names = [n for n in form.getlist("field") if isinstance(n, str) and n]
    if assignee is not None:
        names.insert(0, assignee)
    added = form.get("add_field")
    if form.get("add") and isinstance(added, str) and added:
        names.append(added)
    removed = form.get("remove")
    kept = [n for n in dict.fromkeys(names) if n != removed]
    return kept[:MAX_BULK_FIELDS]


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records
    forms = runtime.blueprint.forms

    async def update_many(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        form = await submitted_form(request)
        pairs = selected_pairs(form)
        assign = bool(form.get("assign"))
        names = chosen_fields(form, assignee_field(service, entity.name) if assign else None)
        heading = translate("bulk.assign", actor.locale).rstrip("…") if assign else None
        context = result_context(entity, actor, heading or translate("bulk.update", actor.locale))
        if refused_count(context, len(pairs), actor.locale):
            return render(request, "bulk.html", context, status_code=422)
        if not names:
            context["errors"] = [translate("bulk.choose_field", actor.locale)]
            return render(request, "bulk.html", context, status_code=422)
        allowed = bulk_fields(service, actor, entity.name)
        if any(n not in allowed for n in names):
            context["errors"] = [translate("bulk.field_refused", actor.locale)]  # hidden or missing look alike
            return render(request, "bulk.html", context, status_code=403)
        one = FormBuilder(service, forms, actor, entity).single
        fields = [await run_in_threadpool(one, n) for n in names]
        if any(f is None for f in fields):
            raise HTTPException(403)
        shown = [f for f in fields if f is not None]
        view = FormView("", [FormSection("", 1, shown)])
        typed = raw_submission(form, view, entity)
        labels = [f.label for f in shown]
        title = translate("bulk.update_title", actor.locale, field="”, “".join(labels))
        context["label"] = heading if heading and len(shown) == 1 else title
        context.update(fields=shown, pairs=pairs, assign=assign)
        context["more_fields"] = [(n, field_label(entity.fields[n], actor.locale)) for n in allowed if n not in names]
        context["fixed"] = names[0] if assign else None  # assigning: the assignee stays
        if form.get("add") or form.get("remove"):  # the page re-posted itself: keep what was typed
            for f in shown:
                f.value = typed[f.name]
            return render(request, "bulk_update.html", context)
        if not form.get("apply"):
            return render(request, "bulk_update.html", context)
        try:
            done = await run_write(service, service.update_many, actor, entity.name, pairs, typed)
        except NotFound:
            raise HTTPException(404) from None
        except PermissionDenied:
            context["errors"] = [translate("bulk.field_refused", actor.locale)]
            return render(request, "bulk.html", context, status_code=403)
        except ValidationFailed as exc:
            context["errors"] = [e.message for e in exc.errors]
            for f in shown:
                f.value = typed[f.name]
            return render(request, "bulk_update.html", context, status_code=422)
        selected = len(dict.fromkeys(pairs))
        context.update(done=done, selected=selected, refused=refusals(done, actor.locale, entity))
        return render(request, "bulk.html", context)

    async def export_selected(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        form = await submitted_form(request)
        ids = selected_ids(form)
        fmt = form.get("format")
        if fmt not in FORMATS:
            raise HTTPException(400)
        grant = service.policy.grant(actor, entity.name)
        if not grant.export or not grant.readable:
            raise HTTPException(403)
        context = result_context(entity, actor, translate(f"bulk.export_{fmt}", actor.locale))
        if refused_count(context, len(ids), actor.locale):
            return render(request, "bulk.html", context, status_code=422)
        listed = ",".join(str(record_id) for record_id in dict.fromkeys(ids))
        return RedirectResponse(f"/api/{entity.name}/export.{fmt}?id__in={listed}", status_code=303)

    return [
        Route("/records/{entity}/bulk-update", update_many, methods=["POST"], name="list_update"),
        Route("/records/{entity}/export-selected", export_selected, methods=["POST"], name="list_export_selected"),
    ]
