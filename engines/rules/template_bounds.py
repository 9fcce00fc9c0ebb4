"""Size checks for everything in a message template that can make a large text from a small one.

Jinja's sandbox stops attribute escapes, not allocation: `'x'|center(10**9)`, `indent`,
`'%0999999999d'|format(1)`, `'{:>999999999}'.format(1)`, `'x'.ljust(10**9)`, `replace`,
`join` and `batch` each build a gigabyte before the output cap can look at it. Each guard
here estimates the size of the result from the arguments, before the work is done, and
refuses (RuleError) anything above MAX_SIZE. Jinja folds constant filters at compile time;
a guard that refuses there only leaves the filter to run (and fail) at render time.
"""

from __future__ import annotations

import inspect
import re
import string
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from .errors import RuleError
from .limits import MAX_SIZE

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")


def weight(value: Any, budget: int = MAX_SIZE) -> int:
    """About how many characters `value` prints as; stops counting once over `budget`.

    Lists that hold the same big list many times print as many copies, so the walk
    counts each reference, but never more than `budget` steps.
    """
    total = 0
    stack = [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 1
            for key, val in list(item.items())[: budget + 1]:
                stack.extend((key, val))
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 1
            stack.extend(list(item)[: budget + 1])
        else:
            total += 24
    return total


def check_weight(value: Any, what: str = "the value") -> Any:
    """`value`, unless printing it would pass MAX_SIZE characters."""
    if weight(value) > MAX_SIZE:
        raise RuleError(f"{what} would be longer than {MAX_SIZE:,} characters (limit)")
    return value


def _check_total(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise RuleError(f"{what} would be longer than {MAX_SIZE:,} characters (limit)")


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(f"`{name}` must be a whole number")
    return value


def _spec_number(digits: str) -> int:
    return int(digits) if len(digits) < 10 else MAX_SIZE + 1


def check_printf(template: Any, arguments: Any = ()) -> None:
    """Refuse `%` formats whose widths, precisions and arguments add up past MAX_SIZE, or use `*`.

    Each directive may print any argument, so the arguments count once per directive.
    """
    text = str(template)
    specs = _PRINTF_SPEC.findall(text)
    total = len(text) + len(specs) * weight(arguments)
    for width, precision in specs:
        if "*" in (width, precision):
            raise RuleError("`*` widths are not allowed in templates")
        total += _spec_number(width or "0") + _spec_number(precision or "0")
    _check_total(total, "the formatted text")


def check_brace_format(template: str, arguments: Any = ()) -> None:
    """Refuse `str.format` texts whose spec numbers and arguments add up past MAX_SIZE, or nest fields.

    A field may name the same argument again (`{0}{0}`), so the arguments count once per field.
    """
    try:
        parts = [part for part in string.Formatter().parse(template) if part[1] is not None]
    except ValueError as exc:
        raise RuleError(f"bad format text: {exc}") from None
    total = len(template) + len(parts) * weight(arguments)
    for _, _, spec, _ in parts:
        if spec and "{" in spec:
            raise RuleError("nested format fields are not allowed in templates")
        total += sum(_spec_number(n) for n in _NUMBER.findall(spec or ""))
    _check_total(total, "the formatted text")


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _center(a: Mapping[str, Any]) -> None:
    _check_total(max(_count(a["width"], "width"), len(str(a["value"]))), "the centred text")


def _indent(a: Mapping[str, Any]) -> None:
    width = a["width"]
    pad = len(width) if isinstance(width, str) else _count(width, "width")
    text = str(a["s"])
    _check_total(len(text) + max(pad, 0) * _lines(text), "the indented text")


def _format(a: Mapping[str, Any]) -> None:
    check_printf(a["value"], [list(a["args"]), dict(a["kwargs"])])


def _wordwrap(a: Mapping[str, Any]) -> None:
    text, width = str(a["s"]), max(_count(a["width"], "width"), 1)
    wrap = len(a["wrapstring"] or "\n")
    _check_total(len(text) + (len(text) // width + len(text.split()) + 1) * wrap, "the wrapped text")


def _replace(a: Mapping[str, Any]) -> None:
    text, old, new = str(a["s"]), str(a["old"]), str(a["new"])
    hits = text.count(old) if old else len(text) + 1
    if a["count"] is not None:
        hits = min(hits, max(_count(a["count"], "count"), 0))
    _check_total(len(text) + hits * len(new), "the replaced text")


def _join(a: Mapping[str, Any]) -> None:
    items = a["value"]
    if isinstance(items, (list, tuple, str)):
        _check_total(weight(items) + len(str(a["d"])) * len(items), "the joined text")


def _batch(a: Mapping[str, Any]) -> None:
    _check_total(_count(a["linecount"], "linecount"), "the batch")


def _slice(a: Mapping[str, Any]) -> None:
    _check_total(_count(a["slices"], "slices"), "the slices")


def _sum(a: Mapping[str, Any]) -> None:
    if not isinstance(a["start"], (int, float)):
        raise RuleError("`sum` adds numbers only in templates")


def _printed(a: Mapping[str, Any]) -> None:
    check_weight(a["value"], "the text")


FILTER_GUARDS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "join": _join,
    "batch": _batch,
    "slice": _slice,
    "sum": _sum,
    "string": _printed,
    "pprint": _printed,
    "tojson": _printed,
}


def bounded_filter(original: Callable[..., Any], guard: Callable[[Mapping[str, Any]], None]) -> Callable[..., Any]:
    """`original` (a Jinja filter) with `guard` run on its bound arguments first; keeps Jinja's pass_* mark."""
    signature = inspect.signature(original)

    @wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise RuleError(f"wrong arguments for a filter: {exc}") from None
        bound.apply_defaults()
        guard(bound.arguments)
        return original(*args, **kwargs)

    return bounded


def check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a call of a text method (`'x'.ljust(10**9)`) whose result would pass MAX_SIZE."""
    values = list(args) + list(kwargs.values())
    if name in ("center", "ljust", "rjust", "zfill") and values:
        _check_total(max(_count(values[0], "width"), len(text)), "the padded text")
    elif name == "expandtabs":
        size = _count(values[0], "tabsize") if values else 8
        _check_total(len(text) + text.count("\t") * max(size, 0), "the expanded text")
    elif name == "replace" and len(values) >= 2:
        _replace({"s": text, "old": values[0], "new": values[1], "count": values[2] if len(values) > 2 else None})
    elif name == "join" and values:
        _join({"value": values[0], "d": text})
