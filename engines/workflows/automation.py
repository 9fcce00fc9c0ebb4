"""Automations compiled for running: each expression compiled once, each action ready to evaluate.

Evaluation is pure: values come from the record the caller passes, the clock is an
argument, and a failing expression raises FlowError naming the automation, so the
record service can roll the whole write back and tell the user why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.rules import Expression, RuleError

from .automation_spec import ActionSpec, AutomationSpec, EventSpec

DEFAULT_GRACE = dt.timedelta(hours=1)


class FlowError(Exception):
    """An automation's expression failed on real data (the write that set it off must roll back)."""

    def __init__(self, automation: str, message: str):
        super().__init__(f"automation `{automation}`: {message}")
        self.automation = automation


@dataclass
class CompiledAction:
    """One action with its condition and value expressions compiled (literals kept as they are)."""

    index: int
    spec: ActionSpec
    condition: Expression | None = None
    values: dict[str, Any] = field(default_factory=dict)  # field -> Expression or literal

    @property
    def kind(self) -> str:
        return self.spec.kind


@dataclass(frozen=True)
class ReadyAction:
    """An action whose `if:` held, with its values evaluated on the record: what the caller performs."""

    automation: str
    index: int
    kind: str
    spec: ActionSpec
    values: dict[str, Any]


@dataclass
class Automation:
    """A compiled automation of one entity."""

    name: str
    spec: AutomationSpec
    condition: Expression | None = None
    at: Expression | None = None
    after: Expression | None = None
    for_each: Expression | None = None
    grace: dt.timedelta = DEFAULT_GRACE
    workflow: str | None = None  # the workflow enter/leave/transition events mean
    state_field: str | None = None
    actions: list[CompiledAction] = field(default_factory=list)

    @property
    def entity(self) -> str:
        return self.spec.entity

    @property
    def event(self) -> str | EventSpec | None:
        return self.spec.when

    def evaluate(self, expression: Expression, values: Mapping[str, Any], now: dt.datetime, related: Any = None) -> Any:
        """Run one of this automation's expressions; FlowError when it fails.

        `now` is aware and in the app's timezone: today() is its date there.
        """
        try:
            return expression.evaluate(values, related=related, now=now, timezone=now.tzinfo)
        except RuleError as exc:
            raise FlowError(self.name, str(exc)) from None

    def allows_manual(self, roles: Collection[str]) -> bool:
        """May an actor with `roles` run this automation now from its button?"""
        return self.spec.manual is not None and bool(set(self.spec.manual.roles) & set(roles))

    def holds(self, values: Mapping[str, Any], now: dt.datetime, related: Any = None) -> bool:
        """The automation's own `if:` (true when there is none)."""
        return self.condition is None or bool(self.evaluate(self.condition, values, now, related))

    def selects(self, values: Mapping[str, Any], now: dt.datetime, related: Any = None) -> bool:
        """Is this record one a scheduled run acts on (`for_each`, then `if:`)?"""
        if self.for_each is not None and not self.evaluate(self.for_each, values, now, related):
            return False
        return self.holds(values, now, related)

    def ready_actions(self, values: Mapping[str, Any], now: dt.datetime, related: Any = None) -> list[ReadyAction]:
        """The actions whose `if:` holds on `values`, with their values evaluated."""
        ready = []
        for action in self.actions:
            if action.condition is not None and not self.evaluate(action.condition, values, now, related):
                continue
            evaluated = {
                name: self.evaluate(value, values, now, related) if isinstance(value, Expression) else value
                for name, value in action.values.items()
            }
            ready.append(ReadyAction(self.name, action.index, action.kind, action.spec, evaluated))
        return ready
