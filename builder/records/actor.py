"""Who is acting: every record operation is done *as* someone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """A signed-in user (or the system itself) with one role and a language.

    `address` is where the request came from, for the audit trail. `sets_off` False is
    for writing history as it was (seeding demo data): its writes plan the records'
    timers but set off no event automations (a seeded completed visit opens no new
    follow-ups).

    `grants`, when set, are the actor's whole rights ({entity: Grant}), instead of its
    role's in the blueprint: a public form's actor may do exactly what the form maps.
    """

    id: int | None
    name: str
    role: str
    locale: str = "en"
    address: str | None = None
    system: bool = False
    sets_off: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    grants: Any = field(default=None, compare=False)  # Mapping[str, policy.Grant] | None

    def as_context(self) -> dict[str, Any]:
        """What expressions see as `user`."""
        return {"id": self.id, "name": self.name, "role": self.role, **self.extra}


SYSTEM = Actor(id=None, name="system", role="system", system=True)
SEEDING = Actor(id=None, name="system", role="system", system=True, sets_off=False)
