"""Staff's side of public forms: make and revoke a patient's link, and review clinic-wide submissions.

A link is made from the patient's record page by a role the form lets send it; the
token is shown once (with a QR code) and only its hash is kept. The review queue
(`/review`) lists the pending submissions of the forms the role reviews, with their
duplicates; a reviewer may correct one with the form's own widgets (`/review/ID/correct`,
what they may write, sensitive values masked as on a record: an unchanged mask keeps the
held value), the values as sent staying beside the correction; accepting creates the
record as the reviewer. Every step is audited.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.public_forms import PublicDesk
from builder.public_forms.catalog import forms_to_send
from builder.public_forms.qr import qr_svg
from builder.records import Actor, FieldError, NotFound, ValidationFailed
from builder.records.auditing import audit_row
from builder.runtime import Runtime
from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table
from engines.forms import localized

from .context import require_actor
from .i18n import register_texts, translate
from .inputs import coercion_crashes, unstorable_errors
from .pages.common import entity_of, record_id_of, submitted_form
from .pages.form_input import raw_submission, values_to_save
from .pages.form_layout import FormBuilder, FormView, input_value
from .presenting import display, entity_title, field_label
from .rendering import render

register_texts(
    {
        "public.links": {"en": "Forms for the patient", "zh-CN": "患者自助表单"},
        "public.make_link": {"en": "Send form link: {form}", "zh-CN": "发送表单链接：{form}"},
        "public.link_made": {"en": "Link for {form}", "zh-CN": "{form}的链接"},
        "public.link_once": {
            "en": "Copy it now or let the patient scan the code: the link is shown only once. It works until {at}.",
            "zh-CN": "请现在复制链接或让患者扫码：链接只显示这一次，有效期至 {at}。",
        },
        "public.qr": {"en": "QR code of the link", "zh-CN": "链接二维码"},
        "public.back": {"en": "Back to the record", "zh-CN": "返回记录"},
        "public.revoke": {"en": "Revoke", "zh-CN": "撤回"},
        "public.state.live": {"en": "in use", "zh-CN": "有效"},
        "public.state.used": {"en": "used", "zh-CN": "已使用"},
        "public.state.expired": {"en": "expired", "zh-CN": "已过期"},
        "public.state.revoked": {"en": "revoked", "zh-CN": "已撤回"},
        "public.link_line": {"en": "made {at} by {by}, until {until}", "zh-CN": "{by} 于 {at} 生成，有效期至 {until}"},
        "review.title": {"en": "Submissions to review", "zh-CN": "待审核的登记"},
        "review.none": {"en": "Nothing to review.", "zh-CN": "没有待审核的登记。"},
        "review.accept": {"en": "Accept", "zh-CN": "接受"},
        "review.reject": {"en": "Reject", "zh-CN": "拒绝"},
        "review.accepted": {"en": "Accepted: the record was created.", "zh-CN": "已接受，记录已创建。"},
        "review.rejected": {"en": "Rejected.", "zh-CN": "已拒绝。"},
        "review.received": {"en": "Received {at}", "zh-CN": "提交于 {at}"},
        "review.duplicate": {
            "en": "Possible duplicate: same {fields} as",
            "zh-CN": "可能重复：{fields}与以下记录相同",
        },
        "review.hidden_record": {"en": "a record you cannot open", "zh-CN": "一条您无权查看的记录"},
        "review.correct": {"en": "Correct", "zh-CN": "更正"},
        "review.correct_title": {"en": "Correct the submission: {form}", "zh-CN": "更正登记：{form}"},
        "review.save": {"en": "Save the correction", "zh-CN": "保存更正"},
        "review.back": {"en": "Back to the queue", "zh-CN": "返回审核列表"},
        "review.corrected": {
            "en": "Corrected. Accept it to create the record.",
            "zh-CN": "已更正。接受后即创建记录。",
        },
        "review.unchanged": {"en": "Nothing was changed.", "zh-CN": "没有任何修改。"},
        "review.corrected_by": {"en": "Corrected by {by}", "zh-CN": "已由 {by} 更正"},
        "review.as_sent": {"en": "As sent", "zh-CN": "原始提交"},
        "review.changed": {"en": "changed", "zh-CN": "已更正"},
        "audit.action.public_submit": {"en": "Public form submitted", "zh-CN": "公开表单提交"},
        "audit.action.public_link": {"en": "Form link made", "zh-CN": "生成表单链接"},
        "audit.action.public_revoke": {"en": "Form link revoked", "zh-CN": "撤回表单链接"},
        "audit.action.public_accept": {"en": "Submission accepted", "zh-CN": "接受登记"},
        "audit.action.public_reject": {"en": "Submission rejected", "zh-CN": "拒绝登记"},
        "audit.action.public_correct": {"en": "Submission corrected", "zh-CN": "更正登记"},
        "audit.role.public": {"en": "Public form", "zh-CN": "公开表单"},
    }
)


def _audit(desk: PublicDesk, actor: Actor, action: str, entity: str, record_id: int, detail: dict[str, Any]) -> None:
    entry = audit_row(actor, action, entity, record_id, desk.service.clock(), None, json.dumps(detail))
    with write_transaction(desk.engine) as conn:
        conn.execute(audit_table.insert().values(**entry))


def _visible(desk: PublicDesk, actor: Actor, entity: str, record_id: int) -> bool:
    """Whether the actor may see the record (a list of ids only: nothing read, nothing to audit)."""
    try:
        page = desk.service.list(actor, entity, filters={"id": record_id}, limit=1, fields=["id"])
    except (NotFound, ValidationFailed):
        return False
    return bool(page.items)


def public_panel(request: Request, actor: Actor, entity: str, record_id: int) -> dict[str, Any] | None:
    """What a record's page shows of public forms: the links the actor may make and the record's links."""
    desk: PublicDesk | None = getattr(request.app.state, "public_desk", None)
    if desk is None:
        return None
    forms = forms_to_send(desk.catalog, entity, actor.role)
    if not forms:
        return None
    locale = actor.locale
    links = []
    for row in desk.tokens.of_record(entity, record_id):
        form = desk.form(row.form)
        state = desk.tokens.state(row)
        links.append(
            {
                "id": row.id,
                "form": localized(form.spec.title, locale, row.form) if form else row.form,
                "state": state,
                "state_label": translate(f"public.state.{state}", locale),
                "line": translate(
                    "public.link_line",
                    locale,
                    at=row.created_at.strftime("%Y-%m-%d %H:%M"),
                    by=row.created_by,
                    until=row.expires_at.strftime("%Y-%m-%d %H:%M"),
                ),
            }
        )
    return {
        "forms": [{"name": f.name, "title": localized(f.spec.title, locale, f.name)} for f in forms],
        "links": links,
    }


class StaffPages:
    def __init__(self, runtime: Runtime, desk: PublicDesk) -> None:
        self.runtime = runtime
        self.service = runtime.records
        self.desk = desk

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{entity}/{record_id:int}/public-links", self.make_link, methods=["POST"]),
            Route(
                "/records/{entity}/{record_id:int}/public-links/{token_id:int}/revoke", self.revoke, methods=["POST"]
            ),
            Route("/review", self.review, methods=["GET"], name="review"),
            Route("/review/{submission_id:int}/correct", self.correct, methods=["GET", "POST"]),
            Route("/review/{submission_id:int}/{decision}", self.decide, methods=["POST"]),
        ]

    async def make_link(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(self.service, request)
        record_id = record_id_of(request)
        name = (await request.form()).get("form")
        form = next((f for f in forms_to_send(self.desk.catalog, entity.name, actor.role) if f.name == name), None)
        if form is None:
            raise HTTPException(403)
        if not await run_in_threadpool(_visible, self.desk, actor, entity.name, record_id):
            raise HTTPException(404)
        token, token_id = await run_in_threadpool(self.desk.tokens.issue, form, record_id, actor.name)
        await run_in_threadpool(
            _audit, self.desk, actor, "public_link", entity.name, record_id, {"form": form.name, "token": token_id}
        )
        expires = (self.desk.tokens.clock() + form.expires).strftime("%Y-%m-%d %H:%M UTC")
        url = str(request.base_url).rstrip("/") + f"/f/{token}"
        title = localized(form.spec.title, actor.locale, form.name)
        return render(
            request,
            "public_link.html",
            {
                "title": translate("public.link_made", actor.locale, form=title),
                "url": url,
                "qr": qr_svg(url, translate("public.qr", actor.locale)),
                "expires": expires,
                "back": f"/records/{entity.name}/{record_id}",
            },
        )

    async def revoke(self, request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(self.service, request)
        record_id = record_id_of(request)
        token_id = request.path_params["token_id"]
        if not forms_to_send(self.desk.catalog, entity.name, actor.role):
            raise HTTPException(403)
        if not await run_in_threadpool(_visible, self.desk, actor, entity.name, record_id):
            raise HTTPException(404)
        if await run_in_threadpool(self.desk.tokens.revoke, token_id, entity.name, record_id):
            await run_in_threadpool(
                _audit, self.desk, actor, "public_revoke", entity.name, record_id, {"token": token_id}
            )
        return RedirectResponse(f"/records/{entity.name}/{record_id}", status_code=303)

    # -- review queue --------------------------------------------------------------------
    def _reviewer(self, request: Request) -> Actor:
        actor = require_actor(request)
        if not self.desk.review.forms_for(actor.role):
            raise HTTPException(403)
        return actor

    async def review(self, request: Request) -> Response:
        actor = self._reviewer(request)
        return await self._queue(request, actor)

    async def _queue(
        self, request: Request, actor: Actor, problems: dict[int, list[str]] | None = None, status: int = 200
    ) -> Response:
        items = await run_in_threadpool(self.desk.review.pending, actor)
        shown = [await run_in_threadpool(self._present, actor, item) for item in items]
        for entry in shown:
            entry["problems"] = (problems or {}).get(entry["id"], [])
        return render(
            request,
            "public_review.html",
            {"items": shown, "done": request.query_params.get("done")},
            status_code=status,
        )

    def _lines(self, actor: Actor, item: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Each held value as the reviewer's role would see it on a record: hidden, masked or plain."""
        entity = self.service.entity(item.entity)
        form = self.desk.form(item.form)
        locale = actor.locale
        grant = self.service.policy.grant(actor, entity.name)
        lines = []
        for name in form.fields if form else list(values):
            field = entity.fields.get(name)
            if field is None or name not in values or name not in grant.readable:
                continue
            try:
                value = field.kind.coerce(values[name], field.spec)
                if field.spec.sensitive and not grant.full_access:
                    value = field.kind.mask(value, field.spec)
                text = display(field, value, locale, {})
            except Exception:  # noqa: BLE001 - a value that no longer parses is shown masked, never raw
                text = "•••" if field.spec.sensitive else str(values[name])
            lines.append({"name": name, "label": field_label(field, locale), "text": text})
        return lines

    def _present(self, actor: Actor, item: Any) -> dict[str, Any]:
        entity = self.service.entity(item.entity)
        form = self.desk.form(item.form)
        locale = actor.locale
        lines = self._lines(actor, item, item.values)
        original: list[dict[str, Any]] = []
        if item.corrected_by:
            original = self._lines(actor, item, item.original)
            now = {line["name"]: line["text"] for line in lines}
            for line in original:
                line["changed"] = now.get(line["name"]) != line["text"]
            sent = {line["name"] for line in original}
            original += [{**line, "text": "", "changed": True} for line in lines if line["name"] not in sent]
        duplicates = []
        for dup in item.duplicates:
            fields = "、".join(field_label(entity.fields[n], locale) for n in dup.fields if n in entity.fields)
            duplicates.append(
                {
                    "text": translate("review.duplicate", locale, fields=fields),
                    "href": f"/records/{item.entity}/{dup.record_id}"
                    if _visible(self.desk, actor, item.entity, dup.record_id)
                    else None,
                    "label": f"{entity_title(entity, locale)} #{dup.record_id}",
                }
            )
        return {
            "id": item.id,
            "form": localized(form.spec.title, locale, item.form) if form else item.form,
            "received": item.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "lines": lines,
            "original": original,
            "corrected_by": item.corrected_by,
            "duplicates": duplicates,
        }

    async def decide(self, request: Request) -> Response:
        actor = self._reviewer(request)
        submission_id = request.path_params["submission_id"]
        decision = request.path_params["decision"]
        if decision not in ("accept", "reject"):
            raise HTTPException(404)
        try:
            item = await run_in_threadpool(self.desk.review.get, actor, submission_id)
            if decision == "accept":
                await run_in_threadpool(self.desk.review.accept, actor, submission_id)
            else:
                await run_in_threadpool(self.desk.review.reject, actor, submission_id)
        except NotFound:
            raise HTTPException(404) from None
        except ValidationFailed as exc:
            entity = self.service.entity(item.entity)
            return await self._queue(request, actor, {submission_id: _messages(exc.errors, entity, actor)}, 422)
        done = "accepted" if decision == "accept" else "rejected"
        return RedirectResponse("/review?" + urlencode({"done": done}), status_code=303)

    # -- correcting a held submission ------------------------------------------------------
    def _correction_form(self, actor: Actor, item: Any) -> tuple[FormBuilder, dict[str, Any]]:
        """The form's own widgets for what the reviewer may write of the form's fields, and the held
        values as the reviewer sees them (typed; sensitive ones masked unless they have full access)."""
        form = self.desk.form(item.form)
        if form is None:
            raise HTTPException(404)
        entity = self.service.entity(item.entity)
        builder = FormBuilder(self.service, {}, actor, entity)
        builder.spec = form.spec
        mapped = frozenset(form.fields)
        grant = builder.grant
        builder.grant = replace(grant, readable=grant.readable & mapped, writable=grant.writable & mapped)
        shown: dict[str, Any] = {}
        for name, value in item.values.items():
            field = entity.fields.get(name)
            if field is None or name not in builder.grant.readable:
                continue
            masked = field.spec.sensitive and not grant.full_access
            try:
                typed = field.kind.coerce(value, field.spec)
            except Exception:  # noqa: BLE001 - shown as held for correcting; never a masked field's raw text
                typed = None if masked else value
            shown[name] = field.kind.mask(typed, field.spec) if masked and typed is not None else typed
        return builder, shown

    async def correct(self, request: Request) -> Response:
        actor = self._reviewer(request)
        submission_id = request.path_params["submission_id"]
        try:
            item = await run_in_threadpool(self.desk.review.get, actor, submission_id)
        except NotFound:
            raise HTTPException(404) from None
        builder, shown = await run_in_threadpool(self._correction_form, actor, item)
        view = await run_in_threadpool(builder.build, shown, None, False)
        if request.method == "GET":
            return await self._correction_page(request, actor, item, view)
        entity = builder.entity
        raw = raw_submission(await submitted_form(request), view, entity)
        errors = unstorable_errors(raw, actor.locale) or coercion_crashes(entity.fields, raw, actor.locale)
        if not errors:
            given = values_to_save(raw, entity, actor, shown)
            full = self.service.policy.grant(actor, entity.name).full_access
            for name in list(given):  # a masked value sent back as shown keeps the held value
                field = entity.fields[name]
                masked = field.spec.sensitive and not full and shown.get(name) is not None
                if masked and given[name] == input_value(field, shown[name]):
                    del given[name]
            values = {k: v for k, v in {**item.values, **given}.items() if _given(v)}
            try:
                changes = await run_in_threadpool(self.desk.review.correct, actor, submission_id, values)
            except NotFound:
                raise HTTPException(404) from None
            except ValidationFailed as exc:
                errors = exc.errors
            else:
                done = "corrected" if changes else "unchanged"
                return RedirectResponse(f"/review?done={done}#submission-{submission_id}", status_code=303)
        grouped: dict[str, list[str]] = {}
        for error in errors:
            grouped.setdefault(error.field.split(".")[0], []).append(error.message)
        view = await run_in_threadpool(builder.build, shown, raw, False, grouped)
        return await self._correction_page(request, actor, item, view, 422)

    async def _correction_page(
        self, request: Request, actor: Actor, item: Any, view: FormView, status: int = 200
    ) -> Response:
        form = self.desk.form(item.form)
        title = localized(form.spec.title, actor.locale, item.form) if form else item.form
        original = await run_in_threadpool(self._lines, actor, item, item.original)
        return render(
            request,
            "public_review_correct.html",
            {
                "title": translate("review.correct_title", actor.locale, form=title),
                "form": view,
                "original": original,
                "item_id": item.id,
                "received": item.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            },
            status_code=status,
        )


def _given(value: Any) -> bool:
    """A blank input is "not given" (the field's default applies); an unticked box is false."""
    return isinstance(value, bool) or value not in ("", None, [])


def _messages(errors: list[FieldError], entity: Any, actor: Actor) -> list[str]:
    """Each error with its field's label (never the field's code)."""
    out = []
    for error in errors:
        field = entity.fields.get(error.field.split(".")[0])
        out.append(f"{field_label(field, actor.locale)}: {error.message}" if field is not None else error.message)
    return out
