"""Warnings for names people would see as raw codes: a missing label, or one missing a language.

A blueprint without `label:` on a field or option still works, so these are
warnings, not errors: `crm validate` prints them after "OK". But a Chinese
interface showing `no_show` or `Birth date` is the raw code reaching a person,
so the implementer hears of every such place, with its file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from engines.rules import Problem

from .blueprint import Blueprint

# Which models name something people see, and the attribute that labels it.
_NEEDS_LABEL: dict[str, str] = {
    "EntitySpec": "title",
    "FieldSpec": "label",
    "FormSpec": "title",
    "RoleSpec": "title",
    "StateSpec": "label",
    "TransitionSpec": "label",
    "ReportSpec": "title",
    "MeasureSpec": "label",
    "DashboardSpec": "title",
}
_LABEL_ATTRIBUTES = ("label", "title", "description")


def label_warnings(blueprint: Blueprint) -> list[Problem]:
    """Every missing label, missing language in a label, and option without a label, in blueprint order."""
    locales = list(blueprint.app.locales)
    return list(_walk(blueprint, (), locales))


def _walk(node: Any, loc: tuple[Any, ...], locales: list[str]) -> Iterator[Problem]:
    if isinstance(node, BaseModel):
        yield from _model_warnings(node, loc, locales)
        for name in type(node).model_fields:
            yield from _walk(getattr(node, name), (*loc, name), locales)
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, (*loc, key), locales)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*loc, index), locales)


def _model_warnings(model: BaseModel, loc: tuple[Any, ...], locales: list[str]) -> Iterator[Problem]:
    needed = _NEEDS_LABEL.get(type(model).__name__)
    if needed is not None and getattr(model, needed, None) is None and loc:
        yield Problem(
            loc,
            "label.missing",
            f"`{loc[-1]}` has no `{needed}`: people will see the code `{loc[-1]}`",
            f"add `{needed}: {{{', '.join(f'{lc}: …' for lc in locales)}}}`",
        )
    for attribute in _LABEL_ATTRIBUTES:
        text = getattr(model, attribute, None) if attribute in type(model).model_fields else None
        if isinstance(text, dict):
            yield from _missing_locales(text, (*loc, attribute), locales)
    options = getattr(model, "options", None)
    if isinstance(options, list) and options and "option_labels" in type(model).model_fields:
        labels = getattr(model, "option_labels", None) or {}
        for index, option in enumerate(options):
            label = labels.get(option)
            if label is None:
                yield Problem(
                    (*loc, "options", index),
                    "label.missing_option",
                    f"option `{option}` has no label in `option_labels`: people will see the code `{option}`",
                )
            elif isinstance(label, dict):
                yield from _missing_locales(label, (*loc, "option_labels", option), locales)


def _missing_locales(text: Mapping[str, str], loc: tuple[Any, ...], locales: list[str]) -> Iterator[Problem]:
    missing = [locale for locale in locales if not text.get(locale)]
    if missing:
        message = f"no {', '.join(missing)} text here (the app speaks {', '.join(locales)})"
        yield Problem(loc, "label.missing_locale", message)
