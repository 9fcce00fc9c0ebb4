"""The create/edit form of an entity: the blueprint's form (or a default one) for one actor.

Only writable fields become inputs; readable ones are shown as text; computed
fields are never inputs; sections whose `visible_if` is false for this user are
left out entirely (and their fields are not read back from the submission).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from builder.records import Actor, RecordService
from builder.records.compiled import CompiledEntity, CompiledField
from builder.records.link_filters import LinkChoice
from builder.records.policy import Grant
from builder.records.transitions import driven_fields
from engines.forms import FormSpec, localized

from ..i18n import register_texts, translate
from ..presenting import display, field_label, link_titles
from .choices import Choices, link_choices, user_choices
from .pickers import typed_values
from .visibility import browser_condition, browser_conditions, evaluate

register_texts(
    {
        "form.details": {"en": "Details", "zh-CN": "详细信息"},
        "form.other": {"en": "Other", "zh-CN": "其他"},
        "form.quick_new": {"en": "New {entity}", "zh-CN": "新建{entity}"},
    }
)

BLANK_ROWS = 2  # empty child rows offered without JavaScript


@dataclass
class FormField:
    """One field as the template needs it; `value` is what goes into the input."""

    name: str
    label: str
    widget: str
    editable: bool
    required: bool = False
    value: Any = ""
    text: str = ""  # the display text of a read-only field
    help: str = ""
    errors: list[str] = field(default_factory=list)
    visible: bool = True
    condition: str | None = None
    locked: bool = False  # `readonly_if` holds for the values shown: the input is disabled (not sent)
    required_condition: str | None = None  # `required_if` as JSON for forms.js, when simple enough
    lock_condition: str | None = None  # `readonly_if` likewise
    choices: Choices | None = None
    columns: list[FormField] = field(default_factory=list)  # child-table columns
    rows: list[dict[str, Any]] = field(default_factory=list)  # child rows: {col: value, "_errors": {col: [..]}}
    unit: str = ""
    max_length: int | None = None  # the blueprint's text limit, as the input's `maxlength`
    no_draft: bool = False  # sensitive, encrypted or PHI: never kept in the browser's draft (static/forms.js)


@dataclass
class FormSection:
    title: str
    columns: int
    fields: list[FormField]


@dataclass
class FormView:
    title: str
    sections: list[FormSection]
    errors: list[str] = field(default_factory=list)  # errors not beside any field

    @property
    def editable_names(self) -> list[str]:
        return [f.name for s in self.sections for f in s.fields if f.editable]

    def field(self, name: str) -> FormField | None:
        return next((f for s in self.sections for f in s.fields if f.name == name), None)


def form_spec(forms: Mapping[str, FormSpec], entity: str) -> FormSpec | None:
    """The staff form of `entity`: a public form (docs/public-forms.md) is for patients only."""
    return next((spec for spec in forms.values() if spec.entity == entity and spec.public is None), None)


def input_value(field: CompiledField, value: Any) -> Any:
    """A stored value as an input shows it (a date as YYYY-MM-DD, a moment as YYYY-MM-DDTHH:MM)."""
    if value is None:
        return [] if field.spec.type == "multi_select" else ""
    if field.spec.type == "boolean":
        return bool(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    return field.kind.edit_text(value, field.spec)


def _options(field: CompiledField, locale: str) -> Choices:
    kind = field.kind
    return Choices([(o, kind.option_label(o, field.spec, locale)) for o in field.spec.options or []])


def _widget(field: CompiledField) -> str:
    return field.kind.widget if field.spec.type not in ("state",) else "select"


TEXT_WIDGETS = ("text", "textarea", "tel", "email")


def _max_length(field: CompiledField) -> int | None:
    """The text limit the server checks (the type's value schema), so the browser stops at it too."""
    if _widget(field) not in TEXT_WIDGETS:
        return None
    limit = field.kind.value_schema(field.spec).get("maxLength")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


class FormBuilder:
    """Builds the FormView of one entity for one actor."""

    def __init__(
        self,
        service: RecordService,
        forms: Mapping[str, FormSpec],
        actor: Actor,
        entity: CompiledEntity,
        *,
        return_to: str | None = None,
        quick: bool = False,
        quick_also: Sequence[str] = (),
    ):
        self.service, self.actor, self.entity = service, actor, entity
        grant = service.policy.grant(actor, entity.name)
        driven = frozenset(driven_fields(service.flows, entity.name))  # moved by transitions, shown as text
        self.grant: Grant = replace(grant, writable=grant.writable - driven) if driven else grant
        self.spec = form_spec(forms, entity.name)
        self.locale = actor.locale
        self.return_to = return_to  # this form's address: a link's "New …" comes back here with the record picked
        self.quick = quick  # the minimal form of a quick-create: the fields a new record cannot do without
        self.quick_also = list(quick_also)  # and those the link's filter pins (prefilled), so the record passes
        self._typed: dict[str, Any] = {}

    def quick_fields(self) -> list[str]:
        """What a quick-create asks for: required fields without a default, the title, and what the filter pins."""
        needed = [
            name
            for name, f in self.entity.fields.items()
            if name in self.grant.writable
            and f.compute is None
            and (f.spec.required or name == self.entity.spec.title_field)
            and f.default is None
            and f.default_value is None
        ]
        pinned = [n for n in self.quick_also if n in self.grant.writable and n not in needed]
        return needed + pinned

    def _layout(self) -> list[tuple[str, int, list[str], str | None]]:
        if self.quick:
            return [(translate("form.details", self.locale), 1, self.quick_fields(), None)]
        if self.spec is None:
            return [(translate("form.details", self.locale), 2, list(self.entity.fields), None)]
        sections = [
            (localized(s.section, self.locale), s.columns, list(s.fields), s.visible_if) for s in self.spec.layout
        ]
        placed = {name for _, _, names, _ in sections for name in names}
        rest = [n for n in self.entity.fields if n not in placed and n in self.grant.writable]
        if rest:
            sections.append((translate("form.other", self.locale), 1, rest, None))
        return sections

    def title(self) -> str:
        return localized(self.spec.title, self.locale, "") if self.spec is not None else ""

    def build(
        self,
        record: Mapping[str, Any],
        submitted: Mapping[str, Any] | None,
        creating: bool,
        errors: Mapping[str, list[str]] | None = None,
    ) -> FormView:
        """The form for `record` (typed values), showing `submitted` (raw input) when re-displayed."""
        errors = dict(errors or {})
        values_for_conditions = {**record, **(submitted or {})}
        self._typed = {**record, **typed_values(self.entity, submitted or {})}
        titles = link_titles(self.service, self.actor, self.entity, [record])
        sections = []
        for title, columns, names, condition in self._layout():
            if not evaluate(condition, self.entity, values_for_conditions, self.actor):
                continue
            fields = [
                f
                for f in (
                    self._field(n, record, submitted, creating, errors, titles, values_for_conditions) for n in names
                )
                if f is not None
            ]
            if fields:
                sections.append(FormSection(title, columns, fields))
        shown = {f.name for s in sections for f in s.fields}
        leftover = [msg for name, msgs in errors.items() if name.split(".")[0] not in shown for msg in msgs]
        return FormView(self.title(), sections, leftover)

    def single(self, name: str, errors: list[str] | None = None) -> FormField | None:
        """One writable field's input on its own (a value set on selected rows): no conditions, nothing locked.

        Conditions (`visible_if`, `readonly_if`) depend on each record, so the record
        service judges them row by row when the value is applied.
        """
        out = self._field(name, {}, None, False, {name: errors or []}, {}, {})
        if out is None or not out.editable or out.columns:
            return None
        out.visible, out.condition, out.locked, out.lock_condition, out.required_condition = (
            True,
            None,
            False,
            None,
            None,
        )
        return out

    def _field(
        self,
        name: str,
        record: Mapping[str, Any],
        submitted: Mapping[str, Any] | None,
        creating: bool,
        errors: Mapping[str, list[str]],
        titles: dict,
        values: Mapping[str, Any],
    ) -> FormField | None:
        field = self.entity.fields.get(name)
        if field is None:
            return None
        editable = name in self.grant.writable and field.compute is None
        if not editable and (name not in self.grant.readable or creating):
            return None
        out = FormField(
            name,
            field_label(field, self.locale),
            _widget(field),
            editable,
            required=field.spec.required and field.compute is None,
            help=localized(field.spec.help, self.locale, ""),
            errors=list(errors.get(name, [])),
            unit=field.spec.unit or "",
            max_length=_max_length(field),
        )
        if field.visible_if is not None:
            out.visible = evaluate(None, self.entity, values, self.actor, compiled=field.visible_if)
            out.condition = browser_condition(field.spec.visible_if, set(self.entity.fields))
        names = set(self.entity.fields)
        required_if = ([field.required_if] if field.required_if is not None else []) + [
            c for c, _ in field.section_required_if
        ]
        if required_if and field.compute is None:
            out.required = out.required or any(
                evaluate(None, self.entity, values, self.actor, compiled=c) for c in required_if
            )
            out.required_condition = browser_conditions([c.source for c in required_if], names)
        if field.lock_conditions:
            out.locked = any(evaluate(None, self.entity, values, self.actor, compiled=c) for c in field.lock_conditions)
            out.lock_condition = browser_conditions([c.source for c in field.lock_conditions], names)
        out.no_draft = any(
            f.spec.sensitive or f.spec.encrypted or f.spec.phi for f in [field, *field.children.values()]
        )
        if not editable:
            out.text = display(field, record.get(name), self.locale, titles) if not field.children else ""
            if field.children:
                out.columns = self._columns(field)
                out.rows = [
                    {c.name: display(field.children[c.name], row.get(c.name), self.locale) for c in out.columns}
                    for row in record.get(name) or []
                ]
            return out
        if field.children:
            out.columns = self._columns(field)
            out.rows = self._rows(field, record.get(name) or [], submitted, errors)
            return out
        if submitted is not None:
            out.value = submitted.get(name, [] if field.spec.type == "multi_select" else "")
        else:
            out.value = input_value(field, record.get(name))
        if field.spec.type in ("select", "state", "multi_select"):
            out.choices = _options(field, self.locale)
        elif field.spec.type == "link" and field.spec.to:
            current = record.get(name) if isinstance(record.get(name), int) else None
            out.choices = self._link_choices(field, current)
        elif field.spec.type == "user":
            out.choices = user_choices(self.service)
        return out

    def _link_choices(self, field: CompiledField, current: int | None) -> Choices:
        """The link's options (narrowed by its filter for the values shown) and its quick-create link."""
        target = field.spec.to or ""
        choosing = LinkChoice(self.entity.name, field.name, self._typed) if field.spec.filter else None
        choices = link_choices(self.service, self.actor, target, current, choosing)
        if choices.pick_url is not None:
            fixed = {
                n: "" if self._typed.get(n) is None else str(getattr(self._typed[n], "id", self._typed[n]))
                for n in choices.depends
                if n not in self.grant.writable
            }
            if fixed:  # values the user cannot change here (not inputs) travel in the address
                choices.pick_url = choices.pick_url.replace("?q=", "?" + urlencode(fixed) + "&q=")
                choices.search_url = choices.pick_url if choices.search_url else None
        may_create = self.service.policy.grant(self.actor, target).create
        if may_create and self.return_to is not None and not self.quick and choices.readable:
            params = {"pick_for": f"{self.entity.name}.{field.name}", "return_to": self.return_to}
            params.update(self._filter_inputs(choices.depends))  # forms.js sets them afresh when clicked
            query = urlencode(params)
            choices.create_url = f"/records/{target}/new?{query}"
            choices.create_label = translate(
                "form.quick_new",
                self.locale,
                entity=localized(self.service.entity(target).spec.title, self.locale, target),
            )
        return choices

    def _filter_inputs(self, names: Sequence[str]) -> dict[str, str]:
        """`record.<name>`: this form's values a link's filter reads, as inputs, for a quick-create's prefill."""
        out: dict[str, str] = {}
        for name in names:
            typed = self._typed.get(name)
            value = input_value(self.entity.fields[name], getattr(typed, "id", typed))
            if isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = ",".join(value) if isinstance(value, list) else str(value)
            if text:
                out[f"record.{name}"] = text
        return out

    def _columns(self, field: CompiledField) -> list[FormField]:
        return [
            FormField(
                n,
                field_label(c, self.locale),
                _widget(c),
                c.compute is None,
                required=c.spec.required,
                unit=c.spec.unit or "",
                max_length=_max_length(c),
                choices=_options(c, self.locale) if c.spec.options else None,
            )
            for n, c in field.children.items()
        ]

    def _rows(
        self,
        field: CompiledField,
        stored: list[dict],
        submitted: Mapping[str, Any] | None,
        errors: Mapping[str, list[str]],
    ) -> list[dict[str, Any]]:
        if submitted is not None:
            rows = [dict(r) for r in submitted.get(field.name) or []]
        else:
            rows = [{n: input_value(c, row.get(n)) for n, c in field.children.items()} for row in stored]
        for i, row in enumerate(rows):
            row["_errors"] = {n: errors.get(f"{field.name}.{i}.{n}", []) for n in field.children}
        blank = {n: "" for n in field.children}
        rows += [{**blank, "_errors": {}} for _ in range(BLANK_ROWS)]
        return rows
