"""Hard limits that keep hostile or careless expressions cheap.

Evaluation time is bounded by construction: the language has no loops, no
comprehensions, no recursion and no user-defined functions, so running an
expression costs at most (number of nodes) x (cost of one bounded operation).
These limits bound the nodes and each operation.
"""

from __future__ import annotations

from typing import Any

from .errors import RuleError

MAX_SOURCE_LENGTH = 2_000  # characters of expression text
MAX_NODES = 400  # AST nodes in one expression
MAX_DEPTH = 32  # nesting depth of the AST
MAX_BRACKET_DEPTH = 24  # checked on the raw text, before Python's parser sees it
MAX_SIZE = 100_000  # characters of a text, items of a list, produced at run time
MAX_POWER_BITS = 4_096  # bits of an integer power's result
MAX_EXPONENT = 1_000  # absolute exponent for float powers
MAX_TEMPLATE_OUTPUT = 100_000  # characters a template may render


def check_size(value: Any) -> Any:
    """`value`, unless it is a text or list larger than MAX_SIZE."""
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_SIZE:
        kind = "text" if isinstance(value, str) else "list"
        raise RuleError(f"the {kind} would be longer than {MAX_SIZE:,} (limit)")
    return value


def check_power(base: Any, exponent: Any) -> None:
    """Refuse powers whose result would be huge (`9**9**9`)."""
    if isinstance(exponent, bool) or isinstance(base, bool):
        raise RuleError("cannot raise a yes/no value to a power")
    if isinstance(exponent, int) and isinstance(base, int):
        if exponent < 0:
            return
        bits = max(abs(base).bit_length(), 1) * exponent
        if bits > MAX_POWER_BITS:
            raise RuleError(f"the power is too large (limit {MAX_POWER_BITS} bits)")
        return
    try:
        too_big = abs(exponent) > MAX_EXPONENT
    except TypeError:
        return
    if too_big:
        raise RuleError(f"the exponent is too large (limit {MAX_EXPONENT})")
