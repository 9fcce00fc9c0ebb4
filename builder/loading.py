"""Load a blueprint: parse, check structure (pydantic), check meaning (engines).

Every problem from every stage is mapped back to file:line:column and reported at
once, so an author fixes a whole blueprint in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engines.rules import Problem, did_you_mean

from .blueprint import SUPPORTED_LOCALES, UNSUPPORTED_SECTIONS, Blueprint, with_report_indexes, with_workflow_labels
from .errors import BlueprintError, LocatedProblem
from .partial_blueprint import meaning_of_what_parsed
from .source import Source, load_source


@dataclass
class LoadedBlueprint:
    """A checked blueprint, its compiled decision tables and flows, and the source (for error positions)."""

    blueprint: Blueprint
    source: Source
    decision_tables: dict[str, Any] = field(default_factory=dict)
    flows: Any = None  # engines.workflows.Flows: state machines and automations, compiled

    @property
    def reports(self) -> Any:
        """The checked reports and dashboards (engines.reports.Reports)."""
        from engines.reports import Reports

        return Reports(self.blueprint.reports, self.blueprint.dashboards)

    def locate(self, problems: Iterable[Problem]) -> list[LocatedProblem]:
        return locate(self.source, problems)


def locate(source: Source, problems: Iterable[Problem]) -> list[LocatedProblem]:
    """Resolve each problem's blueprint path to its file, line and column."""
    located = []
    for p in problems:
        inside_value = p.column_offset or p.code.startswith("expression.")  # a column inside the text
        pos = source.value_position(p.loc, p.column_offset) if inside_value else source.position(p.loc)
        located.append(LocatedProblem(pos, p.code, p.message, p.hint, ".".join(str(x) for x in p.loc)))
    return located


_UNION_TAGS = {
    "str": "a text",
    "dict[str,str]": "a mapping of locale to text",
    "list[str]": "a list of names",
    "literal['all']": "`all`",
    "int": "a whole number",
    "bool": "true or false",
}


def _is_tag(part: Any) -> bool:
    """pydantic's union-member and validator tags in an error loc (never a blueprint key: keys are names)."""
    return isinstance(part, str) and (part in _UNION_TAGS or ("[" in part and "]" in part))


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-member and type tags from an error location."""
    return tuple(part for part in loc if not _is_tag(part))


_PHRASES = {
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping of keys",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def _merge_unions(errors: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One error per union field: the branch that got deeper if any, else "must be a text or a mapping ..."."""
    groups: dict[tuple[Any, ...], list[tuple[int, Mapping[str, Any]]]] = {}
    plain: list[Mapping[str, Any]] = []
    for err in errors:
        tags = [i for i, part in enumerate(err["loc"]) if _is_tag(part)]
        if not tags or err["loc"][tags[0]] not in _UNION_TAGS:
            plain.append(err)
            continue
        groups.setdefault(err["loc"][: tags[0]], []).append((tags[0], err))
    merged = list(plain)
    for prefix, members in groups.items():
        deeper = [err for at, err in members if len(err["loc"]) > at + 1]
        if deeper:
            merged.extend(deeper)
            continue
        kinds = " or ".join(dict.fromkeys(_UNION_TAGS[err["loc"][at]] for at, err in members))
        merged.append({"loc": prefix, "type": "wrong_type", "msg": f"must be {kinds}"})
    return merged


_KNOWN_KEYS_CACHE: dict[type, list[str]] = {}


