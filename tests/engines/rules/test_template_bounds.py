"""Message templates that would build a huge text fail at once with our own error.

Each attack took about 1 GB or 10 s before the guards. The tests do not time anything:
they measure the peak memory the attempt allocated (tracemalloc), which is what the
guards bound, and pytest-timeout stops a regression that would hang.
"""

from __future__ import annotations

import tracemalloc

import pytest

from engines.rules import RuleError, compile_template, render_template
from engines.rules.errors import RulesEngineError

PEAK_BYTES = 20_000_000

ATTACKS = [
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|indent(10**9) }}",
    "{{ 'a\nb'|indent('y' * 99999) }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '%.999999999f'|format(1) }}",
    "{{ '%*d'|format(999999999, 1) }}",
    "{{ lipsum(100000) }}",
    "{% set s = 'x' * 99999 %}{{ ('%s' * 1000)|format(*([s] * 1000)) }}",
    "{% set s = 'x' * 99999 %}{{ ('{}' * 1000).format(*([s] * 1000)) }}",
    "{% set s = 'x' * 99999 %}{{ ('{0}' * 1000).format(s) }}",
    "{% set s = 'x' * 99999 %}{{ ('%(a)s' * 1000)|format(a=s) }}",
    "{{ ('x ' * 49999)|wordwrap(1, wrapstring='y' * 99999) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ ('x' * 99999)|replace('', 'y' * 99999) }}",
    "{{ ('x' * 99999).replace('x', 'yy' * 50000) }}",
    "{% set s = 'x' * 99999 %}{{ ([s] * 99999)|join }}",
    "{% set s = 'x' * 99999 %}{{ ' '.join([s] * 99999) }}",
    "{% set s = 'x' * 99999 %}{% set t = s ~ s %}{% set u = t ~ t %}{{ u|length }}",
    "{% set r = range(99999)|list %}{{ ([r] * 99999)|string|length }}",
    "{% set r = range(99999)|list %}{{ [r] * 99999 }}",
    "{{ [1]|batch(10**9, 0)|list|length }}",
    "{{ [1]|slice(10**9)|list|length }}",
    "{% set r = range(99999)|list %}{{ ([r] * 99999)|sum(start=[])|length }}",
    "{{ 10**(10**10) }}",
    "{{ (10**10)**(10**10) }}",
    "{{ range(10**9)|list|length }}",
    "{% for i in range(10**9) %}x{% endfor %}",
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("source", ATTACKS)
def test_attack_fails_fast_with_our_error(source: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RulesEngineError):
            render_template(source, {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{source!r} allocated {peak:,} bytes"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{{ 'ab'|center(6) }}", "  ab  "),
        ("{{ 'a\nb'|indent(2, first=True) }}", "  a\n  b"),
        ("{{ '%05d'|format(42) }}", "00042"),
        ("{{ '{:>4}'.format(7) }}", "   7"),
        ("{{ 'x'.ljust(3, '-') }}", "x--"),
        ("{{ ['a', 'b']|join(', ') }}", "a, b"),
        ("{{ 'a b c'|replace(' ', '_') }}", "a_b_c"),
        ("{{ 'a' ~ 1 ~ 'b' }}", "a1b"),
        ("{{ [1, 2, 3]|sum }}", "6"),
        ("{{ 2 ** 10 }}", "1024"),
    ],
)
def test_ordinary_use_still_works(source: str, expected: str) -> None:
    assert render_template(source, {}) == expected


@pytest.mark.timeout(10)
def test_output_cap_is_an_argument_and_stops_rendering_early() -> None:
    template = compile_template("{% for i in range(99999) %}{{ 'x' * 10 }}{% endfor %}")
    with pytest.raises(RuleError, match="longer than 50 characters"):
        template.render({}, max_output=50)
    assert render_template("{{ 'x' * 50 }}", {}, max_output=50) == "x" * 50
    with pytest.raises(RuleError, match="longer than 49"):
        render_template("{{ 'x' * 50 }}", {}, max_output=49)
