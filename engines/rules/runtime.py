"""The operations compiled expressions call at run time, with the null semantics.

Null rules (docs/rules.md has the table): reading through null gives null;
arithmetic with null gives null; ordering comparisons with null are false; `==`
and `!=` compare null like any value. Type mismatches raise RuleError, never
TypeError, and text/list results are bounded in size.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .errors import RuleError
from .limits import MAX_SIZE, check_power


def describe(value: Any) -> str:
    """A short name of a value's kind for error messages."""
    from .scope import type_of_value

    return type_of_value(value)


def attr(value: Any, key: str) -> Any:
    """`value.key` on a record (a Mapping); null-safe; anything else is a RuleError."""
    if value is None:
        return None
    if type(value) is dict or isinstance(value, Mapping):
        return value.get(key)
    raise RuleError(f"cannot read `{key}` from a {describe(value)} (only records have fields)")


def attrs(value: Any, keys: tuple[str, ...]) -> Any:
    """`value.a.b.c`, stopping at the first null."""
    for key in keys:
        if value is None:
            return None
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(key)
        else:
            raise RuleError(f"cannot read `{key}` from a {describe(value)} (only records have fields)")
    return value


def align(a: Any, b: Any) -> tuple[Any, Any]:
    """Make dates, datetimes and numbers comparable: a date is midnight; a naive time takes the other's zone."""
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        if isinstance(a, dt.datetime) and not isinstance(b, dt.datetime):
            b = dt.datetime(b.year, b.month, b.day, tzinfo=a.tzinfo)
        elif isinstance(b, dt.datetime) and not isinstance(a, dt.datetime):
            a = dt.datetime(a.year, a.month, a.day, tzinfo=b.tzinfo)
        elif isinstance(a, dt.datetime) and isinstance(b, dt.datetime) and (a.tzinfo is None) != (b.tzinfo is None):
            if a.tzinfo is None:
                a = a.replace(tzinfo=b.tzinfo)
            else:
                b = b.replace(tzinfo=a.tzinfo)
    elif isinstance(a, Decimal) and isinstance(b, float):
        b = Decimal(repr(b))
    elif isinstance(b, Decimal) and isinstance(a, float):
        a = Decimal(repr(a))
    return a, b


def _ordering(op: Callable[[Any, Any], bool], symbol: str) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        try:
            return op(a, b)
        except TypeError:
            pass
        x, y = align(a, b)
        try:
            return op(x, y)
        except TypeError:
            raise RuleError(f"cannot compare a {describe(a)} with a {describe(b)} using {symbol}") from None

    return compare


lt = _ordering(operator.lt, "<")
le = _ordering(operator.le, "<=")
gt = _ordering(operator.gt, ">")
ge = _ordering(operator.ge, ">=")


def eq(a: Any, b: Any) -> bool:
    """Equality that sees a date and the same-day midnight datetime as equal."""
    if a == b:
        return True
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        x, y = align(a, b)
        return x == y
    return False


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def is_in(item: Any, container: Any) -> bool:
    """`item in container` for lists, texts (substring) and records (field names); null gives false."""
    if container is None:
        return False
    if isinstance(container, str):
        if item is None:
            return False
        if not isinstance(item, str):
            raise RuleError(f"cannot look for a {describe(item)} in a text")
        return item in container
    if isinstance(container, (list, tuple, Mapping)):
        return item in container
    raise RuleError(f"cannot look inside a {describe(container)} with `in`")


def not_in(item: Any, container: Any) -> bool:
    return not is_in(item, container)


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Eq": eq,
    "NotEq": ne,
    "Lt": lt,
    "LtE": le,
    "Gt": gt,
    "GtE": ge,
    "In": is_in,
    "NotIn": not_in,
}


def compare_chain(ops: tuple[str, ...], values: list[Any]) -> bool:
    """`a < b < c`: every adjacent pair holds."""
    return all(COMPARISONS[op](values[i], values[i + 1]) for i, op in enumerate(ops))


def _is_text_or_list(value: Any) -> bool:
    return isinstance(value, (str, list, tuple))


def _arith(op: Callable[[Any, Any], Any], symbol: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        if isinstance(a, bool) or isinstance(b, bool):
            raise RuleError(f"cannot use {symbol} on a yes/no value")
        try:
            return op(a, b)
        except TypeError:
            pass
        except (ZeroDivisionError, ArithmeticError) as exc:
            raise RuleError(f"arithmetic failed: {exc}") from None
        x, y = align(a, b)
        try:
            return op(x, y)
        except (TypeError, ArithmeticError) as exc:
            raise RuleError(f"cannot compute {describe(a)} {symbol} {describe(b)}: {exc}") from None

    return apply


def _add(a: Any, b: Any) -> Any:
    if _is_text_or_list(a) and _is_text_or_list(b) and len(a) + len(b) > MAX_SIZE:
        raise RuleError(f"the text or list would be longer than {MAX_SIZE:,} (limit)")
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if _is_text_or_list(a) or _is_text_or_list(b):
        raise RuleError("texts and lists cannot be multiplied")
    return a * b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str):
        raise RuleError("`%` works on numbers only")
    return a % b


def _pow(a: Any, b: Any) -> Any:
    check_power(a, b)
    result = a**b
    if isinstance(result, complex):
        raise RuleError("the power has no real value")
    return result


add = _arith(_add, "+")
sub = _arith(operator.sub, "-")
mul = _arith(_mul, "*")
div = _arith(operator.truediv, "/")
floordiv = _arith(operator.floordiv, "//")
mod = _arith(_mod, "%")
power = _arith(_pow, "**")


def neg(a: Any) -> Any:
    if a is None:
        return None
    if isinstance(a, (bool, str, list, tuple)):
        raise RuleError(f"cannot negate a {describe(a)}")
    try:
        return -a
    except TypeError:
        raise RuleError(f"cannot negate a {describe(a)}") from None


def pos(a: Any) -> Any:
    if a is None:
        return None
    if isinstance(a, bool) or not isinstance(a, (int, float, Decimal, dt.timedelta)):
        raise RuleError(f"cannot use unary + on a {describe(a)}")
    return a


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Add": add,
    "Sub": sub,
    "Mult": mul,
    "Div": div,
    "FloorDiv": floordiv,
    "Mod": mod,
    "Pow": power,
}
