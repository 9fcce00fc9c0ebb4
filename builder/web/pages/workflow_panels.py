"""A record's workflows on its page: state, transition buttons, history and diagram; the move's form post.

Buttons come from the engine's `available` (the actor's role may make them from the
current state), each with its disabled reason; a transition with a confirmation asks
first (a <details> disclosure, no script), one with `comment: true` or `requires`
fields asks for them in its form. Every text is a label in the viewer's language,
never a raw code. The move itself is the record service's `transition`, so the page
and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, Conflict, NotFound, PermissionDenied, RecordError, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity
from builder.records.manual import manual_automations
from builder.records.workflow_views import workflow_views
from builder.runtime import Runtime
from engines.forms import localized
from engines.workflows import workflow_svg

from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import entity_title, field_label
from ..rendering import render
from ..writes import run_write
from .common import entity_of, record_id_of, submitted_form

register_texts(
    {
        "flow.state": {"en": "Status", "zh-CN": "状态"},
        "flow.history": {"en": "History", "zh-CN": "流转记录"},
        "flow.no_history": {"en": "No moves yet.", "zh-CN": "暂无流转记录。"},
        "flow.diagram": {"en": "Workflow diagram", "zh-CN": "流程图"},
        "flow.comment": {"en": "Comment", "zh-CN": "备注"},
        "flow.yes": {"en": "Yes", "zh-CN": "确定"},
        "flow.system": {"en": "system", "zh-CN": "系统"},
        "flow.ran": {"en": "Done.", "zh-CN": "已执行。"},
        "flow.ran_nothing": {
            "en": "Nothing to do: the conditions of its actions are not met (a consent, for instance).",
            "zh-CN": "无需执行:其操作的条件未满足(例如未同意接收)。",
        },
        "flow.when": {"en": "When", "zh-CN": "时间"},
        "flow.who": {"en": "Who", "zh-CN": "操作人"},
        "flow.move": {"en": "Action", "zh-CN": "操作"},
        "flow.from_to": {"en": "From → to", "zh-CN": "状态变化"},
        "flow.refused_role": {
            "en": "Your role may not make this move.",
            "zh-CN": "您的角色无权执行此操作。",
        },
        "flow.refused_guard": {
            "en": "Not possible yet: a condition of this move is not met.",
            "zh-CN": "暂不能执行:此操作的条件尚未满足。",
        },
        "flow.refused_guard_error": {
            "en": "The condition of this move could not be checked on this record.",
            "zh-CN": "无法在此记录上检查此操作的条件。",
        },
        "flow.refused_state": {
            "en": "This move is not possible from the current status.",
            "zh-CN": "当前状态下不能执行此操作。",
        },
    }
)


def workflow_panels(
    service: RecordService, actor: Actor, entity: CompiledEntity, record: dict[str, Any]
) -> list[dict[str, Any]]:
    """What the detail page shows per workflow of the record (nothing when it has none)."""
    locale = actor.locale
    grant = service.policy.grant(actor, entity.name)
    panels = []
    for view in workflow_views(service, actor, entity.name, record["id"]):
        machine = view.machine
        spec = machine.spec
        buttons = []
        for decision in view.moves:
            move = spec.transitions[decision.transition]
            inputs = [_input(entity, f, locale) for f in move.requires if f in grant.writable and f in entity.fields]
            fillable = decision.code == "required" and all(f in grant.writable for f in decision.missing)
            buttons.append(
                {
                    "name": decision.transition,
                    "label": machine.label(decision.transition, locale),
                    "enabled": decision.allowed or fillable,
                    "reason": None if decision.allowed or fillable else refusal_text(decision, entity, locale),
                    "confirm": localized(move.confirm, locale, "") if move.confirm else "",
                    "comment": bool(move.comment),
                    "inputs": inputs if not decision.allowed else [],
                }
            )
        state = spec.states.get(view.state)
        panels.append(
            {
                "name": machine.name,
                "title": localized(spec.title, locale, machine.name.replace("_", " ")),
                "state": machine.label(view.state, locale),
                "color": getattr(state, "color", None) or "gray",
                "buttons": buttons,
                "history": [
                    {
                        "at": line["at"].strftime("%Y-%m-%d %H:%M"),
                        "who": line["actor"] or translate("flow.system", locale),
                        "move": machine.label(line["transition"], locale),
                        "from": machine.label(line["from"], locale),
                        "to": machine.label(line["to"], locale),
                        "comment": line["comment"] or "",
                    }
                    for line in reversed(view.history)
                ],
                "svg": workflow_svg(spec, locale, title=localized(spec.title, locale, machine.name)),
            }
        )
    return panels


def manual_buttons(service: RecordService, actor: Actor, entity: CompiledEntity) -> list[dict[str, Any]]:
    """The `manual:` buttons of the entity's automations the viewer's role may press."""
    buttons = []
    for automation in manual_automations(service, actor, entity.name):
        manual = automation.spec.manual
        assert manual is not None
        fallback = localized(automation.spec.title, actor.locale, automation.name.replace("_", " "))
        buttons.append(
            {
                "name": automation.name,
                "label": localized(manual.label, actor.locale, fallback),
                "confirm": localized(manual.confirm, actor.locale, "") if manual.confirm else "",
            }
        )
    return buttons


def _input(entity: CompiledEntity, name: str, locale: str) -> dict[str, Any]:
    field = entity.fields[name]
    return {"name": name, "label": field_label(field, locale), "long": field.spec.type == "long_text"}


def refusal_text(decision: Any, entity: CompiledEntity, locale: str) -> str:
    """Why a button is disabled, in the viewer's language and with labels (never a raw code)."""
    if decision.code == "required":
        names = ", ".join(field_label(entity.fields[f], locale) for f in decision.missing if f in entity.fields)
        return ("请先填写:" if locale.startswith("zh") else "Fill in first: ") + names
    return translate(REFUSAL_TEXTS.get(decision.code or "", "flow.refused_guard"), locale)


