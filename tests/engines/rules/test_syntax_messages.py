"""Syntax errors in the author's terms: what is missing and what to write, never Python's parser text."""

from __future__ import annotations

import pytest

from engines.rules import ExpressionError, compile_expression

CASES = [
    ("max(a, 1", "`(` is never closed: add `)`", 3),
    ("[1, 2", "`[` is never closed: add `]`", 0),
    ("(a))", "`)` has no `(` before it: remove it or add the `(`", 3),
    ("a +", "the expression ends too early: something must follow `+`", 3),
    ("a and", "the expression ends too early: something must follow `and`", 5),
    ("a = 1", "use `==` to compare: a single `=` cannot be used in a rule", 2),
    ("'abc", "the text in quotes that starts here is never closed: add the closing quote", 0),
    ("a if b", "`value if condition` needs an `else`: write `value if condition else other`", 0),
    ("f(a b)", "two values stand side by side here: put a comma or an operator between them", 2),
    ("a b", "`b` is not expected here: an operator (such as `+` or `and`) or a comma may be missing before it", 2),
    ("a ++ * 2", "`*` is not expected here", 5),
    ("a or or b", "`or` is not expected here", 5),
]


@pytest.mark.parametrize(("source", "said", "column"), CASES)
def test_syntax_errors_say_what_is_missing(source, said, column):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, {"a": "number", "b": "number", "f": "number"})
    assert caught.value.code == "expression.syntax"
    assert str(caught.value.message) == said
    assert caught.value.column == column


MORE_BROKEN = [
    "a.",
    "a,,b",
    "1 2",
    "a == ",
    "{a",
    "a)",
    "'x' 'y",
    "a if b else",
    "not",
    "a[",
    "lambda: 1",
    "a :=",
    "(",
    "¥",
]


@pytest.mark.parametrize("source", [c[0] for c in CASES] + MORE_BROKEN)
def test_no_python_words_reach_the_author(source):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, {"a": "number", "b": "number", "f": "number"})
    for words in ("was never closed", "invalid syntax", "Perhaps", "literal", "detected at line", "unexpected EOF"):
        assert words not in str(caught.value.message), caught.value.message
