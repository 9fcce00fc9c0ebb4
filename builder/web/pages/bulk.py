"""A `manual:` button or a simple transition pressed on selected rows of a list: per record, then a summary.

The list page shows a checkbox per row and a bar of the buttons the role may press
(`manual_buttons`, and the transitions that ask for nothing, `bulk_moves`); the form
posts the checked ids (and each row's version, for moves) here. The record service runs the
automation on each record as the actor (`run_automation_many`): a role the button
does not name is refused for the whole request (403), and each row it may not act
on (hidden, gone, its condition not met, its actions failing) is listed with the
reason, never skipped in silence.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, NotFound, PermissionDenied, RecordService, ValidationFailed
from builder.records.bulk_moves import bulk_machine, simple_moves
from builder.records.compiled import CompiledEntity
from builder.records.manual import MAX_BULK_IDS, BulkRun, Refusal
from builder.runtime import Runtime
from engines.forms import localized

from ..api.schemas import MAX_ID
from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import entity_title, field_label
from ..rendering import render
from ..writes import run_write
from .common import entity_of, submitted_form

register_texts(
    {
        "bulk.select": {"en": "Select", "zh-CN": "选择"},
        "bulk.select_row": {"en": "Select {title}", "zh-CN": "选择 {title}"},
        "bulk.selected_hint": {
            "en": "Tick rows, then press a button to run it on each of them.",
            "zh-CN": "勾选记录后点击按钮,将对每条记录执行。",
        },
        "bulk.summary": {
            "en": "Done for {ran} of {selected} selected.",
            "zh-CN": "已对所选 {selected} 条中的 {ran} 条执行。",
        },
        "bulk.refused": {"en": "{count} refused:", "zh-CN": "{count} 条被拒绝:"},
        "bulk.none_selected": {"en": "Select at least one row first.", "zh-CN": "请先选择至少一条记录。"},
        "bulk.too_many": {
            "en": "Select at most {limit} rows at a time.",
            "zh-CN": "每次最多选择 {limit} 条记录。",
        },
        "bulk.not_found": {"en": "Not found, or not one you may see.", "zh-CN": "未找到,或您无权查看。"},
        "bulk.condition": {
            "en": "Does not apply to this record now (its condition is not met).",
            "zh-CN": "当前不适用于此记录(条件未满足)。",
        },
        "bulk.failed": {"en": "Its actions failed: {reason}", "zh-CN": "执行失败:{reason}"},
        "bulk.back": {"en": "Back to the list", "zh-CN": "返回列表"},
        "bulk.field_reason": {"en": "{field}: {reason}", "zh-CN": "{field}:{reason}"},
        "bulk.conflict": {
            "en": "Changed since you read the list: reload it and try again.",
            "zh-CN": "列表读取后此记录已被修改,请刷新后重试。",
        },
    }
)


def _ids(values: list[str]) -> list[int] | None:
    """The checked ids; None when one is not an id at all (a forged form)."""
    ids = []
    for value in values:
        if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
            return None
        ids.append(int(value))
    return ids


def selected_ids(form: FormData) -> list[int]:
    """The ids of the checked rows (400 for a forged form)."""
    ids = _ids([v for v in form.getlist("ids") if isinstance(v, str)])
    if ids is None:
        raise HTTPException(400)
    return ids


def selected_pairs(form: FormData) -> list[tuple[int, int]]:
    """Each checked row's id and the version the list showed (`version.ID`); 400 for a forged form."""
    ids = selected_ids(form)
    versions = _ids([str(form.get(f"version.{i}", "")) for i in ids])
    if versions is None:
        raise HTTPException(400)
    return list(zip(ids, versions))


def result_context(entity: CompiledEntity, actor: Actor, label: str) -> dict[str, Any]:
    """What bulk.html shows before anything ran: the action's label, no summary yet."""
    return {
        "entity": entity,
        "entity_title": entity_title(entity, actor.locale),
        "label": label,
        "done": None,
        "errors": [],
        "refused": [],
    }


def refused_count(context: dict[str, Any], count: int, locale: str) -> bool:
    """Put "select at least one" or "at most N" in the context when `count` is not a bulk's size."""
    if 1 <= count <= MAX_BULK_IDS:
        return False
    key = "bulk.none_selected" if not count else "bulk.too_many"
    context["errors"] = [translate(key, locale, limit=MAX_BULK_IDS)]
    return True


