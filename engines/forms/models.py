"""The pydantic models of the `entities` and `forms` blueprint sections.

Forms owns the entity models: workflows and reports read them, the builder turns
them into tables and records. Every model forbids unknown keys, so a typo in a
blueprint is an error rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engines.rules import ExampleSpec

# A label in several locales ({en: Name, zh-CN: 姓名}) or one plain string for all.
LocalizedText = str | dict[str, str]


def localized(text: LocalizedText | None, locale: str, fallback: str = "") -> str:
    """Pick `text` for `locale`, falling back to English, then to any locale."""
    if text is None:
        return fallback
    if isinstance(text, str):
        return text
    for key in (locale, locale.split("-")[0], "en"):
        if key in text:
            return text[key]
    return next(iter(text.values()), fallback)


class Spec(BaseModel):
    """Base of every blueprint model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldSpec(Spec):
    """One field of an entity (or of a child table).

    Options that only some types understand (options, to, fields, precision...) are
    checked by the field type itself (see fieldtypes/), so the registry stays the one
    place that knows a type.
    """

    type: str
    label: LocalizedText | None = None
    help: LocalizedText | None = None
    required: bool = False
    unique: bool = False
    default: Any = None  # an expression string, or a literal value
    min: Any = None  # number, or an expression string for dates ("today()")
    max: Any = None
    max_length: int | None = Field(default=None, gt=0)
    compute: str | None = None
    visible_if: str | None = None
    required_if: str | None = None  # required (besides `required`) while this expression is true
    readonly_if: str | None = None  # a change is refused while this expression is true
    sensitive: bool = False
    phi: bool = False
    encrypted: bool = False
    searchable: bool = False
    last4_search: bool = False  # encrypted phone: keyed hash of its last 4 digits for q (opt-in, docs/security.md)
    index: bool = False  # a database index on the column (set too for reports' time fields, see builder/blueprint.py)
    renamed_from: str | None = None
    # type-specific options
    options: list[str] | None = None
    option_labels: dict[str, LocalizedText] | None = None
    to: str | None = None
    filter: str | None = None  # link: which targets may be chosen (a row-filter-like expression, docs/blueprints.md)
    fields: dict[str, FieldSpec] | None = None
    max_rows: int | None = Field(default=None, gt=0, le=10_000)  # table: most child rows per record
    precision: int | None = Field(default=None, gt=0, le=38)
    scale: int | None = Field(default=None, ge=0, le=18)
    unit: str | None = None
    workflow: str | None = None
    region: str | None = None  # phone: ISO 3166 region whose numbers are accepted (default CN)
    examples: list[ExampleSpec] = Field(default_factory=list)  # for `compute`: given values -> expected value


class ValidationSpec(Spec):
    """A record-level rule: the record is invalid when `rule` is false."""

    rule: str
    message: LocalizedText
    fields: list[str] | None = None  # which fields the message belongs beside
    examples: list[ExampleSpec] = Field(default_factory=list)  # given values -> expect pass/fail


FieldList = Literal["all"] | list[str]


class PermissionSpec(Spec):
    """What one role may do with one entity (least privilege: absent means no)."""

    read: FieldList | None = None
    write: FieldList | None = None
    create: bool = False
    delete: bool = False
    export: bool = False
    report: bool = False
    where: str | None = None
    full_access: bool | None = None  # sees sensitive values unmasked; default: admin only


class TasksSpec(Spec):
    """Records of an entity are tasks on "My tasks" while their workflow state is one of `states`.

    `assignee` is a `user` field or a link to a staff-like entity (one with a `user`
    field): a record assigned to someone is that person's task; an unassigned one is a
    task for every role that may make a transition from its state. `false` says there
    is no assignee (approvals: the roles that may move the record). Absent keys are
    inferred (see `tasks.resolve_tasks`).
    """

    assignee: str | Literal[False] | None = None
    due: str | None = None  # a date or datetime field: overdue tasks come first, then by this
    states: list[str] | None = None  # workflow states in which a record is a task; default: the non-final ones


class RelatedChartSpec(Spec):
    """A small trend drawn beside a related list: `y` fields over `x` (readings over time)."""

    type: Literal["line"] = "line"
    x: str
    y: list[str] = Field(min_length=1, max_length=4)


