"""rules.md section 7, "Safety limits": each limit holds at its documented value, with its code.

The hostile corpus (tests/rules/hostile) shows that huge inputs fail safely; these tests pin
where each limit sits: the last size allowed compiles, the first size past it is refused.
"""

from __future__ import annotations

import pytest

from engines.rules import ExpressionError, RuleError, compile_expression


def refused(source: str) -> str:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    return caught.value.code


def text_of_length(length: int) -> str:
    """An expression of exactly `length` characters: a comparison with a text literal."""
    head = "x == '"
    return head + "a" * (length - len(head) - 1) + "'"


def test_an_expression_of_2000_characters_compiles_and_one_more_is_too_long():
    assert len(text_of_length(2_000)) == 2_000
    assert compile_expression(text_of_length(2_000)).evaluate({"x": "a" * 1_993}) is True
    assert refused(text_of_length(2_001)) == "expression.too_long"


def test_more_than_400_parts_is_too_long_even_when_short():
    # A list of n ones is n + 3 parts (the expression, the list, its context and the items).
    assert compile_expression("[" + ", ".join(["1"] * 397) + "]").evaluate({}) == [1] * 397
    many = "[" + ", ".join(["1"] * 398) + "]"
    assert len(many) < 2_000 and refused(many) == "expression.too_long"


def test_brackets_nest_24_deep_and_no_deeper():
    assert compile_expression("(" * 24 + "x" + ")" * 24).evaluate({"x": 3}) == 3
    assert refused("(" * 25 + "x" + ")" * 25) == "expression.too_deep"
    assert refused("[" * 25 + "]" * 25) == "expression.too_deep"


def test_nesting_without_brackets_is_limited_to_32():
    # `not not ... x`: each `not` is one level; the name and its context are two more.
    assert compile_expression("not " * 30 + "x").evaluate({"x": True}) is True
    assert refused("not " * 31 + "x") == "expression.too_deep"
    assert refused("-" * 40 + "1") == "expression.too_deep"


def test_an_integer_power_may_reach_4096_bits_of_base_times_exponent():
    # The limit is on the bits of the base times the exponent, checked before computing.
    assert compile_expression("2 ** 2048").evaluate({}) == 2**2048
    assert compile_expression("x ** 4096").evaluate({"x": 1}) == 1
    with pytest.raises(RuleError, match="4096 bits"):
        compile_expression("2 ** 2049").evaluate({})
    with pytest.raises(RuleError, match="4096 bits"):
        compile_expression("x ** 4097").evaluate({"x": 1})


def test_a_float_exponent_may_be_1000_and_no_more():
    assert compile_expression("x ** 1000").evaluate({"x": 1.0}) == 1.0
    assert compile_expression("x ** -1000").evaluate({"x": 1.0}) == 1.0
    with pytest.raises(RuleError, match="exponent is too large"):
        compile_expression("x ** 1001").evaluate({"x": 1.0})
    with pytest.raises(RuleError, match="exponent is too large"):
        compile_expression("x ** 1000.5").evaluate({"x": 1.0})
