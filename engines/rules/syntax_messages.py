"""Syntax errors said the way a clinic admin can act on, not in Python's parser words.

Python reports `'(' was never closed` or a bare `invalid syntax`; an author writing
`max(a, 1` or `a = 1` in a blueprint needs to hear what is missing and what to write.
"""

from __future__ import annotations

import re

CLOSING = {"(": ")", "[": "]", "{": "}"}
_TOKEN = re.compile(
    r"\s*(==|!=|<=|>=|\*\*|//|[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*|\d+(?:\.\d+)?|'[^']*'?|\"[^\"]*\"?|\S)"
)
_VALUE_START = re.compile(r"[\w\u4e00-\u9fff'\"(\[]")
_WORD_OPERATORS = ("and", "or", "not", "in", "if", "else")
_ENDINGS = ("+", "-", "*", "/", "%", "**", "//", "==", "!=", "<", ">", "<=", ">=", "and", "or", "not", "in", ",", ".")


def _token_at(text: str, index: int) -> str:
    match = _TOKEN.match(text, max(index, 0))
    return match.group(1) if match else ""


def _last_token(text: str) -> str:
    tokens = _TOKEN.findall(text)
    return tokens[-1] if tokens else ""


def explain_syntax(text: str, message: str, offset: int | None) -> tuple[str, int]:
    """(what to tell the author, 0-based column in `text`) for Python's SyntaxError `message` at `offset`."""
    at = max((offset or 1) - 1, 0)
    never_closed = re.match(r"'(.)' was never closed", message)
    if never_closed:
        bracket = never_closed.group(1)
        return f"`{bracket}` is never closed: add `{CLOSING.get(bracket, bracket)}`", at
    unmatched = re.match(r"unmatched '(.)'", message)
    if unmatched:
        bracket = unmatched.group(1)
        opening = {v: k for k, v in CLOSING.items()}.get(bracket, bracket)
        return f"`{bracket}` has no `{opening}` before it: remove it or add the `{opening}`", at
    if message.startswith("unterminated string"):
        return "the text in quotes that starts here is never closed: add the closing quote", at
    if "expected 'else'" in message:
        return "`value if condition` needs an `else`: write `value if condition else other`", at
    if "forgot a comma" in message:
        return "two values stand side by side here: put a comma or an operator between them", at
    last = _last_token(text)
    if offset in (None, 0) or at >= len(text.rstrip()) or (last in _ENDINGS and at >= len(text.rstrip()) - len(last)):
        return f"the expression ends too early: something must follow `{last}`", len(text.rstrip())
    token = _token_at(text, at)
    if token == "=":
        return "use `==` to compare: a single `=` cannot be used in a rule", at
    if token and _VALUE_START.match(token) and token not in _WORD_OPERATORS:
        return (
            f"`{token}` is not expected here: an operator (such as `+` or `and`) or a comma may be missing before it",
            at,
        )
    if token:
        return f"`{token}` is not expected here", at
    return "this is not a valid expression", at
