"""Create and edit pages: the blueprint's form, submitted through the record service.

A failed save re-displays the form with what the user typed and each error beside
its field; a stale version (someone else saved first) says so plainly.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, Conflict, FieldError, ValidationFailed
from builder.records.compiled import CompiledEntity
from builder.records.link_filters import LinkChoice, pinned_values, record_names
from builder.runtime import Runtime

from ..api.schemas import MAX_ID
from ..context import require_actor
from ..i18n import register_texts
from ..inputs import coercion_crashes, unstorable_errors
from ..presenting import entity_title, record_title, titles_for
from ..rendering import render
from ..writes import run_write
from .common import entity_of, record_id_of, submitted_form
from .form_input import raw_submission, values_to_save
from .form_layout import FormBuilder
from .pickers import MAX_QUERY, option_label, typed_values

register_texts(
    {
        "form.new_title": {"en": "New {entity}", "zh-CN": "新建{entity}"},
        "form.edit_title": {"en": "Edit {title}", "zh-CN": "编辑{title}"},
        "form.save": {"en": "Save", "zh-CN": "保存"},
        "form.cancel": {"en": "Cancel", "zh-CN": "取消"},
        "form.required": {"en": "required", "zh-CN": "必填"},
        "form.fix_errors": {"en": "Please correct the marked fields.", "zh-CN": "请修改标出的内容。"},
        "form.conflict": {
            "en": "Someone else changed this record while you were editing. Your changes are "
            "shown below but were not saved.",
            "zh-CN": "您编辑期间该记录已被他人修改。您的修改显示在下方,但尚未保存。",
        },
        "form.open_current": {"en": "Open the current version", "zh-CN": "查看最新版本"},
        "form.add_row": {"en": "Add a row", "zh-CN": "添加一行"},
        "form.remove_row": {"en": "Remove", "zh-CN": "删除"},
        "form.choose": {"en": "— choose —", "zh-CN": "— 请选择 —"},
        "form.search_records": {"en": "Type to search", "zh-CN": "输入以搜索"},
        "form.computed": {"en": "calculated automatically", "zh-CN": "自动计算"},
        "form.record_id": {"en": "Record number", "zh-CN": "记录编号"},
        "form.quick_hint": {
            "en": "Only what a new record needs; the rest can be filled in later on its own page.",
            "zh-CN": "仅需填写新记录的必填项,其余可稍后在该记录页面补充。",
        },
        "form.quick_save": {"en": "Create and choose", "zh-CN": "创建并选用"},
        "form.draft_restored": {
            "en": "A draft you had not saved (kept in this browser) was restored.",
            "zh-CN": "已恢复您未保存的草稿(保存在本浏览器中)。",
        },
        "form.draft_discard": {"en": "Discard draft", "zh-CN": "放弃草稿"},
    }
)

# Where a quick-create may return to: a record form of this app, never another site.
RETURN_TO = re.compile(r"^/records/[a-z][a-z0-9_]{0,62}/(new|[1-9][0-9]{0,18}/edit)$")


@dataclass(frozen=True)
class QuickCreate:
    """A new record made from a link's picker (`pick_for` = entity.field), then picked on `return_to`.

    `values`: the form's values the link's filter reads (`record.department=dental` in the
    address, as typed), so the new record starts from what the filter pins and is checked
    against it before it is kept.
    """

    entity: str
    field: str
    return_to: str
    values: dict[str, str] = dataclasses.field(default_factory=dict)

    def choice(self, service: Any) -> LinkChoice:
        """The link choice the new record must pass: the filter read with the form's values."""
        return LinkChoice(self.entity, self.field, typed_values(service.entity(self.entity), self.values))

    @property
    def back_url(self) -> str:
        return self.return_to

    def picked_url(self, record_id: int) -> str:
        return f"{self.return_to}?{urlencode({self.field: record_id})}"


def quick_create_of(service: Any, target: str, params: Any) -> QuickCreate | None:
    """The quick-create asked for by `pick_for` and `return_to` (query or form), when both make sense."""
    pick_for, return_to = params.get("pick_for"), params.get("return_to")
    if not isinstance(pick_for, str) or not isinstance(return_to, str) or not RETURN_TO.match(return_to):
        return None
    entity, _, field = pick_for.partition(".")
    if entity not in service.entities or service.link_targets(entity).get(field) != target:
        return None
    if return_to.split("/")[2] != entity:
        return None
    source = service.entity(entity).fields[field].spec.filter
    names = sorted(n for n in record_names(source) if n in service.entity(entity).fields) if source else []
    values = {n: raw[:MAX_QUERY] for n in names if isinstance(raw := params.get(f"record.{n}"), str) and raw}
    return QuickCreate(entity, field, return_to, values)


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for error in errors:
        grouped.setdefault(error.field, []).append(error.message)
    return grouped


def _without_blanks(values: dict[str, Any]) -> dict[str, Any]:
    """On creation a blank input means "not given", so the field's default applies."""
    return {k: v for k, v in values.items() if isinstance(v, bool) or v not in ("", None, [])}


def link_prefill(service: Any, actor: Actor, entity: CompiledEntity, query: Any) -> dict[str, int]:
    """`?patient=12` on a new form: the link filled in, when the user may set it and may see that record.

    A record the user cannot see is silently left out (the same as absent), so the
    address cannot be used to probe which ids exist.
    """
    grant = service.policy.grant(actor, entity.name)
    filled: dict[str, int] = {}
    for name, target in service.link_targets(entity.name).items():
        raw = query.get(name)
        if name not in grant.writable or not isinstance(raw, str) or not raw.isdigit() or len(raw) > 19:
            continue
        record_id = int(raw)
        if 1 <= record_id <= MAX_ID and titles_for(service, actor, target, {record_id}):
            filled[name] = record_id
    return filled


