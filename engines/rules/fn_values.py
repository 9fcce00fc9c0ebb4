"""Text, number and null-handling functions.

Each one checks what it is given and raises RuleError (never TypeError) on a wrong
kind of value; results stay within the size limits.
"""

from __future__ import annotations

import builtins
from decimal import Decimal
from typing import Any

from .errors import RuleError
from .functions import register_function
from .limits import check_size

_NUMBER = (int, float, Decimal)


def _text(value: Any, fn: str) -> str:
    if not isinstance(value, str):
        raise RuleError(f"{fn}() needs a text, got {value!r}")
    return value


def _number(value: Any, fn: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise RuleError(f"{fn}() needs a number, got {value!r}")
    return value


@register_function(params=("text",), returns="text", example="lower(email) == 'a@b.org'")
def lower(text: str) -> str:
    """The text in lower case (for case-insensitive comparisons)."""
    return _text(text, "lower").lower()


@register_function(params=("text",), returns="text", example="upper(country) == 'DE'")
def upper(text: str) -> str:
    """The text in upper case."""
    return check_size(_text(text, "upper").upper())


@register_function(params=("text",), returns="text", example="trim(name) != ''")
def trim(text: str) -> str:
    """The text without leading and trailing spaces."""
    return _text(text, "trim").strip()


@register_function(params=(("text", "list"), "any"), returns="boolean", example="contains(notes, 'allergy')")
def contains(haystack: Any, needle: Any) -> bool:
    """Whether a text contains a part (case-sensitive), or a list contains an item."""
    if isinstance(haystack, str):
        return _text(needle, "contains") in haystack
    if isinstance(haystack, (list, tuple)):
        return needle in haystack
    raise RuleError(f"contains() needs a text or a list, got {haystack!r}")


@register_function(params=("text", "text"), returns="boolean", example="startswith(phone, '+49')")
def startswith(text: str, prefix: str) -> bool:
    """Whether the text starts with `prefix`."""
    return _text(text, "startswith").startswith(_text(prefix, "startswith"))


@register_function(name="len", params=(("text", "list"),), returns="integer", example="len(phone) >= 6")
def length(value: Any) -> int:
    """The number of characters of a text or items of a list."""
    if isinstance(value, (str, list, tuple)):
        return builtins.len(value)
    raise RuleError(f"len() needs a text or a list, got {value!r}")


@register_function(
    name="round", params=("number", "integer"), returns="number", example="round(weight / height ** 2, 1)"
)
def round_number(value: Any, digits: int = 0) -> Any:
    """The number rounded to `digits` decimals (half to even, like banks)."""
    _number(value, "round")
    if isinstance(digits, bool) or not isinstance(digits, int) or not -20 <= digits <= 20:
        raise RuleError(f"round() needs 0 to 20 digits, got {digits!r}")
    result = builtins.round(value, digits)
    return int(result) if digits == 0 and not isinstance(value, Decimal) else result


@register_function(name="abs", params=("number",), returns="number", example="abs(balance) < 0.01")
def absolute(value: Any) -> Any:
    """The number without its sign."""
    return builtins.abs(_number(value, "abs"))


def _extreme(pick: Any, name: str, values: tuple[Any, ...]) -> Any:
    if not values:
        raise RuleError(f"{name}() needs at least one value")
    items = values[0] if builtins.len(values) == 1 and isinstance(values[0], (list, tuple)) else values
    if not items or any(v is None for v in items):
        return None
    try:
        return pick(items)
    except TypeError as exc:
        raise RuleError(f"{name}() cannot compare {list(items)!r}") from exc


@register_function(name="min", params=("any",), example="min(dose, 40)")
def minimum(*values: Any) -> Any:
    """The smallest of the values (or of one list); null if any is null."""
    return _extreme(builtins.min, "min", values)


@register_function(name="max", params=("any",), example="max(0, balance)")
def maximum(*values: Any) -> Any:
    """The largest of the values (or of one list); null if any is null."""
    return _extreme(builtins.max, "max", values)


@register_function(null_safe=False, example="coalesce(nickname, first_name)")
def coalesce(*values: Any) -> Any:
    """The first value that is not null (null if all are)."""
    for value in values:
        if value is not None:
            return value
    return None


@register_function(null_safe=False, returns="boolean", example="is_empty(phone) and is_empty(email)")
def is_empty(value: Any) -> bool:
    """Whether a value is null, a blank text or an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return builtins.len(value) == 0
    return False