def bulk_moves(service: RecordService, actor: Actor, entity: CompiledEntity) -> list[dict[str, Any]]:
    """The transitions the role may make on selected rows (those asking for no fields and no comment)."""
    moves = []
    for machine, name in simple_moves(service, actor, entity.name):
        confirm = machine.spec.transitions[name].confirm
        moves.append(
            {
                "name": name,
                "label": machine.label(name, actor.locale),
                "confirm": localized(confirm, actor.locale, "") if confirm else "",
            }
        )
    return moves


def _invalid(refusal: Refusal, locale: str, entity: CompiledEntity | None) -> str:
    """A refused write's errors, each after its field's label (never its name)."""
    fields = entity.fields if entity is not None else {}
    reasons = [
        translate("bulk.field_reason", locale, field=field_label(fields[e.field], locale), reason=e.message)
        if e.field in fields
        else e.message
        for e in refusal.errors
    ]
    return translate("bulk.invalid", locale, reason="; ".join(reasons))


def refusals(done: BulkRun, locale: str, entity: CompiledEntity | None = None) -> list[dict[str, Any]]:
    """Each refused row with its reason in words (never an expression or a state's code)."""
    texts = {
        "not_found": lambda r: translate("bulk.not_found", locale),
        "condition": lambda r: translate("bulk.condition", locale),
        "conflict": lambda r: translate("bulk.conflict", locale),
        "wrong_state": lambda r: translate("flow.refused_state", locale),
        "guard": lambda r: translate("flow.refused_guard", locale),
        "failed": lambda r: translate("bulk.failed", locale, reason=r.message),
        "invalid": lambda r: _invalid(r, locale, entity),
    }
    return [{"id": r.record_id, "text": texts[r.code](r), "link": r.code != "not_found"} for r in done.refused]


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def press_many(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        name = request.path_params["automation"]
        form = await submitted_form(request)
        automation = service.flows.automations.get(name) if service.flows is not None else None
        manual = automation.spec.manual if automation is not None and automation.entity == entity.name else None
        if manual is None:
            raise HTTPException(404)
        fallback = localized(automation.spec.title, actor.locale, name.replace("_", " ")) if automation else name
        label = localized(manual.label, actor.locale, fallback)
        context = result_context(entity, actor, label)
        ids = selected_ids(form)
        if refused_count(context, len(ids), actor.locale):
            return render(request, "bulk.html", context, status_code=422)
        try:
            done = await run_write(service, service.run_automation_many, actor, entity.name, ids, name)
        except NotFound:
            raise HTTPException(404) from None
        except PermissionDenied:
            context["errors"] = [translate("flow.refused_role", actor.locale)]
            return render(request, "bulk.html", context, status_code=403)
        except ValidationFailed as exc:
            context["errors"] = [e.message for e in exc.errors]
            return render(request, "bulk.html", context, status_code=422)
        context.update(done=done, selected=len(dict.fromkeys(ids)), refused=refusals(done, actor.locale))
        return render(request, "bulk.html", context)

    async def move_many(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        name = request.path_params["transition"]
        form = await submitted_form(request)
        try:
            machine = bulk_machine(service, entity.name, name)
        except NotFound:
            raise HTTPException(404) from None
        context = result_context(entity, actor, machine.label(name, actor.locale))
        pairs = selected_pairs(form)
        if refused_count(context, len(pairs), actor.locale):
            return render(request, "bulk.html", context, status_code=422)
        try:
            done = await run_write(service, service.transition_many, actor, entity.name, pairs, name)
        except NotFound:
            raise HTTPException(404) from None
        except PermissionDenied:
            context["errors"] = [translate("flow.refused_role", actor.locale)]
            return render(request, "bulk.html", context, status_code=403)
        except ValidationFailed as exc:
            context["errors"] = [e.message for e in exc.errors]
            return render(request, "bulk.html", context, status_code=422)
        context.update(done=done, selected=len(dict.fromkeys(pairs)), refused=refusals(done, actor.locale))
        return render(request, "bulk.html", context)

    return [
        Route("/records/{entity}/automations/{automation}", press_many, methods=["POST"], name="list_automation"),
        Route("/records/{entity}/transitions/{transition}", move_many, methods=["POST"], name="list_transition"),
    ]
