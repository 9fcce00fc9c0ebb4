"""Message templates: sandboxed, autoescaped for html only, date filters, compile-time errors."""

from __future__ import annotations

import datetime as dt

import pytest

from engines.rules import ExpressionError, RuleError, compile_template, render_template, set_timezone


@pytest.fixture(autouse=True)
def utc():
    set_timezone("UTC")
    yield
    set_timezone("UTC")


def test_sms_text_is_not_escaped_and_missing_values_are_blank():
    text = render_template("Hi {{ patient.name }} & co{{ patient.doctor.name }}!", {"patient": {"name": "A<b>"}})
    assert text == "Hi A<b> & co!"


def test_html_is_escaped():
    assert render_template("<p>{{ name }}</p>", {"name": "<script>"}, html=True) == "<p>&lt;script&gt;</p>"


def test_date_and_datetime_filters_follow_locale_and_timezone():
    context = {"d": dt.date(2024, 5, 1), "t": dt.datetime(2024, 5, 1, 7, 30, tzinfo=dt.UTC)}
    assert render_template("{{ d|date }}", context, "de") == "01.05.2024"
    assert render_template("{{ d|date }}", context, "en") == "01 May 2024"
    assert render_template("{{ d|date('%Y') }}", context) == "2024"
    set_timezone("Europe/Berlin")
    assert render_template("{{ t|datetime }}", context, "de-DE") == "01.05.2024 09:30"
    assert render_template("{{ missing|date }}", context) == ""
    assert render_template("{{ d|date }}", context, "zh-CN") == "2024年05月01日"  # a Chinese SMS reads naturally
    assert render_template("{{ t|datetime }}", context, "zh-CN") == "2024年05月01日 09:30"


def test_compiled_once_rendered_many_times():
    template = compile_template("{{ n }} ")
    assert [template.render({"n": i}) for i in range(3)] == ["0 ", "1 ", "2 "]


@pytest.mark.parametrize(
    "source, code, column",
    [
        ("Hello {{ name ", "template.syntax", 0),
        ("line one\n{% if %}", "template.syntax", 9),
        ("{{ ''.__class__ }}", "template.unsafe", 0),
        ("{% macro m() %}{% endmacro %}", "template.unsafe", 0),
        ("{% for a in x %}{% for b in a %}{% endfor %}{% endfor %}", "template.unsafe", 0),
    ],
)
def test_compile_errors(source, code, column):
    with pytest.raises(ExpressionError) as caught:
        compile_template(source)
    assert (caught.value.code, caught.value.column) == (code, column)


def test_runtime_failures_are_rule_errors():
    with pytest.raises(RuleError):
        render_template("{{ 1 / 0 }}", {})
    with pytest.raises(RuleError):
        render_template("{% for i in range(99999) %}{{ 'x' * 100 }}{% endfor %}", {})
