"""'My tasks' (`/tasks`): the records waiting for the signed-in user or their role, with their buttons inline.

What a task is comes from the blueprint (`tasks:` on an entity, builder/records/tasks.py);
this page only presents it: overdue first, states and fields as labels in the
viewer's language, and each move the role may make as a button posting the
transition (with CSRF; a `confirm` question or a comment box in a disclosure, no
script). A move that needs fields filled first links to the record, where its form is.
After a move the page comes back here.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, RecordService
from builder.records.compiled import CompiledEntity
from builder.records.tasks import Task
from builder.runtime import Runtime
from engines.forms import localized

from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import display, entity_title, field_label, link_titles, record_title
from ..rendering import render
from .list_controls import list_columns
from .workflow_panels import TASKS_PAGE, refusal_text

SUMMARY_FIELDS = 3  # fields shown under a task's title besides its state and due moment

register_texts(
    {
        "app.tasks": {"en": "My tasks", "zh-CN": "我的任务"},
        "tasks.title": {"en": "My tasks", "zh-CN": "我的任务"},
        "tasks.hint": {
            "en": "Records waiting for you or your role, overdue first.",
            "zh-CN": "等待您或您的角色处理的记录,逾期的排在最前。",
        },
        "tasks.empty": {"en": "Nothing is waiting for you.", "zh-CN": "暂无待办任务。"},
        "tasks.open": {"en": "open", "zh-CN": "项待办"},
        "tasks.due": {"en": "Due", "zh-CN": "截止"},
        "tasks.overdue": {"en": "Overdue", "zh-CN": "已逾期"},
        "tasks.yours": {"en": "Assigned to you", "zh-CN": "指派给您"},
        "tasks.role": {"en": "For your role", "zh-CN": "您的角色待办"},
        "tasks.fill_in": {"en": "Open to fill in: {fields}", "zh-CN": "打开填写:{fields}"},
        "tasks.more": {
            "en": "Showing {shown} of {total}. Finish some to see the rest.",
            "zh-CN": "显示 {shown} 项,共 {total} 项。完成一些后可看到其余任务。",
        },
        "tasks.moved": {"en": "Done.", "zh-CN": "操作成功。"},
    }
)


def task_card(service: RecordService, actor: Actor, task: Task, titles: dict[tuple[str, int], str]) -> dict[str, Any]:
    """What the page shows of one task: labels only, never a raw code."""
    locale = actor.locale
    entity = service.entity(task.entity)
    grant = service.policy.grant(actor, entity.name)
    source = service.flows.tasks[task.entity] if service.flows is not None else None
    machine = source.machine if source is not None else None
    record = task.record
    skip = {entity.spec.title_field, machine.state_field if machine else None, source.due if source else None}
    shown = [n for n in list_columns(entity, grant) if n not in skip and record.get(n) not in (None, "", [])]
    summary = [
        {"label": field_label(entity.fields[n], locale), "value": display(entity.fields[n], record[n], locale, titles)}
        for n in shown[: SUMMARY_FIELDS + 1]
    ]
    title = record_title(entity, record)
    if not entity.spec.title_field and summary:  # no title field: the first field shown names it (the patient)
        title, summary = summary[0]["value"], summary[1:]
    summary = summary[:SUMMARY_FIELDS]
    due_field = entity.fields[source.due] if source is not None and source.due else None
    state = machine.spec.states.get(task.state) if machine else None
    return {
        "entity": entity.name,
        "entity_title": entity_title(entity, locale),
        "id": record["id"],
        "version": record["version"],
        "title": title,
        "summary": summary,
        "state": machine.label(task.state, locale) if machine else task.state,
        "color": getattr(state, "color", None) or "gray",
        "due_label": field_label(due_field, locale) if due_field is not None else "",
        "due": display(due_field, task.due, locale) if due_field is not None and task.due is not None else "",
        "overdue": task.overdue,
        "assigned": task.assigned,
        "buttons": [_button(entity, grant, machine, d, locale) for d in task.moves] if machine else [],
    }


def _button(entity: CompiledEntity, grant: Any, machine: Any, decision: Any, locale: str) -> dict[str, Any]:
    """One move: a button, a disclosure asking first, a link to fill in fields, or disabled with its reason."""
    move = machine.spec.transitions[decision.transition]
    fill = decision.code == "required" and all(f in grant.writable for f in decision.missing)
    names = ", ".join(field_label(entity.fields[f], locale) for f in decision.missing if f in entity.fields)
    return {
        "name": decision.transition,
        "label": machine.label(decision.transition, locale),
        "enabled": decision.allowed,
        "fill": translate("tasks.fill_in", locale, fields=names) if fill else "",
        "anchor": f"workflow-{machine.name}",
        "reason": "" if decision.allowed or fill else refusal_text(decision, entity, locale),
        "confirm": localized(move.confirm, locale, "") if move.confirm else "",
        "comment": bool(move.comment),
    }


def _cards(service: RecordService, actor: Actor, tasks: list[Task]) -> list[dict[str, Any]]:
    """The cards, link titles looked up per entity with the viewer's own rights."""
    titles: dict[tuple[str, int], str] = {}
    for name in dict.fromkeys(t.entity for t in tasks):
        records = [t.record for t in tasks if t.entity == name]
        titles.update(link_titles(service, actor, service.entity(name), records))
    return [task_card(service, actor, t, titles) for t in tasks]


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def tasks_page(request: Request) -> Response:
        actor = require_actor(request)
        found = await run_in_threadpool(service.tasks, actor)
        cards = await run_in_threadpool(_cards, service, actor, found.items)
        context = {
            "cards": cards,
            "total": found.total,
            "next": TASKS_PAGE,
            "moved": request.query_params.get("moved") == "1",
        }
        return render(request, "tasks.html", context)

    return [Route(TASKS_PAGE, tasks_page, methods=["GET"], name="tasks")]
