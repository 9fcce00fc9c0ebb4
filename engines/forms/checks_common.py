"""What every meaning check shares: the blueprint's names, and the rules for names and texts."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engines.rules import Loc, Problem, did_you_mean

from .models import EntitySpec

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_MAX_LENGTH = 40
# Columns every entity table has (builder/storage/tables.py); a field may not take their name.
SYSTEM_COLUMNS = ("id", "created_at", "created_by", "updated_at", "updated_by", "version")
CHILD_SYSTEM_COLUMNS = ("id", "parent_id", "position")
# Words an expression cannot read as a name.
EXPRESSION_WORDS = frozenset(keyword.kwlist) | {"true", "false", "null", "none"}
SYSTEM_TABLE_PREFIX = "crm_"
IDENTIFIER_LIMIT = 63  # PostgreSQL's, the strictest database we run on


@dataclass(frozen=True)
class CheckContext:
    """The blueprint-wide facts every check needs; built once per check run."""

    entities: Mapping[str, EntitySpec]
    roles: frozenset[str]
    decision_tables: frozenset[str]
    locales: frozenset[str] | None = None  # None: any locale key is accepted
    workflows: frozenset[str] = frozenset()  # the names under `workflows:` (state fields name one)


def check_name(name: str, loc: Loc, what: str, reserved: tuple[str, ...] = ()) -> Iterator[Problem]:
    """An entity, field or form name must be a lower-case identifier usable as a column and in expressions."""
    if not NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        if suggestion and not suggestion[0].isalpha():
            suggestion = "f_" + suggestion
        hint = f"for example `{suggestion}`" if suggestion and NAME.match(suggestion) else None
        yield Problem(
            loc,
            "name.invalid",
            f"`{name}` is not a valid {what} name: use lower-case letters, digits and _ and start with a letter",
            hint,
        )
        return
    if "__" in name:
        yield Problem(
            loc,
            "name.double_underscore",
            f"{what} name `{name}` may not contain `__`",
            "`__` is reserved for generated names (child tables, hash columns)",
        )
    if len(name) > NAME_MAX_LENGTH:
        yield Problem(loc, "name.too_long", f"{what} name `{name}` is longer than {NAME_MAX_LENGTH} characters")
    if name in reserved:
        yield Problem(
            loc,
            "name.reserved",
            f"`{name}` is a system column; choose another {what} name",
            f"reserved names: {', '.join(reserved)}",
        )
    elif name in EXPRESSION_WORDS:
        yield Problem(
            loc, "name.reserved", f"`{name}` is a word of the expression language; choose another {what} name"
        )


def check_localized(text: Any, loc: Loc, locales: frozenset[str] | None) -> Iterator[Problem]:
    """A `{locale: text}` mapping must use known locales and say something."""
    if isinstance(text, str):
        if not text.strip():
            yield Problem(loc, "text.empty", "the text is empty")
        return
    if not isinstance(text, dict):
        return
    if not text:
        yield Problem(loc, "text.empty", "give the text in at least one locale")
    for locale, value in text.items():
        if locales is not None and locale not in locales:
            yield Problem(
                loc + (locale,),
                "text.unknown_locale",
                f"unknown locale `{locale}`",
                did_you_mean(locale, sorted(locales)) or f"use one of: {', '.join(sorted(locales))}",
            )
        elif not str(value).strip():
            yield Problem(loc + (locale,), "text.empty", f"the `{locale}` text is empty")


_PLURALS = {"entity": "entities"}


def unknown(
    kind: str, name: str, candidates: Any, loc: Loc, code: str, where: str = "", message: str | None = None
) -> Problem:
    """An unknown-name problem with a did-you-mean hint (or the list when it is short)."""
    names = sorted(candidates)
    hint = did_you_mean(name, names)
    if hint is None and 0 < len(names) <= 8:
        hint = f"known {_PLURALS.get(kind, kind + 's')}: {', '.join(names)}"
    return Problem(loc, code, message or f"unknown {kind} `{name}`{where}", hint)
