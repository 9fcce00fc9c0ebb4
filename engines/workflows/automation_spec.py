"""The pydantic models of the `automations:` section: triggers and the actions they run.

An automation belongs to one entity and says when it runs (one trigger kind:
a record event `when:`, a date-relative timer `at:`, a delay `after:` an event, a
`schedule:` over the records `for_each` selects, and/or a `manual:` button) and
what it does (`do:` a list of actions, each with its own `if:`). Which trigger
combinations make sense is a meaning check (checks_automations), so an author
gets one precise message rather than a pydantic union dump.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from engines.forms import LocalizedText
from engines.forms.models import Spec

RECORD_EVENTS = ("created", "updated", "deleted")
ACTION_KINDS = ("create", "update", "assign", "notify", "webhook", "transition")


class EventSpec(Spec):
    """A record event other than plain created/updated/deleted: exactly one key is given."""

    changed: list[str] | None = Field(default=None, min_length=1)  # an update that changed one of these fields
    enter: str | None = None  # the record entered this state
    leave: str | None = None  # the record left this state
    transition: str | None = None  # this transition was made
    workflow: str | None = None  # which workflow enter/leave/transition mean (default: the entity's only one)

    @model_validator(mode="after")
    def _one_event(self) -> EventSpec:
        given = [key for key in ("changed", "enter", "leave", "transition") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `changed`, `enter`, `leave` or `transition`")
        return self


Trigger = Literal["created", "updated", "deleted"] | EventSpec


class ManualSpec(Spec):
    """A button on a record (and on selected rows) that runs the automation now."""

    roles: list[str] = Field(min_length=1)
    label: LocalizedText | None = None
    confirm: LocalizedText | None = None


class ActionBody(Spec):
    """What every action shares: an `if:` in the rules language, evaluated on the record."""

    if_: str | None = Field(default=None, alias="if")


class CreateAction(ActionBody):
    """Create a record of `entity` (a follow-up task); `values` are expressions on the triggering record."""

    entity: str
    values: dict[str, Any] = Field(default_factory=dict)


class UpdateAction(ActionBody):
    """Set fields of the record, or of the record a link points at (`record: patient`)."""

    record: str | None = None  # a link field of the record; absent: the record itself
    values: dict[str, Any] = Field(min_length=1)


class AssignAction(ActionBody):
    """Set a link field (the assignee) to an expression (`patient.primary_doctor`)."""

    field: str
    to: str


class NotifyAction(ActionBody):
    """Send a notification template over a channel to a person the record leads to.

    `to` is `record` (the record itself, e.g. a patient) or a path of link fields
    (`patient`, `patient.primary_doctor`); `to_role` notifies every user of a role.
    """

    template: str
    channel: str
    to: str | None = None
    to_role: str | None = None

    @model_validator(mode="after")
    def _one_recipient(self) -> NotifyAction:
        if (self.to is None) == (self.to_role is None):
            raise ValueError("give exactly one of `to` or `to_role`")
        return self


class WebhookAction(ActionBody):
    """POST the record (or `body`) to a URL, signed with HMAC-SHA256 over timestamp and body."""

    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")  # the signing key's variable
    body: dict[str, Any] | None = None  # field -> expression; absent: the record's readable values


class TransitionAction(ActionBody):
    """Make a transition of the record's workflow (`mark_no_show`), as the system."""

    name: str
    workflow: str | None = None


class ActionSpec(Spec):
    """One action: exactly one of its kinds is given."""

    create: CreateAction | None = None
    update: UpdateAction | None = None
    assign: AssignAction | None = None
    notify: NotifyAction | None = None
    webhook: WebhookAction | None = None
    transition: TransitionAction | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ActionSpec:
        given = [kind for kind in ACTION_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"an action is exactly one of: {', '.join(ACTION_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in ACTION_KINDS if getattr(self, kind) is not None)

    @property
    def body(self) -> ActionBody:
        return getattr(self, self.kind)


class AutomationSpec(Spec):
    """When something happens to records of `entity` (or at a moment, or on a schedule), do actions."""

    entity: str
    title: LocalizedText | None = None
    when: Trigger | None = None  # not `on`: YAML 1.1 reads a bare `on` as true
    at: str | None = None  # a moment from the record's values: "starts_at - hours(24)"
    after: str | None = None  # a delay after the `when:` event: "days(3)"
    schedule: str | None = None  # cron, in the app's timezone
    for_each: str | None = None  # which records a schedule runs over (a condition on them)
    grace: str | None = None  # how late a missed timer may still fire ("hours(1)" by default)
    manual: ManualSpec | None = None
    if_: str | None = Field(default=None, alias="if")
    do: list[ActionSpec] = Field(min_length=1)
