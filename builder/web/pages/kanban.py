"""The board (kanban) view of an entity: a column per option of a select or state field.

`/records/{entity}/kanban`: each column shows its label (the workflow's state label
and colour, or the option's label; never the code), how many records are in it (the
record service's count: exact, or "about" on a huge table) and its first cards. A card
is the record's title and a second line (`card:` fields). Moving a card is a write
through the record service: for a workflow-driven state the transition whose from/to
match (made as the user: roles, guards, required fields; refused with the reason when
there is none or it is not allowed), for a select field an update with the version
read. Buttons on each card are the keyboard and no-script way; dragging
(static/views.js) posts the same form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.locales import count_text
from builder.records import Actor, PermissionDenied, RecordError, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity
from builder.records.errors import FieldError
from builder.records.transitions import driven_fields
from builder.runtime import Runtime
from engines.forms import ViewSpec
from engines.workflows import StateMachine

from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import display, entity_title, link_titles, record_title
from ..rendering import render
from ..writes import run_write
from .common import entity_of, record_id_of, submitted_form
from .lists import view_links
from .view_moves import moved, problems_of, refused_json, state_label, wants_json

register_texts(
    {
        "board.move_to": {"en": "Move to {column}", "zh-CN": "移到{column}"},
        "board.empty": {"en": "None", "zh-CN": "无"},
        "board.more": {"en": "Showing {shown} of {total}", "zh-CN": "显示 {shown} 条,共 {total} 条"},
        "board.no_move": {
            "en": "No step of the workflow leads from “{from_state}” to “{to_state}”.",
            "zh-CN": "流程中没有从“{from_state}”到“{to_state}”的步骤。",
        },
        "board.drag_hint": {
            "en": "Drag a card to another column, or use its “Move to” buttons.",
            "zh-CN": "将卡片拖到其他列,或使用卡片上的“移到”按钮。",
        },
    }
)

CARDS_PER_COLUMN = 50


@dataclass
class BoardColumn:
    value: str
    label: str
    color: str
    total: str
    cards: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    targets: list[str] = field(default_factory=list)  # the columns a card here has a move button to


def board_view(entity: CompiledEntity, name: str | None) -> tuple[str, ViewSpec]:
    views = {n: v for n, v in entity.spec.views.items() if v.kind(n) == "kanban"}
    if not views:
        raise HTTPException(404)
    if name and name in views:
        return name, views[name]
    return next(iter(views.items()))


def _machine(service: RecordService, entity: CompiledEntity, by: str) -> StateMachine | None:
    return driven_fields(service.flows, entity.name).get(by)


def _label(entity: CompiledEntity, machine: StateMachine | None, by: str, value: str, locale: str) -> str:
    if machine is not None:
        return state_label(machine, value, locale)
    f = entity.fields[by]
    return f.kind.option_label(value, f.spec, locale)


def build_board(service: RecordService, actor: Actor, entity: CompiledEntity, view: ViewSpec) -> dict[str, Any]:
    """The columns with their counts and first cards: one list query per column, bounded."""
    locale = actor.locale
    grant = service.policy.require(actor, entity.name, "read")
    by = view.by or ""
    if by not in grant.readable:
        raise PermissionDenied(f"role `{actor.role}` may not read `{by}`")
    machine = _machine(service, entity, by)
    values = list(machine.spec.states) if machine is not None else list(entity.fields[by].spec.options or [])
    second = [n for n in (view.card or entity.spec.subtitle or []) if n in grant.readable and n in entity.fields]
    links = [n for n, f in entity.fields.items() if f.spec.type == "link" and n in grant.readable]
    first_link = None if entity.spec.title_field else (links[0] if links else None)  # titles a card without one
    shown = [by, *second, *([entity.spec.title_field] if entity.spec.title_field else []), *links[:1]]
    movable = by in grant.writable or machine is not None
    columns: list[BoardColumn] = []
    everything: list[dict[str, Any]] = []
    pages = []
    for value in values:
        page = service.list(
            actor, entity.name, filters={by: value}, sort="-updated_at", limit=CARDS_PER_COLUMN, fields=shown
        )
        pages.append((value, page))
        everything.extend(page.items)
    titles = link_titles(service, actor, entity, everything)
    for value, page in pages:
        if machine is not None:  # buttons only for the transitions the role may make from this state
            targets = [
                t.to
                for n, t in machine.spec.transitions.items()
                if value in t.sources and t.to != value and machine.roles.get(n, frozenset()) & {actor.role}
            ]
        else:
            targets = [v for v in values if v != value] if by in grant.writable else []
        state = machine.spec.states.get(value) if machine is not None else None
        column = BoardColumn(
            value,
            _label(entity, machine, by, value, locale),
            getattr(state, "color", None) or "gray",
            count_text(page.total, page.total_kind, locale),
            more=page.next_after is not None,
            targets=list(dict.fromkeys(targets)),
        )
        for item in page.items:
            lines = [display(entity.fields[n], item.get(n), locale, titles) for n in second]
            title = record_title(entity, item) if entity.spec.title_field else ""
            if not title and first_link is not None:
                title = display(entity.fields[first_link], item.get(first_link), locale, titles)
            card = {"id": item["id"], "version": item["version"], "title": title or f"#{item['id']}"}
            column.cards.append({**card, "lines": [x for x in lines if x]})
        columns.append(column)
    return {"columns": columns, "movable": movable, "by": by}


def find_transition(machine: StateMachine, current: str, target: str, roles: list[str]) -> str | None:
    """The transition from `current` to `target`, one the roles may make first."""
    matching = [n for n, t in machine.spec.transitions.items() if current in t.sources and t.to == target]
    allowed = [n for n in matching if machine.roles.get(n, frozenset()) & set(roles)]
    chosen = allowed or matching
    return chosen[0] if chosen else None


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def show(request: Request, errors: list[str] | None = None, status: int = 200) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        name, view = board_view(entity, request.query_params.get("view"))
        built = await run_in_threadpool(build_board, service, actor, entity, view)
        base = f"/records/{entity.name}/kanban"
        context = {
            **built,
            "entity": entity,
            "entity_title": entity_title(entity, actor.locale),
            "view_links": view_links(entity, None, actor.locale),
            "base": base,
            "query_suffix": f"?view={name}" if name != "kanban" else "",
            "errors": errors or [],
            "moved": request.query_params.get("moved"),
        }
        return render(request, "kanban.html", context, status_code=status)

    async def page(request: Request) -> Response:
        return await show(request)

    async def move(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        form = await submitted_form(request)
        _, view = board_view(entity, request.query_params.get("view"))
        by = view.by or ""
        target = str(form.get("to", ""))
        version_text = str(form.get("version", ""))

        async def refuse(status: int, reasons: list[str]) -> Response:
            return refused_json(status, reasons) if wants_json(request) else await show(request, reasons, status)

        if not version_text.isdigit() or len(version_text) > 12:
            return await refuse(422, [translate("views.bad_move", actor.locale)])
        machine = _machine(service, entity, by)
        options = list(machine.spec.states) if machine is not None else list(entity.fields[by].spec.options or [])
        if target not in options:
            return await refuse(422, [translate("views.bad_move", actor.locale)])
        try:
            if machine is not None:
                record = await run_in_threadpool(service.get, actor, entity.name, record_id)
                current = machine.current(record)
                name = find_transition(machine, current, target, [actor.role])
                if name is None:
                    text = translate(
                        "board.no_move",
                        actor.locale,
                        from_state=state_label(machine, current, actor.locale),
                        to_state=state_label(machine, target, actor.locale),
                    )
                    raise ValidationFailed([FieldError(by, "board.no_move", text)])
                record = await run_write(
                    service, service.transition, actor, entity.name, record_id, name, int(version_text)
                )
            else:
                record = await run_write(
                    service, service.update, actor, entity.name, record_id, {by: target}, int(version_text)
                )
        except RecordError as exc:
            status, reasons = problems_of(exc, entity, actor.locale)
            if status == 404:
                raise HTTPException(404) from None
            return await refuse(status, reasons)
        return moved(request, f"/records/{entity.name}/kanban", record)

    return [
        Route("/records/{entity}/kanban", page, methods=["GET"], name="kanban"),
        Route("/records/{entity}/kanban/{record_id:int}/move", move, methods=["POST"], name="kanban_move"),
    ]
