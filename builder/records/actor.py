"""Who is acting: every record operation is done *as* someone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """A signed-in user (or the system itself) with one role and a language.

    `address` is where the request came from, for the audit trail.
    """

    id: int | None
    name: str
    role: str
    locale: str = "en"
    address: str | None = None
    system: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_context(self) -> dict[str, Any]:
        """What expressions see as `user`."""
        return {"id": self.id, "name": self.name, "role": self.role, **self.extra}


SYSTEM = Actor(id=None, name="system", role="system", system=True)
