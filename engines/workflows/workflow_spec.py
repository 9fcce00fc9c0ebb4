"""The pydantic models of the `workflows:` section: state machines over a `state` field.

A workflow names its entity; the entity's `state` field names the workflow back
(`status: {type: state, workflow: appointment_flow}`), so the field stays the one
place a record's state lives. States and transitions are mappings keyed by name,
like entities and fields, so a split blueprint can say where each one is and a
name written twice is an error of the source, not a silent overwrite.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from engines.forms import LocalizedText
from engines.forms.models import Spec

# A few named colours the pages know, or an explicit #rrggbb.
COLOURS = ("gray", "blue", "green", "amber", "red", "purple", "teal", "orange")
COLOUR_PATTERN = r"^(gray|blue|green|amber|red|purple|teal|orange|#[0-9a-fA-F]{6})$"


class StateSpec(Spec):
    """One state: its label per locale, its colour on pages and diagrams, and whether it ends the flow."""

    label: LocalizedText | None = None
    color: str = Field(default="gray", pattern=COLOUR_PATTERN)
    final: bool = False


class TransitionSpec(Spec):
    """A named move between states, made by a button or the API.

    `roles` absent means the roles that may write the state field; `roles: []`
    means only automations make it. `if` is a guard in the rules language;
    `requires` lists fields that must be filled before the move.
    """

    from_: str | list[str] = Field(alias="from")
    to: str
    roles: list[str] | None = None
    if_: str | None = Field(default=None, alias="if")
    requires: list[str] = Field(default_factory=list)
    label: LocalizedText | None = None
    confirm: LocalizedText | None = None  # a question the page asks before the move
    comment: bool = False  # the page asks for a comment, kept in the history

    @property
    def sources(self) -> list[str]:
        """The states this transition leaves (`from` as a list)."""
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)

    @field_validator("from_")
    @classmethod
    def _some_source(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("`from` needs at least one state")
        return value


class WorkflowSpec(Spec):
    """A state machine over one entity's `state` field."""

    entity: str
    title: LocalizedText | None = None
    initial: str
    states: dict[str, StateSpec]
    transitions: dict[str, TransitionSpec] = Field(default_factory=dict)

    @field_validator("states")
    @classmethod
    def _not_empty(cls, value: dict[str, StateSpec]) -> dict[str, StateSpec]:
        if not value:
            raise ValueError("a workflow needs at least one state")
        return value