TASKS_PAGE = "/tasks"

REFUSAL_TEXTS = {
    "role": "flow.refused_role",
    "wrong_state": "flow.refused_state",
    "transition.wrong_state": "flow.refused_state",
    "guard": "flow.refused_guard",
    "transition.guard": "flow.refused_guard",
    "guard_error": "flow.refused_guard_error",
    "transition.guard_error": "flow.refused_guard_error",
}


def routes(runtime: Runtime) -> list[BaseRoute]:
    from .records import render_detail

    service = runtime.records
    forms = runtime.blueprint.forms

    async def move(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        name = request.path_params["transition"]
        form = await submitted_form(request)
        version_text = form.get("version")
        version = int(version_text) if isinstance(version_text, str) and version_text.isdigit() else None
        comment = form.get("comment")
        values = {
            key[len("value.") :]: value
            for key, value in form.multi_items()
            if key.startswith("value.") and isinstance(value, str)
        }
        try:
            await run_write(
                service,
                service.transition,
                actor,
                entity.name,
                record_id,
                name,
                version,
                comment if isinstance(comment, str) and comment.strip() else None,
                values or None,
            )
        except NotFound:
            raise HTTPException(404) from None
        except (ValidationFailed, Conflict, PermissionDenied) as exc:
            return await render_detail(
                service, forms, request, actor, entity, record_id, _problems(exc, entity, actor.locale), exc.status
            )
        except RecordError as exc:
            return await render_detail(service, forms, request, actor, entity, record_id, [str(exc)], exc.status)
        if form.get("next") == TASKS_PAGE:  # pressed on "My tasks": back there (no other target: no open redirect)
            return RedirectResponse(f"{TASKS_PAGE}?moved=1", status_code=303)
        return RedirectResponse(f"/records/{entity.name}/{record_id}?moved=1", status_code=303)

    async def press(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        await submitted_form(request)  # read (and CSRF-checked) like every form post
        try:
            count = await run_write(
                service, service.run_automation, actor, entity.name, record_id, request.path_params["automation"]
            )
        except NotFound:
            raise HTTPException(404) from None
        except (ValidationFailed, PermissionDenied) as exc:
            return await render_detail(
                service, forms, request, actor, entity, record_id, _problems(exc, entity, actor.locale), exc.status
            )
        return RedirectResponse(f"/records/{entity.name}/{record_id}?ran={min(count, 1)}", status_code=303)

    async def diagram(request: Request) -> Response:
        actor = require_actor(request)
        flows = service.flows
        machine = flows.machines.get(request.path_params["name"]) if flows is not None else None
        if machine is None or not service.policy.grant(actor, machine.spec.entity).readable:
            raise HTTPException(404)
        spec = machine.spec
        title = localized(spec.title, actor.locale, machine.name.replace("_", " "))
        return render(
            request,
            "workflow.html",
            {
                "title": title,
                "entity": service.entity(spec.entity),
                "entity_title": entity_title(service.entity(spec.entity), actor.locale),
                "svg": workflow_svg(spec, actor.locale, title=title),
            },
        )

    return [
        Route(
            "/records/{entity}/{record_id:int}/transitions/{transition}",
            move,
            methods=["POST"],
            name="record_transition",
        ),
        Route(
            "/records/{entity}/{record_id:int}/automations/{automation}",
            press,
            methods=["POST"],
            name="record_automation",
        ),
        Route("/workflows/{name}", diagram, methods=["GET"], name="workflow_diagram"),
    ]


def _problems(exc: RecordError, entity: CompiledEntity, locale: str) -> list[str]:
    if isinstance(exc, PermissionDenied):
        return [translate("flow.refused_role", locale)]
    if isinstance(exc, ValidationFailed):
        texts = []
        for error in exc.errors:
            field = entity.fields.get(error.field)
            if error.code in REFUSAL_TEXTS:
                texts.append(translate(REFUSAL_TEXTS[error.code], locale))
            else:
                texts.append(f"{field_label(field, locale)}: {error.message}" if field is not None else error.message)
        return texts
    return [str(exc)]
