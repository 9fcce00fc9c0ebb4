"""Meaning checks of the entities and forms sections: everything a clinic admin can get wrong.

Structure (keys, value kinds) is pydantic's job; here every cross-reference and
expression is checked, and *all* problems are reported, each at the most precise
path with a did-you-mean hint where one helps. The work is split by concept:
checks_entities (names, title, search, validations), checks_fields (one field),
checks_permissions, checks_forms, checks_expressions (compiling), scope (names).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from engines.rules import Problem

from .checks_common import CheckContext
from .checks_entities import check_entity
from .checks_forms import check_form
from .models import EntitySpec, FormSpec


def check_entities_and_forms(
    entities: Mapping[str, EntitySpec],
    forms: Mapping[str, FormSpec],
    roles: Collection[str],
    decision_tables: Collection[str] = frozenset(),
    *,
    locales: Collection[str] | None = None,
    workflows: Collection[str] = frozenset(),
) -> Iterable[Problem]:
    """Every cross-reference and expression problem, with loc paths from the blueprint root.

    `roles` and `decision_tables` are the names declared elsewhere in the blueprint;
    `locales`, when given, are the locale keys texts may use ({en: ..., zh-CN: ...});
    `workflows` the workflow names a `state` field may name.
    """
    ctx = CheckContext(
        entities,
        frozenset(roles),
        frozenset(decision_tables),
        None if locales is None else frozenset(locales),
        frozenset(workflows),
    )
    problems: list[Problem] = []
    for name, spec in entities.items():
        problems.extend(check_entity(ctx, name, spec))
    for name, form in forms.items():
        problems.extend(check_form(ctx, name, form))
    return problems
