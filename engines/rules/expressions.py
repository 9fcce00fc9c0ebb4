"""Compile an expression once, evaluate it many times.

`compile_expression` parses the text, refuses unsafe constructs, checks names,
functions and types (against a Scope when given), and compiles the checked tree
to a Python function. `Expression.evaluate` only runs that function: no text is
ever re-parsed, and every failure surfaces as RuleError.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .checker import Checker
from .clock import DEFAULT_EVALUATION, Evaluation, evaluation
from .codegen import compile_tree
from .errors import ExpressionError, RuleError
from .functions import FUNCTIONS, library_specs
from .parsing import parse
from .plain import plain
from .runtime import attrs
from .scope import Scope

__all__ = ["Expression", "ExpressionError", "RuleError", "compile_expression"]


class Expression:
    """A checked, compiled expression.

    `names` are the root names it reads (not function names), `paths` the dotted
    paths (('patient', 'primary_doctor', 'name')), `functions` the functions it
    calls, `type` the rule type the checker inferred.
    """

    def __init__(
        self,
        source: str,
        tree: ast.Expression,
        type: str,
        names: frozenset[str],
        paths: frozenset[tuple[str, ...]],
        functions: frozenset[str],
        tables: frozenset[str],
        run: Callable[[Mapping[str, Any], Evaluation], Any],
        python_source: str,
        evaluate: Callable[..., Any] | None = None,
    ):
        self.source, self.tree, self.type = source, tree, type
        self.names, self.paths, self.functions, self.tables = names, paths, functions, tables
        self._run, self.python_source = run, python_source
        if evaluate is not None:
            self.evaluate = evaluate  # type: ignore[method-assign] # the generated one-frame entry, same contract

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def evaluate(
        self, context: Mapping[str, Any], *, related: Any = None, now: Any = None, timezone: Any = None
    ) -> Any:
        """The value with `context` as its names (missing names read as null).

        `related` is the RelatedRecords port used by count/exists/last/overlaps;
        `now`/`timezone` override the clock for this evaluation only.
        """
        env = (
            DEFAULT_EVALUATION
            if related is None and now is None and timezone is None
            else evaluation(related, now, timezone)
        )
        try:
            return self._run(context, env)
        except RuleError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user logic is a rule error
            raise RuleError(f"{self.source!r} failed: {type(exc).__name__}: {exc}") from None

    def evaluate_in(self, context: Mapping[str, Any], env: Evaluation) -> Any:
        """Evaluate with an Evaluation already built (decision tables, nested decide())."""
        try:
            return self._run(context, env)
        except RuleError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise RuleError(f"{self.source!r} failed: {type(exc).__name__}: {exc}") from None

    def explain(self, context: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        """Why the expression gives what it gives: the value and every path it read, as plain data."""
        reads: dict[str, Any] = {}
        for path in sorted(self.paths):
            try:
                reads[".".join(path)] = plain(attrs(context.get(path[0]), path[1:]))
            except RuleError as exc:
                reads[".".join(path)] = {"error": str(exc)}
        result: dict[str, Any] = {"source": self.source, "reads": reads, "value": None, "error": None}
        try:
            result["value"] = plain(self.evaluate(context, **options))
        except RuleError as exc:
            result["error"] = str(exc)
        return result


def compile_expression(
    source: str,
    names: Collection[str] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    *,
    scope: Scope | None = None,
    tables: Mapping[str, Any] | None = None,
) -> Expression:
    """Parse, check and compile `source`; raise ExpressionError pointing at the fault.

    `names` is the set of root names the expression may read (None: any) and is
    used when no `scope` is given; a `scope` also gives types, so type mistakes
    are caught here. `functions` replaces the library (default FUNCTIONS);
    `tables` maps decision-table names to DecisionTables for decide('name').
    """
    parsed = parse(source)
    specs = library_specs(FUNCTIONS if functions is None else functions)
    checker = Checker(parsed, scope if scope is not None else Scope.of_names(names), specs, tables)
    result_type = checker.check()
    text = parsed.text

    def failure(exc: Exception) -> RuleError:
        return RuleError(f"{text!r} failed: {type(exc).__name__}: {exc}")

    run, evaluate, python_source = compile_tree(parsed.tree, checker.types, specs, tables, failure)
    return Expression(
        text,
        parsed.tree,
        result_type.type,
        frozenset(checker.names),
        frozenset(checker.paths),
        frozenset(checker.functions),
        frozenset(checker.tables_used),
        run,
        python_source,
        evaluate,
    )
