"""Decision tables: compiled once into one Python matcher, evaluated fast, explainable.

A table's inputs are expressions (usually plain names) read from the same context
as any rule; each row's cells compile to simple comparisons inside one generated
function, so deciding costs a few hundred nanoseconds, not an interpreter walk.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .clock import DEFAULT_EVALUATION, Evaluation, evaluation
from .decision_cells import Cell, CellError, parse_cell
from .errors import ExpressionError, RuleError, RulesEngineError
from .expressions import Expression, compile_expression
from .plain import describe_inputs, plain
from .problems import Problem, ProblemList
from .scope import Scope, type_of_value
from .specs import DecisionTableSpec


class TableError(RulesEngineError):
    """A decision table that cannot be compiled; `problems` says everything wrong with it."""

    def __init__(self, problems: Sequence[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


class DecisionTable:
    """A compiled decision table. `evaluate(context)` gives the output; `explain(context)` says why."""

    def __init__(
        self, name: str, spec: DecisionTableSpec, inputs: list[Expression], cells: list[list[Cell]], outputs: list[Any]
    ):
        self.name, self.spec, self.hit = name, spec, spec.hit
        self.inputs, self.cells, self.outputs = inputs, cells, outputs
        self.output_names = spec.outputs
        self.default = spec.default
        self.names = frozenset(n for expression in inputs for n in expression.names)
        self.paths = frozenset(p for expression in inputs for p in expression.paths)
        self.input_names = self.names
        self.output_type = _output_type(spec, outputs)
        self._match = _compile_matcher(inputs, cells, first=spec.hit == "first")

    def __repr__(self) -> str:
        return f"DecisionTable({self.name!r}, hit={self.hit!r}, rows={len(self.cells)})"

    # -- evaluation ------------------------------------------------------------------
    def evaluate(
        self, context: Mapping[str, Any], *, related: Any = None, now: Any = None, timezone: Any = None
    ) -> Any:
        """The table's output for `context` (a dict of outputs when the table has several)."""
        env = (
            DEFAULT_EVALUATION
            if related is None and now is None and timezone is None
            else evaluation(related, now, timezone)
        )
        return self.evaluate_in(context, env)

    def evaluate_in(self, context: Mapping[str, Any], env: Evaluation) -> Any:
        try:
            matched = self._match(context, env)
        except RuleError:
            raise
        except Exception as exc:  # noqa: BLE001 - bad input data is a rule error
            raise RuleError(f"decision table {self.name}: {type(exc).__name__}: {exc}") from None
        return self._result(matched, context, env)

    def _result(self, matched: Any, context: Mapping[str, Any], env: Evaluation) -> Any:
        if self.hit == "first":
            return self._output(matched) if matched >= 0 else self.default
        if self.hit == "unique":
            if len(matched) > 1:
                rows = " and ".join(str(i + 1) for i in matched)
                values = describe_inputs(self.input_values(context, env))
                raise RuleError(f"decision table {self.name}: rows {rows} all match {values} (hit policy unique)")
            return self._output(matched[0]) if matched else self.default
        if self.hit == "priority":
            return self._output(self._best(matched)) if matched else self.default
        return self._collect(matched)

    def _output(self, row: int) -> Any:
        value = self.outputs[row]
        return dict(value) if isinstance(value, dict) else value

    def _best(self, matched: list[int]) -> int:
        order = self.spec.output_order
        if order:

            def rank(row: int) -> tuple[int, int]:
                value = self.outputs[row]
                key = value[self.output_names[0]] if isinstance(value, dict) and self.output_names else value
                return (order.index(key) if key in order else len(order), row)

            return min(matched, key=rank)
        return min(matched, key=lambda row: (-(self.spec.rows[row].priority or 0), row))

    def _collect(self, matched: list[int]) -> Any:
        aggregate = self.spec.aggregate
        if aggregate == "count":
            return len(matched)
        values = [self._output(row) for row in matched]
        if aggregate is None:
            return values
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise RuleError(f"decision table {self.name}: {aggregate} needs numeric outputs, got {values!r}")
        if aggregate == "sum":
            return sum(values)
        if not values:
            return self.default
        return min(values) if aggregate == "min" else max(values)

    # -- explanation -----------------------------------------------------------------
    def input_values(self, context: Mapping[str, Any], env: Evaluation = DEFAULT_EVALUATION) -> dict[str, Any]:
        """Each input's source text -> its value in `context`."""
        return {expression.source: expression.evaluate_in(context, env) for expression in self.inputs}

    def explain(self, context: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        """Why the table decides what it decides, as plain data for a page or an API."""
        env = evaluation(options.get("related"), options.get("now"), options.get("timezone"))
        result: dict[str, Any] = {
            "table": self.name,
            "title": self.spec.title,
            "hit": self.hit,
            "inputs": [],
            "rows": [],
            "matched": [],
            "chosen": None,
            "output": None,
            "error": None,
        }
        try:
            values = list(self.input_values(context, env).values())
        except RuleError as exc:
            result["error"] = str(exc)
            return result
        result["inputs"] = [{"input": e.source, "value": plain(v)} for e, v in zip(self.inputs, values)]
        for index, row in enumerate(self.cells):
            try:
                cells = [cell.matches(value) for cell, value in zip(row, values)]
            except TypeError:
                cells = [False] * len(row)
            matched = all(cells)
            result["rows"].append(
                {
                    "row": index + 1,
                    "when": [c.describe() for c in row],
                    "cells": cells,
                    "matched": matched,
                    "then": plain(self.outputs[index]),
                }
            )
            if matched:
                result["matched"].append(index + 1)
        try:
            result["output"] = plain(self.evaluate_in(context, env))
        except RuleError as exc:
            result["error"] = str(exc)
            return result
        if result["matched"] and self.hit in ("first", "unique", "priority"):
            rows = [m - 1 for m in result["matched"]]
            result["chosen"] = (rows[0] if self.hit != "priority" else self._best(rows)) + 1
        return result


def _output_type(spec: DecisionTableSpec, outputs: list[Any]) -> str:
    if spec.hit == "collect":
        return "integer" if spec.aggregate == "count" else "list" if spec.aggregate is None else "number"
    if spec.outputs and len(spec.outputs) > 1:
        return "record"
    kinds = {type_of_value(v) for v in [*outputs, spec.default] if v is not None}
    if len(kinds) == 1:
        kind = kinds.pop()
        return kind if kind != "record" else "any"
    return "number" if kinds and kinds <= {"integer", "number", "decimal"} else "any"


def _compile_matcher(inputs: list[Expression], cells: list[list[Cell]], first: bool) -> Callable[..., Any]:
    """One generated function: read the inputs, test the rows in order."""
    bindings: dict[str, Any] = {}

    def bind(value: Any) -> str:
        name = f"_k{len(bindings)}"
        bindings[name] = value
        return name

    lines = ["    _g = _c.get"]
    for index, expression in enumerate(inputs):
        body = expression.tree.body
        if isinstance(body, ast.Name) and not expression.functions:
            lines.append(f"    v{index} = _g({bind(body.id)})")
        else:
            lines.append(f"    v{index} = {bind(expression.evaluate_in)}(_c, _e)")
    if not first:
        lines.append("    m = []")
    for row_index, row in enumerate(cells):
        tests = [c for c in (cell.condition(f"v{i}", bind) for i, cell in enumerate(row)) if c]
        test = " and ".join(tests) or "True"
        lines.append(f"    if {test}: " + (f"return {row_index}" if first else f"m.append({row_index})"))
    lines.append("    return -1" if first else "    return m")
    params = "".join(f", {name}={name}" for name in bindings)
    source = f"def _match(_c, _e{params}):\n" + "\n".join(lines)
    namespace: dict[str, Any] = {"__builtins__": {}, **bindings}
    exec(compile(source, "<decision table>", "exec"), namespace)  # noqa: S102 - generated from parsed cells only
    return namespace["_match"]


def compile_decision_table(
    name: str,
    spec: DecisionTableSpec | Mapping[str, Any],
    *,
    scope: Scope | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    tables: Mapping[str, DecisionTable] | None = None,
) -> DecisionTable:
    """Compile one table; raise TableError listing every problem (loc relative to the table)."""
    if not isinstance(spec, DecisionTableSpec):
        spec = DecisionTableSpec.model_validate(spec)
    problems = ProblemList()
    inputs: list[Expression] = []
    for index, source in enumerate(spec.inputs):
        try:
            inputs.append(compile_expression(source, functions=functions, scope=scope, tables=tables))
        except ExpressionError as exc:
            problems.add(("inputs", index), exc.code, exc.message, exc.hint, exc.column)
    if spec.aggregate and spec.hit != "collect":
        problems.add(("aggregate",), "decision_table.aggregate", "aggregate only applies to hit: collect")
    if spec.output_order and spec.hit != "priority":
        problems.add(("output_order",), "decision_table.output_order", "output_order only applies to hit: priority")
    cells = _parse_rows(spec, problems)
    outputs = [_row_output(spec, index, row.then, problems) for index, row in enumerate(spec.rows)]
    if problems:
        raise TableError(list(problems))
    return DecisionTable(name, spec, inputs, cells, outputs)


def _parse_rows(spec: DecisionTableSpec, problems: ProblemList) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for row_index, row in enumerate(spec.rows):
        if len(row.when) != len(spec.inputs):
            problems.add(
                ("rows", row_index, "when"),
                "decision_table.cell_count",
                f"row {row_index + 1} has {len(row.when)} cells but the table has "
                f"{len(spec.inputs)} inputs ({', '.join(spec.inputs)})",
                "write - for an input this row does not test",
            )
            continue
        parsed: list[Cell] = []
        for cell_index, (raw, input_source) in enumerate(zip(row.when, spec.inputs)):
            try:
                parsed.append(parse_cell(raw, input_source.strip()))
            except CellError as exc:
                problems.add(("rows", row_index, "when", cell_index), "decision_table.cell", exc.message, exc.hint)
        rows.append(parsed)
    return rows


def _row_output(spec: DecisionTableSpec, index: int, then: Any, problems: ProblemList) -> Any:
    names = spec.outputs
    if not names or len(names) == 1:
        if isinstance(then, dict) and names and set(then) == set(names):
            return then[names[0]]
        if isinstance(then, (dict, list)):
            problems.add(
                ("rows", index, "then"),
                "decision_table.output",
                "this table has one output: write a single value after then:",
            )
        return then
    if not isinstance(then, dict) or set(then) != set(names):
        problems.add(
            ("rows", index, "then"), "decision_table.output", f"then: must give every output ({', '.join(names)})"
        )
        return then
    return {name: then[name] for name in names}
