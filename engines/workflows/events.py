"""Which automations a record event sets off, and what they do.

The record service describes each write as an Event (entity, kind, values before
and after, the fields that changed, the transition made); `match_event` returns
the Firings: automations whose trigger matches and whose `if:` holds, with their
ready actions, or, for `after:` automations, the moment they are due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .automation import Automation, ReadyAction

KINDS = ("created", "updated", "deleted", "transition")


@dataclass(frozen=True)
class Event:
    """One write to a record. `before` is None for created, `after` is None for deleted.

    A transition is an update of the state field made through the workflow: it
    matches `updated`, `changed: [status]`, `transition:`, `enter:` and `leave:`.
    """

    entity: str
    kind: str
    record_id: Any = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    changed: frozenset[str] | None = None  # None: worked out from before and after
    transition: str | None = None
    workflow: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}; use one of {KINDS}")
        if self.changed is None:
            before, after = self.before or {}, self.after or {}
            changed = frozenset(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            object.__setattr__(self, "changed", changed)

    @property
    def values(self) -> Mapping[str, Any]:
        """The record as the actions see it: after the write, or as it was when deleted."""
        return self.after if self.after is not None else (self.before or {})


@dataclass(frozen=True)
class Firing:
    """An automation set off by an event: its actions now, or a timer due at `due` (for `after:`)."""

    automation: str
    record_id: Any
    actions: tuple[ReadyAction, ...] = ()
    due: dt.datetime | None = None


def triggered(automation: Automation, event: Event) -> bool:
    """Does `event` match the automation's `when:`?"""
    on = automation.event
    if on is None or automation.entity != event.entity:
        return False
    updating = event.kind in ("updated", "transition")
    if isinstance(on, str):
        return on == event.kind or (on == "updated" and updating)
    if on.changed is not None:
        return updating and bool(set(on.changed) & set(event.changed or ()))
    if on.transition is not None:
        return (
            event.kind == "transition"
            and event.transition == on.transition
            and event.workflow in (None, automation.workflow)
        )
    field = automation.state_field
    if field is None:
        return False
    before = (event.before or {}).get(field) if event.before is not None else None
    after = (event.after or {}).get(field) if event.after is not None else None
    if on.enter is not None:
        return event.after is not None and after == on.enter and before != on.enter
    return event.before is not None and event.after is not None and before == on.leave and after != on.leave


def match_event(
    automations: Iterable[Automation], event: Event, *, now: dt.datetime, related: Any = None
) -> list[Firing]:
    """The automations `event` sets off, in blueprint order, with `if:` evaluated on the record.

    An automation with `after:` gives a Firing with `due` and no actions: the caller
    stores a timer, and the actions are worked out when it fires (on the record as it is then).
    """
    firings = []
    values = event.values
    for automation in automations:
        if not triggered(automation, event):
            continue
        if automation.after is not None:
            delay = automation.evaluate(automation.after, values, now, related)
            firings.append(Firing(automation.name, event.record_id, due=now + delay))
            continue
        if not automation.holds(values, now, related):
            continue
        firings.append(Firing(automation.name, event.record_id, tuple(automation.ready_actions(values, now, related))))
    return firings
