"""The designer's draft: a report spec built from a form (or JSON), checked like `crm validate` checks one.

A draft is the data of one `reports:` entry. It is validated by the engine's own
pydantic model (`ReportSpec`) and then by `build_reports` with the blueprint's
entities and roles, so a draft the designer accepts is one `crm validate` accepts.
Every problem is located at the control it comes from (`d0` the first dimension,
`m1` the second measure, `filters`, `chart`, ...), in words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from builder.blueprint import SUPPORTED_LOCALES
from builder.records import Actor, RecordService
from engines.forms import localized
from engines.reports import ReportSpec, build_reports

DIMENSION_SLOTS = 3
MEASURE_SLOTS = 4
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MEASURE_KINDS = ("count", "count_distinct", "sum", "avg", "min", "max", "median", "expr")
NOT_PICKED = ("table",)  # a child table is never a path's end
LINK_DEPTH = 3  # links a path may cross in the designer's field picker (`visit.patient.primary_doctor.name`)


@dataclass(frozen=True)
class DraftProblem:
    """One thing wrong with a draft: the control it belongs to, the spec path (for the API) and the words."""

    control: str
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class PathChoice:
    """A field the designer offers: its path (`patient.primary_doctor`), its label and its type."""

    path: str
    label: str
    type: str


def may_design(service: RecordService, actor: Actor) -> bool:
    """A role may design when it may report on at least one entity (`report: true` or read access)."""
    return bool(design_sources(service, actor))


def design_sources(service: RecordService, actor: Actor) -> list[str]:
    """The entities the role may use as a report's source: `report: true` or read access, as `run_report_as`."""
    found = []
    for entity in service.entities:
        grant = service.policy.grant(actor, entity)
        if grant.report or grant.allows("read"):
            found.append(entity)
    return found


def entity_label(service: RecordService, entity: str, locale: str) -> str:
    return localized(service.entities[entity].spec.title, locale, entity.replace("_", " ").capitalize())


def _fields_offered(service: RecordService, actor: Actor, entity: str) -> list[str]:
    """The fields of `entity` the role may report on: all but encrypted with `report: true`, else the readable."""
    grant = service.policy.grant(actor, entity)
    spec = service.entities[entity].spec
    names = []
    for name, field in spec.fields.items():
        if field.type in NOT_PICKED or field.encrypted:
            continue
        if grant.report or name in grant.readable:
            names.append(name)
    if grant.report or grant.allows("read"):
        names += ["created_at", "updated_at"]
    return names


def path_choices(
    service: RecordService, actor: Actor, source: str, locale: str, depth: int = LINK_DEPTH
) -> list[PathChoice]:
    """The source's fields, then across links (at most `depth` of them) the fields of their targets, in words.

    A link is followed only when the role may report on it (it is one of the fields
    offered) and on its target; an entity already on the path is not entered again,
    so `visit › patient › primary doctor › name` is offered but no path goes round a loop.
    """
    if source not in service.entities:
        return []
    created = {"en": "Created at", "zh-CN": "创建时间"}
    updated = {"en": "Updated at", "zh-CN": "更新时间"}

    def label_of(entity: str, name: str) -> tuple[str, str]:
        spec = service.entities[entity].spec
        if name in ("created_at", "updated_at"):
            words = created if name == "created_at" else updated
            return localized(words, locale, name), "datetime"
        field = spec.fields[name]
        return localized(field.label, locale, name.replace("_", " ").capitalize()), field.type

    offered = {entity: _fields_offered(service, actor, entity) for entity in service.entities}
    choices = []
    for name in offered[source]:
        label, kind = label_of(source, name)
        choices.append(PathChoice(name, label, kind))

    def follow(entity: str, path: str, words: str, visited: tuple[str, ...]) -> None:
        for name in offered[entity]:
            field = service.entities[entity].spec.fields.get(name)
            if field is None or field.type != "link" or field.to not in service.entities or field.to in visited:
                continue
            target = field.to
            here = f"{path}{name}"
            said = f"{words}{localized(field.label, locale, name.replace('_', ' ').capitalize())} › "
            for other in offered[target]:
                label, kind = label_of(target, other)
                choices.append(PathChoice(f"{here}.{other}", f"{said}{label}", kind))
            if len(visited) < depth:
                follow(target, f"{here}.", said, (*visited, target))

    follow(source, "", "", (source,))
    return choices


def _text(form: Mapping[str, str], key: str) -> str:
    return (form.get(key) or "").strip()


