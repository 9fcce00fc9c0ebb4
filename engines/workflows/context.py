"""What the workflow checks and the compiled flows share: the blueprint's names and one compiler.

Expressions of workflows and automations are compiled against the same entity
scope the record service evaluates in (engines.forms.entity_scope), with one
refinement: a `state` field driven by a workflow is a choice of that workflow's
states, so `status == 'confirmd'` is caught when the blueprint loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.forms import EntitySpec, compile_checked, entity_scope
from engines.rules import Expression, Loc, Problem, Scope, choice, compile_expression, did_you_mean

from .automation_spec import AutomationSpec
from .notification_spec import NotificationSpec
from .workflow_spec import WorkflowSpec


@dataclass
class FlowContext:
    """The blueprint-wide facts the checks need, and the decision tables runtime expressions use."""

    entities: Mapping[str, EntitySpec]
    roles: frozenset[str]
    workflows: Mapping[str, WorkflowSpec] = field(default_factory=dict)
    automations: Mapping[str, AutomationSpec] = field(default_factory=dict)
    notifications: Mapping[str, NotificationSpec] = field(default_factory=dict)
    decision_tables: frozenset[str] = frozenset()
    tables: Mapping[str, Any] | None = None  # compiled DecisionTables, for evaluating decide()
    locales: frozenset[str] | None = None
    _scopes: dict[tuple[str, bool], Scope] = field(default_factory=dict, repr=False)

    def state_fields(self, entity: str) -> dict[str, str]:
        """The entity's `state` fields that name a defined workflow: field -> workflow."""
        spec = self.entities.get(entity)
        if spec is None:
            return {}
        return {
            name: f.workflow
            for name, f in spec.fields.items()
            if f.type == "state" and f.workflow is not None and f.workflow in self.workflows
        }

    def scope(self, entity: str, *, user: bool = False) -> Scope:
        """The entity's scope with its workflow-driven state fields typed as their states."""
        key = (entity, user)
        if key not in self._scopes:
            base = entity_scope(self.entities, entity, user=user, roles=sorted(self.roles) if user else None)
            states = {name: choice(*self.workflows[flow].states) for name, flow in self.state_fields(entity).items()}
            self._scopes[key] = base.with_fields(states) if states else base
        return self._scopes[key]

    def compile(self, source: Any, scope: Scope, loc: Loc) -> tuple[Expression | None, list[Problem]]:
        """Check `source` (problems at `loc`) and, when it is right, compile it for running."""
        checked, problems = compile_checked(source, scope, loc, self.decision_tables)
        if checked is None or problems:
            return None, problems
        if "decide" not in checked.functions or self.tables is None:
            return checked, []  # checking only: decide() is the checker's stand-in
        return compile_expression(source, scope=scope, tables=self.tables), []


def unknown_name(kind: str, name: str, candidates: Any, loc: Loc, code: str) -> Problem:
    """An unknown-name problem with a did-you-mean hint, or the known names when they are few."""
    names = sorted(candidates)
    hint = did_you_mean(name, names)
    if hint is None and 0 < len(names) <= 8:
        hint = f"known: {', '.join(names)}"
    return Problem(loc, code, f"unknown {kind} `{name}`", hint)