def _model_at(loc: tuple[Any, ...]) -> type | None:
    """The pydantic model class that owns the mapping at `loc` (for did-you-mean hints)."""
    from engines.forms.models import EntitySpec, FieldSpec, FormSpec, PermissionSpec, SectionSpec, ValidationSpec
    from engines.reports import CardSpec, DashboardSpec, DimensionSpec, MeasureSpec, ParameterSpec, ReportSpec
    from engines.workflows import ActionSpec, AutomationSpec, NotificationSpec, WorkflowSpec
    from engines.workflows.workflow_spec import StateSpec, TransitionSpec

    model: Any = Blueprint
    i = 0
    while i < len(loc):
        field = model.model_fields.get(loc[i]) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        ann = {
            "entities": EntitySpec,
            "forms": FormSpec,
            "fields": FieldSpec,
            "permissions": PermissionSpec,
            "layout": SectionSpec,
            "validations": ValidationSpec,
            "workflows": WorkflowSpec,
            "states": StateSpec,
            "transitions": TransitionSpec,
            "automations": AutomationSpec,
            "do": ActionSpec,
            "notifications": NotificationSpec,
            "reports": ReportSpec,
            "dimensions": DimensionSpec,
            "measures": MeasureSpec,
            "parameters": ParameterSpec,
            "dashboards": DashboardSpec,
            "cards": CardSpec,
        }.get(loc[i])
        if ann is None:
            sub = field.annotation
            return sub if isinstance(sub, type) and i == len(loc) - 1 else None
        model = ann
        i += 2  # skip the dict key or list index
    return model


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for err in _merge_unions(error.errors()):
        loc = _clean_loc(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            known = list(getattr(model, "model_fields", {}))
            if str(loc[-1]) in ("True", "False"):  # YAML 1.1 reads a bare on/off/yes/no key as true or false
                problems.append(
                    Problem(
                        loc,
                        "blueprint.unknown_key",
                        f"unknown key `{loc[-1]}`",
                        "YAML reads a bare `on`, `off`, `yes` or `no` as true or false; "
                        "an automation's trigger is written `when:`",
                    )
                )
                continue
            problems.append(
                Problem(loc, "blueprint.unknown_key", f"unknown key `{loc[-1]}`", did_you_mean(str(loc[-1]), known))
            )
        elif kind == "missing":
            problems.append(Problem(loc[:-1], "blueprint.missing_key", f"`{loc[-1]}` is required here"))
        elif kind == "wrong_type" or kind in _PHRASES:
            what = f"`{loc[-1]}`" if loc and isinstance(loc[-1], str) else "this value"
            phrase = err["msg"] if kind == "wrong_type" else _PHRASES[kind]
            problems.append(Problem(loc, "blueprint.wrong_type", f"{what} {phrase}"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(loc, f"blueprint.{kind}", msg))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for p in problems:
        key = (p.loc, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _section_problems(data: dict[str, Any]) -> list[Problem]:
    problems = []
    for name in data:
        if name in UNSUPPORTED_SECTIONS:
            problems.append(
                Problem(
                    (name,), "section.not_supported", f"the `{name}` section is not supported yet; remove it for now"
                )
            )
    return problems


def check_meaning(blueprint: Blueprint) -> tuple[list[Problem], dict[str, Any], Any]:
    """Cross-references and expressions, checked by the engine that owns each section.

    Returns the problems, the compiled decision tables (those that compiled) and the
    compiled flows (None when the flow sections have problems).
    """
    from engines.forms import check_entities_and_forms
    from engines.reports import build_reports
    from engines.rules import build_decision_tables
    from engines.workflows import build_flows

    tables, table_problems = build_decision_tables(blueprint.decision_tables)
    problems = [p.at("decision_tables") for p in table_problems]
    problems += check_entities_and_forms(
        blueprint.entities,
        blueprint.forms,
        set(blueprint.roles),
        decision_tables=set(blueprint.decision_tables),
        locales=SUPPORTED_LOCALES,
        workflows=set(blueprint.workflows),
    )
    flows, flow_problems = build_flows(
        blueprint.workflows,
        blueprint.automations,
        blueprint.notifications,
        blueprint.entities,
        set(blueprint.roles),
        decision_tables=set(blueprint.decision_tables),
        tables=tables,
        locales=SUPPORTED_LOCALES,
    )
    _, report_problems = build_reports(
        blueprint.reports, blueprint.dashboards, blueprint.entities, set(blueprint.roles), locales=SUPPORTED_LOCALES
    )
    from .navigation_checks import check_navigation

    navigation = check_navigation(blueprint)
    return problems + flow_problems + report_problems + navigation, tables, flows


def load_blueprint(path: Path | str) -> LoadedBlueprint:
    """Load and fully check the blueprint at `path` (a file or a directory)."""
    source = load_source(path)
    problems = _section_problems(source.data)
    data = {k: v for k, v in source.data.items() if k not in UNSUPPORTED_SECTIONS}
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as exc:
        structural = _pydantic_problems(exc)
        meaning = meaning_of_what_parsed(data, structural, _pydantic_problems, lambda bp: check_meaning(bp)[0])
        raise BlueprintError(locate(source, problems + structural + meaning)) from None
    meaning, tables, flows = check_meaning(blueprint)
    problems += meaning
    if problems:
        raise BlueprintError(locate(source, problems))
    return LoadedBlueprint(with_report_indexes(with_workflow_labels(blueprint)), source, tables, flows)
