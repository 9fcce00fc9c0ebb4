"""Check the meaning of what parsed when part of a blueprint did not.

A structural mistake (an unknown key, a list where a mapping belongs) used to
stop loading before any cross-reference or expression was checked, so an author
fixed one file, ran `crm validate` again, and met a second round of problems.
Here the broken parts are cut out (the smallest enclosing entity field, or
section item), the rest is validated again and its meaning checked, and meaning
problems that only arise from the cut (a form naming the field that was cut)
are dropped, so every problem reported is a real one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from engines.rules import Problem

from .blueprint import Blueprint

MAX_ROUNDS = 5  # cutting can reveal a new structural error in what is left; give up after a few rounds
_NAMED = re.compile(r"`([^`]+)`")


def _cut_point(loc: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The smallest part to cut for a structural problem at `loc`: a field, a section item, or an app key."""
    if not loc:
        return None
    if loc[0] == "app":
        return loc[:2] if len(loc) >= 2 and loc[1] != "name" else None
    if len(loc) >= 4 and loc[0] == "entities" and loc[2] == "fields":
        return loc[:4]
    if len(loc) >= 2:
        return loc[:2]
    return None


def _remove(data: Any, path: tuple[Any, ...]) -> bool:
    """Delete `path` from nested mappings; False when it is not there."""
    node = data
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and path[-1] in node:
        del node[path[-1]]
        return True
    return False


def _is_under(loc: tuple[Any, ...], cut: tuple[Any, ...]) -> bool:
    return loc[: len(cut)] == cut


def _mentions_cut_name(problem: Problem, cuts: Iterable[tuple[Any, ...]]) -> bool:
    names = set(_NAMED.findall(problem.message))
    return any(str(cut[-1]) in names for cut in cuts)


def meaning_of_what_parsed(
    data: dict[str, Any],
    structural: list[Problem],
    to_problems: Callable[[ValidationError], list[Problem]],
    check_meaning: Callable[[Blueprint], list[Problem]],
) -> list[Problem]:
    """Meaning problems of `data` with its structurally broken parts cut out; [] when nothing sound is left."""
    pruned = copy.deepcopy(data)
    cuts: list[tuple[Any, ...]] = []
    problems = structural
    for _ in range(MAX_ROUNDS):
        points = [_cut_point(p.loc) for p in problems]
        if any(point is None for point in points):
            return []  # a top-level mistake (the app's name, a section of the wrong type): nothing to stand on
        removed = [point for point in dict.fromkeys(points) if point is not None and _remove(pruned, point)]
        if not removed:
            return []
        cuts += removed
        try:
            blueprint = Blueprint.model_validate(pruned)
        except ValidationError as exc:
            problems = to_problems(exc)
            continue
        meaning = check_meaning(blueprint)
        return [p for p in meaning if not any(_is_under(p.loc, c) for c in cuts) and not _mentions_cut_name(p, cuts)]
    return []