def quick_prefill(service: Any, actor: Actor, entity: CompiledEntity, choice: LinkChoice) -> dict[str, Any]:
    """What the link's filter pins on the new record, for the fields the actor may write (the others stay out)."""
    writable = service.policy.grant(actor, entity.name).writable
    return {n: v for n, v in pinned_values(service, actor, choice).items() if n in writable}


def _created(
    request: Request, entity: CompiledEntity, record: dict, quick: QuickCreate | None, actor: Actor
) -> Response:
    """After a create: the new record's page, or back to the form it was made for with it picked."""
    if quick is None:
        return RedirectResponse(f"/records/{entity.name}/{record['id']}?saved=1", status_code=303)
    if "application/json" in request.headers.get("accept", ""):  # forms.js's dialog
        label = option_label(entity, record, actor.locale)
        return JSONResponse({"id": record["id"], "label": label, "field": quick.field}, status_code=201)
    return RedirectResponse(quick.picked_url(record["id"]), status_code=303)


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records
    forms = runtime.blueprint.forms

    def builder(
        actor: Actor, entity: CompiledEntity, here: str, quick: bool = False, also: list[str] | None = None
    ) -> FormBuilder:
        return FormBuilder(service, forms, actor, entity, return_to=here, quick=quick, quick_also=also or [])

    def page(
        request: Request,
        actor: Actor,
        entity: CompiledEntity,
        view: Any,
        *,
        record: dict | None,
        status: int = 200,
        conflict: bool = False,
        quick: QuickCreate | None = None,
        submitted: bool = False,
    ) -> Response:
        title = entity_title(entity, actor.locale)
        cancel = f"/records/{entity.name}/{record['id']}" if record else f"/records/{entity.name}"
        return render(
            request,
            "form.html",
            {
                "entity": entity,
                "entity_title": title,
                "form": view,
                "record": record,
                "record_title": record_title(entity, record) if record else "",
                "conflict": conflict,
                "action": f"/records/{entity.name}/{record['id']}/edit" if record else f"/records/{entity.name}/new",
                "cancel_url": quick.back_url if quick else cancel,
                "quick": quick,
                "submitted": submitted,
                "draft_key": f"crm-draft:{actor.name}:{entity.name}:{record['id'] if record else 'new'}",
            },
            status_code=status,
        )

    async def create(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        service.policy.require(actor, entity.name, "create")
        defaults = {n: f.default_value for n, f in entity.fields.items() if f.default_value is not None}
        form = await submitted_form(request) if request.method == "POST" else None
        quick = quick_create_of(service, entity.name, form if form is not None else request.query_params)
        choice = quick.choice(service) if quick is not None else None
        pinned = await run_in_threadpool(quick_prefill, service, actor, entity, choice) if choice else {}
        defaults.update(pinned)
        if request.method == "GET":
            defaults.update(await run_in_threadpool(link_prefill, service, actor, entity, request.query_params))
        form_builder = builder(actor, entity, f"/records/{entity.name}/new", quick is not None, list(pinned))
        view = await run_in_threadpool(form_builder.build, defaults, None, True)
        if form is None:
            return page(request, actor, entity, view, record=None, quick=quick)
        raw = raw_submission(form, view, entity)
        errors = unstorable_errors(raw, actor.locale) or coercion_crashes(entity.fields, raw, actor.locale)
        if not errors:
            values = _without_blanks(values_to_save(raw, entity, actor, {}))
            try:
                make = functools.partial(service.create, for_link=choice)
                record = await run_write(service, make, actor, entity.name, values)
                return _created(request, entity, record, quick, actor)
            except ValidationFailed as exc:
                errors = exc.errors
        view = await run_in_threadpool(form_builder.build, defaults, raw, True, _errors_by_field(errors))
        return page(request, actor, entity, view, record=None, status=422, quick=quick, submitted=True)

    async def edit(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        record = await run_write(service, service.get, actor, entity.name, record_id)
        service.policy.require(actor, entity.name, "write")
        form_builder = builder(actor, entity, f"/records/{entity.name}/{record_id}/edit")
        if request.method == "GET":  # `?doctor=17`: back from a quick-create, the new record picked
            picked = await run_in_threadpool(link_prefill, service, actor, entity, request.query_params)
            view = await run_in_threadpool(form_builder.build, {**record, **picked}, None, False)
            return page(request, actor, entity, view, record=record)
        view = await run_in_threadpool(form_builder.build, record, None, False)
        form = await submitted_form(request)
        raw = raw_submission(form, view, entity)
        version_text = form.get("version")
        version = int(version_text) if isinstance(version_text, str) and version_text.isdigit() else None
        errors = unstorable_errors(raw, actor.locale) or coercion_crashes(entity.fields, raw, actor.locale)
        conflict = False
        if not errors:
            values = values_to_save(raw, entity, actor, record)
            try:
                await run_write(service, service.update, actor, entity.name, record_id, values, version)
                return RedirectResponse(f"/records/{entity.name}/{record_id}?saved=1", status_code=303)
            except ValidationFailed as exc:
                errors = exc.errors
            except Conflict:
                conflict = True
        shown = {**record, "version": version if version is not None else record["version"]}
        view = await run_in_threadpool(form_builder.build, record, raw, False, _errors_by_field(errors))
        status = 409 if conflict else 422
        return page(request, actor, entity, view, record=shown, status=status, conflict=conflict, submitted=True)

    return [
        Route("/records/{entity}/new", create, methods=["GET", "POST"], name="create"),
        Route("/records/{entity}/{record_id:int}/edit", edit, methods=["GET", "POST"], name="edit"),
    ]
