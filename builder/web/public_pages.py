"""The pages patients open without signing in: `/f/{token}` (their own link) and `/f/clinic/{form}`.

A public page shows the form's declared fields and nothing else: no record, no id,
no masked value (at most the greeting the form declares). It opens large by default,
in the language of `?lang=`, else of the browser. A submission passes, in order: the
CSRF check (the security middleware, as for every form), the link's check (a friendly
403/410 page), the limits per address and per link (429), the honeypot (a bot sees
"thank you" and nothing is kept), then the record service as the public actor; errors
re-show the form with what was typed. See docs/public-forms.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.public_forms import BadToken, PublicDesk, PublicForm, TokenRow
from builder.records import Actor, FieldError, ValidationFailed
from builder.runtime import Runtime
from engines.forms import localized

from .i18n import register_texts
from .inputs import coercion_crashes, unstorable_errors
from .pages.common import submitted_form
from .pages.form_input import raw_submission, values_to_save
from .pages.form_layout import FormBuilder, FormView
from .rendering import render
from .security.authentication import client_address

HONEYPOT = "contact-website"  # not a possible field name (hyphen): bots fill it, people never see it

register_texts(
    {
        "public.send": {"en": "Send", "zh-CN": "提交"},
        "public.hello": {"en": "Hello, {name}", "zh-CN": "{name}，您好"},
        "public.bigger": {"en": "Larger text", "zh-CN": "大字体"},
        "public.smaller": {"en": "Smaller text", "zh-CN": "标准字体"},
        "public.thanks": {"en": "Thank you. Your answers have been sent.", "zh-CN": "谢谢！您的填写已提交。"},
        "public.honeypot": {"en": "Leave this empty", "zh-CN": "请勿填写"},
        "public.refused.expired": {
            "en": "This link has expired. Please ask the clinic for a new one.",
            "zh-CN": "此链接已过期，请向诊所索取新的链接。",
        },
        "public.refused.used": {
            "en": "This link has already been used. Thank you!",
            "zh-CN": "此链接已使用过，谢谢！",
        },
        "public.refused.revoked": {
            "en": "This link has been withdrawn by the clinic. Please ask the clinic for a new one.",
            "zh-CN": "此链接已被诊所撤回，请向诊所索取新的链接。",
        },
        "public.refused.tampered": {
            "en": "This link is not valid. Please check it, or ask the clinic for a new one.",
            "zh-CN": "此链接无效，请核对或向诊所索取新的链接。",
        },
        "public.refused.missing": {
            "en": "There is no such form. Please check the link.",
            "zh-CN": "没有这个表单，请核对链接。",
        },
        "public.refused.throttled": {
            "en": "Too many submissions for now. Please try again in an hour.",
            "zh-CN": "提交次数过多，请一小时后再试。",
        },
        "public.refused.title": {"en": "Sorry", "zh-CN": "抱歉"},
    }
)

REFUSAL_STATUS = {"expired": 410, "used": 410, "revoked": 410, "tampered": 403, "unknown": 403, "missing": 404}


def page_locale(request: Request, runtime: Runtime) -> str:
    """`?lang=` when the app speaks it, else what the security layer chose (session, Accept-Language)."""
    wanted = request.query_params.get("lang")
    locales = list(runtime.blueprint.app.locales)
    if wanted in locales:
        return str(wanted)
    return str(getattr(request.state, "locale", None) or runtime.blueprint.default_locale)


def _query(locale: str, large: bool) -> str:
    return urlencode({"lang": locale, **({} if large else {"text": "normal"})})


class PublicPages:
    """The patient-facing routes of one app, sharing its PublicDesk."""

    def __init__(self, runtime: Runtime, desk: PublicDesk) -> None:
        self.runtime = runtime
        self.service = runtime.records
        self.desk = desk

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/f/thanks/{form}", self.thanks, methods=["GET"], name="public_thanks"),
            Route("/f/clinic/{form}", self.clinic_form, methods=["GET", "POST"], name="public_clinic"),
            Route("/f/{token}", self.patient_form, methods=["GET", "POST"], name="public_patient"),
        ]

    # -- pages -------------------------------------------------------------------------
    def _render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200, **headers: str
    ) -> Response:
        locale = page_locale(request, self.runtime)
        request.state.locale = locale  # the page's language, for every text on it
        large = request.query_params.get("text") != "normal"
        other = [code for code in self.runtime.blueprint.app.locales if code != locale]
        values = {
            "large_text": large,
            "here": request.url.path,
            "query": _query(locale, large),
            "switch_text": _query(locale, not large),
            "switch_lang": [(code, _query(code, large)) for code in other],
            **context,
        }
        response = render(request, template, values, status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never sent on
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers.update(headers)
        return response

    def refused(self, request: Request, reason: str) -> Response:
        key = "public.refused." + ("tampered" if reason == "unknown" else reason)
        return self._render(
            request, "public_message.html", {"message_key": key, "refused": True}, REFUSAL_STATUS.get(reason, 403)
        )

    def throttled(self, request: Request) -> Response:
        minutes = int(self.desk.throttle.window.total_seconds() // 60)
        return self._render(
            request,
            "public_message.html",
            {"message_key": "public.refused.throttled", "refused": True},
            429,
            **{"Retry-After": str(minutes * 60)},
        )

    async def thanks(self, request: Request) -> Response:
        form = self.desk.form(request.path_params["form"])
        text = localized(form.public.thanks, page_locale(request, self.runtime), "") if form else ""
        return self._render(request, "public_message.html", {"text": text, "message_key": "public.thanks"})

    # -- the forms ---------------------------------------------------------------------
    async def clinic_form(self, request: Request) -> Response:
        form = self.desk.form(request.path_params["form"])
        if form is None or form.by_patient:  # a patient's form never opens without its token
            return self.refused(request, "missing")
        return await self._form(request, form, None)

    async def patient_form(self, request: Request) -> Response:
        try:
            form, row = await run_in_threadpool(self.desk.open_token, request.path_params["token"])
        except BadToken as exc:
            return self.refused(request, exc.reason)
        return await self._form(request, form, row)

    def _builder(self, form: PublicForm, actor: Actor) -> FormBuilder:
        entity = self.service.entity(form.entity)
        builder = FormBuilder(self.service, {}, actor, entity)
        builder.spec = form.spec
        shown = frozenset(form.fields)
        builder.grant = replace(builder.grant, readable=shown, writable=shown)  # never the bound link
        return builder

    def _build(self, builder: FormBuilder, raw: dict[str, Any] | None, errors: dict[str, list[str]]) -> FormView:
        """The form; a required field with a default (the time of a reading) may be left blank."""
        view = builder.build({}, raw, True, errors)
        for section in view.sections:
            for item in section.fields:
                if builder.entity.fields[item.name].spec.default is not None:
                    item.required = False
        return view

    async def _form(self, request: Request, form: PublicForm, row: TokenRow | None) -> Response:
        locale = page_locale(request, self.runtime)
        address = client_address(request.scope)
        actor = self.desk.actor(form, row, locale, address)
        builder = self._builder(form, actor)
        greeting = await run_in_threadpool(self.desk.greeting, form, row) if row is not None else None
        view = await run_in_threadpool(self._build, builder, None, {})
        if request.method == "GET":
            return self._page(request, form, view, greeting)
        if not await run_in_threadpool(self.desk.admit, address, row):
            return self.throttled(request)
        data = await submitted_form(request)
        thanks = f"/f/thanks/{form.name}?{_query(locale, request.query_params.get('text') != 'normal')}"
        if data.get(HONEYPOT):
            await run_in_threadpool(self.desk.drop, form, row, locale, address)
            return RedirectResponse(thanks, status_code=303)
        entity = self.service.entity(form.entity)
        raw = raw_submission(data, view, entity)
        errors: list[FieldError] = unstorable_errors(raw, locale) or coercion_crashes(entity.fields, raw, locale)
        if not errors:
            values = {k: v for k, v in values_to_save(raw, entity, actor, {}).items() if _given(v)}
            try:
                await run_in_threadpool(self.desk.submit, form, row, values, locale, address)
                return RedirectResponse(thanks, status_code=303)
            except BadToken as exc:
                return self.refused(request, exc.reason)
            except ValidationFailed as exc:
                errors = exc.errors
        grouped: dict[str, list[str]] = {}
        for error in errors:
            grouped.setdefault(error.field.split(".")[0], []).append(error.message)
        view = await run_in_threadpool(self._build, builder, raw, grouped)
        return self._page(request, form, view, greeting, 422)

    def _page(
        self, request: Request, form: PublicForm, view: FormView, greeting: str | None, status: int = 200
    ) -> Response:
        locale = page_locale(request, self.runtime)
        context = {
            "form": view,
            "title": localized(form.spec.title, locale, "") or view.title,
            "intro": localized(form.public.intro, locale, "") if form.public.intro else "",
            "greeting": greeting,
            "honeypot": HONEYPOT,
        }
        return self._render(request, "public_form.html", context, status)


def _given(value: Any) -> bool:
    """A blank input is "not given" (the field's default applies); an unticked box is false."""
    return isinstance(value, bool) or value not in ("", None, [])