class RelatedSpec(Spec):
    """Records of another entity that link to this one, shown on this one's page (a patient's visits).

    `link` names the field of `entity` that points here; it may be left out when there is one.
    """

    entity: str
    link: str | None = None
    title: LocalizedText | None = None
    columns: list[str] | None = None  # default: the related list's first short fields
    sort: str | None = None  # `-taken_at`; default: newest first by its first date or time field
    limit: int = Field(default=5, ge=1, le=50)
    chart: RelatedChartSpec | list[RelatedChartSpec] | None = None  # one trend, or several (different scales)

    @property
    def charts(self) -> list[RelatedChartSpec]:
        return [] if self.chart is None else self.chart if isinstance(self.chart, list) else [self.chart]


class ViewSpec(Spec):
    """One way to look at an entity's records (docs/blueprints.md, Views).

    The kind comes from `type`, or from the view's name: `calendar` and `kanban` are
    those kinds, any other name (`list`, `today`) is a list view. A list view takes
    columns/sort/page_size/filters; a calendar start/minutes/group_by; a kanban
    by/card. Keys of another kind are meaning errors (checks_views.py).
    """

    type: Literal["list", "calendar", "kanban"] | None = None
    title: LocalizedText | None = None
    # list
    columns: list[str] | None = None
    sort: str | None = None  # a field, `-field` for descending
    page_size: int | None = Field(default=None, ge=1, le=200)
    filters: list[str] | None = None  # quick filters, rendered by the field's type
    # calendar
    start: str | None = None  # a datetime field
    minutes: str | None = None  # an integer field: the length
    group_by: str | None = None  # a link or select field: a column per value
    # kanban
    by: str | None = None  # a select or state field: a column per option
    card: list[str] | None = None  # the card's second line (fields); default: the entity's subtitle

    def kind(self, name: str) -> str:
        return self.type or (name if name in ("calendar", "kanban") else "list")


class EntitySpec(Spec):
    """One kind of record: a table, its screens and its rules."""

    title: LocalizedText | None = None
    title_field: str | None = None
    search: list[str] = Field(default_factory=list)
    subtitle: list[str] | None = None  # a link picker's second line; None: chosen from the fields
    renamed_from: str | None = None
    fields: dict[str, FieldSpec]
    validations: list[ValidationSpec] = Field(default_factory=list)
    permissions: dict[str, PermissionSpec] = Field(default_factory=dict)
    tasks: TasksSpec | None = None  # its records appear on "My tasks" (see docs/workflows.md)
    related: list[RelatedSpec] | None = None  # None: every entity linking here (docs/blueprints.md)
    views: dict[str, ViewSpec] = Field(default_factory=dict)  # list, calendar, kanban views (docs/blueprints.md)

    @field_validator("fields")
    @classmethod
    def _not_empty(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        if not value:
            raise ValueError("an entity needs at least one field")
        return value


class SectionSpec(Spec):
    """A titled group of fields on a form."""

    section: LocalizedText
    columns: int = Field(default=1, ge=1, le=4)
    fields: list[str]
    visible_if: str | None = None
    required_if: str | None = None  # every field of the section is required while this holds
    readonly_if: str | None = None  # no field of the section may change while this holds


DURATION = r"^[1-9][0-9]{0,4}[mhd]$"  # 30m, 12h, 7d


class PublicSpec(Spec):
    """A form published as a public link that patients fill without signing in (docs/public-forms.md).

    `patient`: each link is a signed token bound to one record of the `bind` link's target
    (the patient), which the created record is linked to; `clinic`: one plain link for
    everyone (a new-patient intake), optionally held for staff `review`. The public
    actor may create exactly one record of the form's entity with exactly `fields`.
    """

    mode: Literal["patient", "clinic"]
    bind: str | None = None  # patient mode: the link field the token sets
    fields: list[str] | None = None  # default: the layout's fields that are not computed
    expires: str = Field(default="7d", pattern=DURATION)  # a token's lifetime
    reuse: bool = False  # patient mode: the link may be used again until it expires (readings)
    review: bool = False  # clinic mode: submissions wait for staff to accept them
    review_roles: list[str] | None = None  # default: the roles that may create the entity
    send_roles: list[str] | None = None  # who may make links; default: the roles that may create the entity
    greeting: str | None = None  # patient mode: a field of the bound record to greet by ("Hello, Fang")
    intro: LocalizedText | None = None
    thanks: LocalizedText | None = None


class FormSpec(Spec):
    """A screen for editing one entity; entities without one get a default form."""

    entity: str
    title: LocalizedText | None = None
    layout: list[SectionSpec]
    public: PublicSpec | None = None


FieldSpec.model_rebuild()
