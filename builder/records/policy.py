"""What one role may do with one entity, derived once from the blueprint.

Least privilege: a role with no grant sees nothing; fields not in its read list are
absent (not just hidden) from every output, search and filter; sensitive fields are
masked unless the role has full access.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engines.forms import EntitySpec, PermissionSpec

from .actor import Actor
from .errors import PermissionDenied

ACTIONS = ("read", "create", "write", "delete", "export")


@dataclass(frozen=True)
class Grant:
    """One role's rights on one entity, with field lists already resolved."""

    readable: frozenset[str]
    writable: frozenset[str]
    create: bool
    delete: bool
    export: bool
    report: bool
    where: str | None
    full_access: bool

    def allows(self, action: str) -> bool:
        if action == "read":
            return bool(self.readable)
        if action == "write":
            return bool(self.writable)
        return bool(getattr(self, action, False))


NO_GRANT = Grant(frozenset(), frozenset(), False, False, False, False, None, False)


def _fields(value, all_fields: list[str]) -> frozenset[str]:
    if value is None:
        return frozenset()
    if value == "all":
        return frozenset(all_fields)
    return frozenset(value)


def grant_for(spec: PermissionSpec | None, entity: EntitySpec) -> Grant:
    """Resolve a permission block against the entity's fields."""
    if spec is None:
        return NO_GRANT
    all_fields = list(entity.fields)
    readable = _fields(spec.read, all_fields)
    writable = _fields(spec.write, all_fields)
    if spec.create and not writable and spec.read is not None:
        writable = readable
    full = spec.full_access if spec.full_access is not None else (spec.read == "all" and spec.write == "all")
    return Grant(readable | writable, writable, spec.create, spec.delete, spec.export, spec.report, spec.where, full)


@dataclass
class Policy:
    """Grants for every (role, entity) pair of a blueprint."""

    grants: dict[tuple[str, str], Grant] = field(default_factory=dict)
    all_fields: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_entities(cls, entities: dict[str, EntitySpec]) -> Policy:
        policy = cls()
        for name, entity in entities.items():
            policy.all_fields[name] = frozenset(entity.fields)
            for role, spec in entity.permissions.items():
                policy.grants[(role, name)] = grant_for(spec, entity)
        return policy

    def grant(self, actor: Actor, entity: str) -> Grant:
        if actor.system:
            fields = self.all_fields[entity]
            return Grant(fields, fields, True, True, True, True, None, True)
        if actor.grants is not None:  # rights of its own (a public form's actor): nothing of any role's
            return actor.grants.get(entity, NO_GRANT)
        return self.grants.get((actor.role, entity), NO_GRANT)

    def require(self, actor: Actor, entity: str, action: str) -> Grant:
        """The actor's grant, or PermissionDenied when it does not allow `action`."""
        grant = self.grant(actor, entity)
        if not grant.allows(action):
            raise PermissionDenied(f"role `{actor.role}` may not {action} {entity} records")
        return grant