def draft_from_form(form: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The draft's name and its `reports:` entry from the designer's form fields (empty controls left out)."""
    name = _text(form, "name") or "draft"
    data: dict[str, Any] = {}
    title = {loc: _text(form, f"title_{loc}") for loc in ("en", "zh-CN") if loc in SUPPORTED_LOCALES}
    if any(title.values()):
        data["title"] = {loc: text for loc, text in title.items() if text}
    data["source"] = _text(form, "source")
    dimensions: list[Any] = []
    for slot in range(DIMENSION_SLOTS):
        field, by = _text(form, f"d{slot}_field"), _text(form, f"d{slot}_by")
        if not field:
            continue
        dimensions.append({"field": field, "by": by, "name": by} if by else field)
    if dimensions:
        data["dimensions"] = dimensions
    measures: dict[str, Any] = {}
    for slot in range(MEASURE_SLOTS):
        measure_name, kind = _text(form, f"m{slot}_name"), _text(form, f"m{slot}_agg")
        if not measure_name and not kind:
            continue
        measure: dict[str, Any] = {}
        if kind == "expr":
            measure["expr"] = _text(form, f"m{slot}_expr")
        else:
            measure["agg"] = kind or "count"
            if _text(form, f"m{slot}_field"):
                measure["field"] = _text(form, f"m{slot}_field")
            if _text(form, f"m{slot}_where"):
                measure["where"] = _text(form, f"m{slot}_where")
        if _text(form, f"m{slot}_format") not in ("", "number"):
            measure["format"] = _text(form, f"m{slot}_format")
        measures[measure_name or f"measure_{slot + 1}"] = measure
    data["measures"] = measures
    filters = [line.strip() for line in (form.get("filters") or "").splitlines() if line.strip()]
    if filters:
        data["filters"] = filters
    if _text(form, "period_field"):
        period: dict[str, Any] = {"type": "date_range", "field": _text(form, "period_field")}
        if _text(form, "period_default"):
            period["default"] = _text(form, "period_default")
        data["parameters"] = {"period": period}
    sort = [s.strip() for s in _text(form, "sort").split(",") if s.strip()]
    if sort:
        data["sort"] = sort
    limit = _text(form, "limit")
    if limit:
        data["limit"] = int(limit) if limit.isdigit() and len(limit) < 10 else limit
    if form.get("totals"):
        data["totals"] = True
    chart = {key: _text(form, f"chart_{key}") for key in ("type", "x", "y", "series")}
    if chart["type"]:
        data["chart"] = {key: value for key, value in chart.items() if value}
    return name, data


def form_from_spec(name: str, spec: ReportSpec) -> dict[str, str]:
    """The designer's form fields for a saved report (`?from=NAME`): what the form can show of it."""
    form: dict[str, str] = {"name": name, "source": spec.source}
    title = spec.title if isinstance(spec.title, dict) else {"en": spec.title} if spec.title else {}
    for loc, text in title.items():
        form[f"title_{loc}"] = text
    for slot, dimension in enumerate(spec.dimensions[:DIMENSION_SLOTS]):
        form[f"d{slot}_field"] = dimension.field
        form[f"d{slot}_by"] = dimension.by or ""
    slot = 0
    for measure_name, measure in spec.measures.items():
        if slot >= MEASURE_SLOTS or measure.change is not None:
            continue
        form[f"m{slot}_name"] = measure_name
        form[f"m{slot}_agg"] = measure.agg or "expr"
        form[f"m{slot}_field"] = measure.field or ""
        form[f"m{slot}_where"] = measure.where or ""
        form[f"m{slot}_expr"] = measure.expr or ""
        form[f"m{slot}_format"] = measure.format
        slot += 1
    form["filters"] = "\n".join(spec.filters)
    for param in spec.parameters.values():
        if param.type == "date_range":
            form["period_field"] = param.field
            form["period_default"] = str(param.default or "")
            break
    form["sort"] = ", ".join(spec.sort)
    form["limit"] = str(spec.limit or "")
    form["totals"] = "1" if spec.totals else ""
    if spec.chart is not None:
        form["chart_type"] = spec.chart.type
        y = spec.chart.y
        form.update(chart_x=spec.chart.x or "", chart_series=spec.chart.series or "")
        form["chart_y"] = y if isinstance(y, str) else (y[0] if y else "")
    return form


def _control(loc: tuple[Any, ...], measures: list[str]) -> str:
    """The form control a spec location belongs to."""
    if not loc:
        return "general"
    head = loc[0]
    if head == "dimensions" and len(loc) > 1 and isinstance(loc[1], int):
        return f"d{loc[1]}"
    if head == "measures" and len(loc) > 1 and loc[1] in measures:
        return f"m{measures.index(loc[1])}"
    if head == "parameters":
        return "period"
    if head == "title":
        return "name"
    if head in ("source", "filters", "sort", "limit", "chart", "name"):
        return str(head)
    return "general"


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "report"


def check_draft(
    service: RecordService, roles: Mapping[str, Any], name: str, data: Mapping[str, Any]
) -> tuple[ReportSpec | None, list[DraftProblem]]:
    """The checked spec, or None and every problem: the model's, then the engine's meaning checks."""
    problems: list[DraftProblem] = []
    measures = list(data.get("measures") or {}) if isinstance(data.get("measures"), Mapping) else []
    if not NAME.match(name):
        problems.append(
            DraftProblem("name", "name", "report.name", "a report's name is lower-case letters, digits and _")
        )
    try:
        spec = ReportSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(DraftProblem(_control(loc, measures), _dotted(loc), "invalid", message))
        return None, problems
    entities = {entity: compiled.spec for entity, compiled in service.entities.items()}
    _, found = build_reports({name: spec}, {}, entities, set(roles), locales=SUPPORTED_LOCALES)
    for problem in found:
        loc = tuple(problem.loc[2:]) if problem.loc[:2] == ("reports", name) else tuple(problem.loc)
        message = problem.message + (f" ({problem.hint})" if problem.hint else "")
        problems.append(DraftProblem(_control(loc, list(spec.measures)), _dotted(loc), problem.code, message))
    return (None if problems else spec), problems


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the draft's order, Chinese kept as text."""


def yaml_of(name: str, data: Mapping[str, Any], *, entry: bool = True) -> str:
    """The draft as YAML: a `reports:` entry (for copying), or the file `reports/<name>.yaml` holds."""
    body = {name: dict(data)}
    document = {"reports": body} if entry else body
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
