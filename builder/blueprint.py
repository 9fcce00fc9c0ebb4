"""The whole blueprint: each engine's section models composed into one.

The builder owns only `app` and `roles`; entities and forms belong to the forms
engine, decision tables to the rules engine, workflows, automations and
notifications to the workflows engine, reports and dashboards to the reports engine. Sections whose engine has
not arrived yet are refused with a clear "not supported yet" error, never ignored.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from engines.forms.models import EntitySpec, FormSpec, LocalizedText, Spec
from engines.reports import DashboardSpec, ReportSpec
from engines.rules import DecisionTableSpec
from engines.workflows import AutomationSpec, NotificationSpec, WorkflowSpec

from .locales import LOCALES
from .navigation_spec import HomeSpec, MenuGroupSpec

UNSUPPORTED_SECTIONS: tuple[str, ...] = ()  # sections whose engine has not arrived yet: refused


class AppSpec(Spec):
    """Who the CRM is for: its name, title, languages and clock."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: LocalizedText | None = None
    locales: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    timezone: str = "UTC"
    menu: list[MenuGroupSpec] | None = None  # None: every entity the role may read, then its pages

    @field_validator("locales")
    @classmethod
    def _known_locales(cls, value: list[str]) -> list[str]:
        unknown = [loc for loc in value if loc not in SUPPORTED_LOCALES]
        if unknown:
            raise ValueError(f"unsupported locale {unknown[0]!r}; supported: {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value


SUPPORTED_LOCALES = LOCALES


class RoleSpec(Spec):
    """A role users are given; what it may do is declared per entity."""

    title: LocalizedText | None = None
    description: LocalizedText | None = None
    home: HomeSpec | None = None  # None: its home dashboard's link and today's records (docs/blueprints.md)


class Blueprint(Spec):
    """A clinic's whole CRM description, as the engines' section models."""

    app: AppSpec
    roles: dict[str, RoleSpec] = Field(default_factory=dict)
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    forms: dict[str, FormSpec] = Field(default_factory=dict)
    decision_tables: dict[str, DecisionTableSpec] = Field(default_factory=dict)
    workflows: dict[str, WorkflowSpec] = Field(default_factory=dict)
    automations: dict[str, AutomationSpec] = Field(default_factory=dict)
    notifications: dict[str, NotificationSpec] = Field(default_factory=dict)
    reports: dict[str, ReportSpec] = Field(default_factory=dict)
    dashboards: dict[str, DashboardSpec] = Field(default_factory=dict)

    @property
    def default_locale(self) -> str:
        return self.app.locales[0]


def with_workflow_labels(blueprint: Blueprint) -> Blueprint:
    """State fields take their options and labels from the workflow that drives them.

    The workflow names each state with a label per locale; without this, a page, an
    export or the audit trail would show the field's raw code (`requested`) where the
    workflow's badge says 待确认. Labels the field declares itself still win.
    """
    entities = dict(blueprint.entities)
    for name, entity in blueprint.entities.items():
        fields = dict(entity.fields)
        for field_name, spec in entity.fields.items():
            flow = blueprint.workflows.get(spec.workflow or "") if spec.type == "state" else None
            if flow is None:
                continue
            labels = {state: s.label for state, s in flow.states.items() if s.label is not None}
            fields[field_name] = spec.model_copy(
                update={
                    "options": spec.options or list(flow.states),
                    "option_labels": {**labels, **(spec.option_labels or {})},
                }
            )
        entities[name] = entity.model_copy(update={"fields": fields})
    return blueprint.model_copy(update={"entities": entities})


def report_time_fields(blueprint: Blueprint) -> dict[str, set[str]]:
    """Per entity, its fields that a report buckets by time (`by: month`) or filters by a `date_range`.

    Fields across links (`patient.created_at`) and system columns are left out: only a
    report's own source's fields get an index.
    """
    found: dict[str, set[str]] = {}
    for report in blueprint.reports.values():
        fields = [d.field for d in report.dimensions if d.by is not None]
        fields += [p.field for p in report.parameters.values() if p.type == "date_range"]
        entity = blueprint.entities.get(report.source)
        for name in fields:
            if entity is not None and name in entity.fields:
                found.setdefault(report.source, set()).add(name)
    return found


def with_report_indexes(blueprint: Blueprint) -> Blueprint:
    """Fields a report groups by time or filters by a date range get `index: true`.

    A report over a period reads that period's rows only when the time field is
    indexed (visit.visited_at, appointment.starts_at); bench/reports.py shows the plans.
    """
    wanted = report_time_fields(blueprint)
    if not wanted:
        return blueprint
    entities = dict(blueprint.entities)
    for name, fields in wanted.items():
        entity = entities[name]
        updated = {
            f: spec.model_copy(update={"index": True}) if f in fields and not spec.index else spec
            for f, spec in entity.fields.items()
        }
        entities[name] = entity.model_copy(update={"fields": updated})
    return blueprint.model_copy(update={"entities": entities})
