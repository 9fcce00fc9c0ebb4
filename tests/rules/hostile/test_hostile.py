"""Known sandbox-escape attempts against the expression language, all refused fast and safely.

Every entry of attacks.txt must be refused at compile time (ExpressionError) or fail
with RuleError at run time, within a time bound, and never return an object that is
not plain data.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import time

import pytest

from engines.rules import ExpressionError, RuleError, compile_expression, compile_template, render_template

ATTACKS = [
    line
    for line in (pathlib.Path(__file__).parent / "attacks.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
# Extra attacks that do not fit on one line of the corpus.
ATTACKS += [
    "(" * 1000 + "x" + ")" * 1000,
    "not " * 1000 + "x",
    "-" * 1500 + "1",
    "x" + ".a" * 999,
    "[" * 500 + "]" * 500,
    "x\n.__class__",
    "1 + " * 600 + "1",
]
PLAIN = (type(None), bool, int, float, str, list, tuple, dt.date, dt.timedelta)
CONTEXT = {"x": {"a": 1}, "y": [1, 2]}


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_refused_or_fails_safely(attack: str) -> None:
    started = time.perf_counter()
    try:
        expression = compile_expression(attack)
    except ExpressionError as exc:
        assert exc.code.startswith("expression."), exc.code
        assert 0 <= exc.column <= len(attack)
    else:
        with pytest.raises(RuleError):
            value = expression.evaluate(CONTEXT)
            assert isinstance(value, PLAIN), f"{attack!r} returned {type(value).__name__}"
            raise RuleError("evaluated harmlessly")  # plain data is fine too
    assert time.perf_counter() - started < 1.0, f"{attack!r} took too long"


def test_the_corpus_is_substantial() -> None:
    assert len(ATTACKS) >= 100


@pytest.mark.parametrize(
    "attack",
    [
        "x.__class__",
        "'{0.__class__}'.format(x)",
        "(lambda: 1)()",
        "[x for x in y]",
        "'a'.upper()",
        "getattr(x, 'a')",
        "x[0]",
        "(y := 1)",
        "f'{x}'",
    ],
)
def test_refused_at_compile_time(attack: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(attack)


@pytest.mark.parametrize(
    "attack", ["9**9**9", "2**100000", "s * 10**9", "items * 10**9", "s + s2", "10.0 ** 400", "items + items2"]
)
def test_huge_values_fail_at_run_time_with_rule_error(attack: str) -> None:
    expression = compile_expression(attack)
    context = {"s": "a", "items": [1], "s2": "b" * 100_000, "items2": [0] * 100_000}
    with pytest.raises(RuleError):
        expression.evaluate(context)


@pytest.mark.parametrize("attack", ["'a' * 10**9", "[1] * 10**9", "'%s' % x"])
def test_literal_repetition_is_a_type_error_at_compile_time(attack: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(attack)
    assert caught.value.code == "expression.type"


def test_generated_code_has_no_builtins() -> None:
    expression = compile_expression("x == 1")
    assert "__builtins__" not in expression.python_source
    assert expression._run.__globals__["__builtins__"] == {}


TEMPLATE_ATTACKS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self.__init__.__globals__ }}",
    "{{ request.application.__globals__ }}",
    "{{ x['__class__'] }}",
    "{{ x|attr('__class__') }}",
    "{{ x|attr('_' ~ '_class__') }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ 'a' * 1000000000 }}",
    "{{ '%999999999d' % 1 }}",
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% include '/etc/passwd' %}",
    "{% import 'x' as y %}",
    "{% extends 'base' %}",
    "{{ x.pop('a') }}",
    "{{ y.append(3) }}",
    "{{ config }}{{ namespace.__init__ }}",
    "{{ range(10**9)|list }}",
    "{{ 10 ** 100000 }}",
    "{% set d = {} %}{{ d.update(a=1) }}",
]


@pytest.mark.parametrize("attack", TEMPLATE_ATTACKS)
def test_template_attack_fails_safely(attack: str) -> None:
    started = time.perf_counter()
    context = {"x": {"a": 1}, "y": [1, 2]}
    try:
        template = compile_template(attack)
    except ExpressionError as exc:
        assert exc.code.startswith("template.")
    else:
        try:
            text = template.render(context)
        except RuleError:
            pass
        else:
            assert "class" not in text and "function" not in text and "module" not in text, text
            assert context == {"x": {"a": 1}, "y": [1, 2]}
    assert time.perf_counter() - started < 2.0


def test_render_template_raises_only_rule_error_for_runtime_attacks() -> None:
    with pytest.raises(RuleError):
        render_template("{{ x.pop('a') }}", {"x": {"a": 1}})
