"""A report's parameters read from a query string, for the pages and the API.

The API takes each parameter as the engine does (`?period=last_3_months`,
`?period=2026-01-01..2026-03-31`, `?doctor=3`). The page's form sends a date
range as a preset and two date boxes (`period`, `period__from`, `period__to`),
joined here into `FROM..TO`. Anything else in the query that is not a parameter
is refused with its name (400), so a mistyped filter never silently shows all rows.
Values themselves are checked by the engine (its ReportError names the parameter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from builder.records import FieldError
from engines.reports import ReportSpec

from ..inputs import unstorable_text

MAX_VALUE = 200
CUSTOM = "custom"
_PARAMETER_OF_ERROR = re.compile(r"parameter `([a-z][a-z0-9_]*)`")


class BadReportParameters(Exception):
    """The query cannot be this report's parameters; each error names the parameter (400)."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def field_of_error(message: str) -> str:
    """The parameter a ReportError's message is about (`__all__` when it names none)."""
    match = _PARAMETER_OF_ERROR.search(message)
    return match.group(1) if match else "__all__"


def report_params(
    spec: ReportSpec, query: Mapping[str, str], *, ignore: Iterable[str] = (), form: bool = False
) -> dict[str, Any]:
    """The parameters set in `query` (empty ones are left to the report's defaults)."""
    ignored = set(ignore)
    params: dict[str, Any] = {}
    errors: list[FieldError] = []
    ranges: dict[str, dict[str, str]] = {}
    for key, raw in query.items():
        if key in ignored:
            continue
        name, _, part = key.partition("__")
        parameter = spec.parameters.get(name)
        ranged = form and parameter is not None and parameter.type == "date_range" and part in ("from", "to")
        if parameter is None or (part and not ranged):
            known = ", ".join(spec.parameters) or "none"
            errors.append(FieldError(key, "unknown_parameter", f"the report has no parameter `{key}`; it has: {known}"))
            continue
        if unstorable_text(raw) or len(raw) > MAX_VALUE:
            errors.append(FieldError(key, "invalid_text", f"`{key}` is not a value this report can take"))
            continue
        if ranged:
            ranges.setdefault(name, {})[part] = raw.strip()
        elif raw.strip() and raw.strip() != CUSTOM:
            params[name] = raw.strip()
    for name, sides in ranges.items():
        start, end = sides.get("from", ""), sides.get("to", "")
        if (start or end) and query.get(name, CUSTOM) in ("", CUSTOM):
            params[name] = f"{start}..{end}"
    if errors:
        raise BadReportParameters(errors)
    return params
