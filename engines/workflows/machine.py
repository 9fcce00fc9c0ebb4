"""A workflow as a pure state machine: may this actor make this transition on this record, now?

No I/O: the caller passes the record's values, the actor's roles and the clock,
and gets a Decision: allowed, or refused with a stable code and a reason; when
allowed, the new state and the history entry to write. The record service (not
this module) applies it, in the same transaction as the automations it sets off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.forms import EntitySpec, field_type, localized
from engines.rules import Expression, RuleError

from .workflow_spec import TransitionSpec, WorkflowSpec

REFUSALS = ("unknown_transition", "role", "wrong_state", "required", "guard", "guard_error")


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a record's workflow history."""

    workflow: str
    transition: str
    from_state: str
    to_state: str
    actor: Any  # the user's id, or None for the system (automations, timers)
    at: dt.datetime
    comment: str | None = None


@dataclass(frozen=True)
class Decision:
    """The answer for one transition: allowed with its history entry, or refused with a code and reason."""

    transition: str
    allowed: bool
    code: str | None = None  # one of REFUSALS when refused
    reason: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    missing: tuple[str, ...] = ()  # the `requires` fields still empty
    entry: HistoryEntry | None = None


@dataclass
class StateMachine:
    """A compiled workflow: its spec, the field it drives, its guards and who may make each move."""

    name: str
    spec: WorkflowSpec
    entity: EntitySpec
    state_field: str
    guards: dict[str, Expression] = field(default_factory=dict)
    roles: dict[str, frozenset[str]] = field(default_factory=dict)  # transition -> roles allowed

    def current(self, values: Mapping[str, Any]) -> str:
        """The record's state (a record without one is in the initial state)."""
        return values.get(self.state_field) or self.spec.initial

    def decide(
        self,
        values: Mapping[str, Any],
        roles: Collection[str],
        transition: str,
        *,
        now: dt.datetime,
        actor: Any = None,
        comment: str | None = None,
        system: bool = False,
        related: Any = None,
    ) -> Decision:
        """Whether `transition` may be made on a record with `values` by an actor with `roles`.

        `system=True` is an automation or timer acting: roles are not asked, the rest is.
        `related` is the rules engine's RelatedRecords port for guards that count or look up;
        `now` is aware and in the app's timezone (a guard's today() is its date there).
        """
        spec = self.spec.transitions.get(transition)
        if spec is None:
            return Decision(
                transition, False, "unknown_transition", f"workflow `{self.name}` has no transition `{transition}`"
            )
        state = self.current(values)

        def refuse(code: str, reason: str, missing: tuple[str, ...] = ()) -> Decision:
            return Decision(transition, False, code, reason, state, spec.to, missing)

        if not system and not (self.roles.get(transition, frozenset()) & set(roles)):
            return refuse("role", "your role may not make this transition")
        if state not in spec.sources:
            return refuse(
                "wrong_state", f"the record is `{state}`; `{transition}` starts from {', '.join(spec.sources)}"
            )
        missing = tuple(name for name in spec.requires if self._empty(name, values.get(name)))
        if missing:
            return refuse("required", f"fill in {', '.join(missing)} first", missing)
        guard = self.guards.get(transition)
        if guard is not None:
            try:
                passed = guard.evaluate(values, related=related, now=now, timezone=now.tzinfo)
            except RuleError as exc:
                return refuse("guard_error", f"the condition could not be checked: {exc}")
            if not passed:
                return refuse("guard", f"the condition `{guard.source}` is not met")
        entry = HistoryEntry(self.name, transition, state, spec.to, None if system else actor, now, comment)
        return Decision(transition, True, from_state=state, to_state=spec.to, entry=entry)

    def available(
        self, values: Mapping[str, Any], roles: Collection[str], *, now: dt.datetime, related: Any = None
    ) -> list[Decision]:
        """The transitions to show as buttons: those leaving the current state that the roles may make.

        Each comes with its Decision, so a page can show a disabled button with the reason
        (a required field still empty, a condition not met).
        """
        state = self.current(values)
        shown = [
            name
            for name, t in self.spec.transitions.items()
            if state in t.sources and self.roles.get(name, frozenset()) & set(roles)
        ]
        return [self.decide(values, roles, name, now=now, related=related) for name in shown]

    def label(self, transition_or_state: str, locale: str) -> str:
        """The label of a transition or a state in `locale` (its name when none is given)."""
        item: TransitionSpec | Any = self.spec.transitions.get(transition_or_state) or self.spec.states.get(
            transition_or_state
        )
        return localized(getattr(item, "label", None), locale, transition_or_state.replace("_", " "))

    def _empty(self, name: str, value: Any) -> bool:
        spec = self.entity.fields.get(name)
        if spec is None:
            return value in (None, "", [])
        return field_type(spec.type).is_empty(value)
