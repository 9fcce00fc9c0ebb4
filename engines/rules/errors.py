"""The rules engine's own error types.

Two kinds of failure matter to callers and they must never be confused: a blueprint
author's mistake found when the blueprint loads (`ExpressionError`, reported with a
column so the builder can point at it) and a failure while a rule runs on real data
(`RuleError`, which the record service turns into a friendly message). Evaluation
never lets any other exception type escape.
"""

from __future__ import annotations


class RulesEngineError(Exception):
    """Base of every error the rules engine raises on purpose."""


class ExpressionError(RulesEngineError):
    """An expression (or template, or table cell) that cannot be accepted.

    `column` is the 0-based offset inside the expression text where the fault is.
    """

    def __init__(self, code: str, message: str, column: int = 0, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.column = column
        self.hint = hint

    def __repr__(self) -> str:
        return f"ExpressionError({self.code!r}, {self.message!r}, column={self.column})"


class RuleError(RulesEngineError):
    """A rule that failed while running (bad data, a limit hit, no port given)."""


class ScopeError(RulesEngineError, ValueError):
    """A Scope built wrongly by the calling engine (an unknown type name): a code bug."""
