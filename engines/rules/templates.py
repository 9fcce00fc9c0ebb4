"""Notification and message templates (SMS, e-mail) in a Jinja2 sandbox.

Templates are compiled once (`compile_template`, which raises ExpressionError with
code template.* for syntax errors and refused constructs) and rendered with
`render_template`, which raises only RuleError. The sandbox is Jinja's
ImmutableSandboxedEnvironment, plus: no macros, includes, imports or nested loops;
bounded `*`, `+`, `~`, `**` and `%`; filters and text methods that can grow a text
checked before they run (template_bounds); no `lipsum`; output capped at
MAX_TEMPLATE_OUTPUT characters (or the caller's `max_output`), counted while rendering;
missing values render as empty text. Autoescaping is on for html, off for sms/text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache, wraps
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .clock import get_timezone
from .errors import ExpressionError, RuleError
from .limits import MAX_SIZE, MAX_TEMPLATE_OUTPUT, check_power, check_size
from .template_bounds import (
    FILTER_GUARDS,
    bounded_filter,
    check_brace_format,
    check_str_method,
    check_weight,
)

DATE_FORMATS = {
    "en": "%d %b %Y",
    "de": "%d.%m.%Y",
    "fr": "%d/%m/%Y",
    "es": "%d/%m/%Y",
    "it": "%d/%m/%Y",
    "nl": "%d-%m-%Y",
    "us": "%m/%d/%Y",
    "zh": "%Y年%m月%d日",
    "ja": "%Y年%m月%d日",
}
TIME_FORMATS = {
    "en": "%d %b %Y %H:%M",
    "de": "%d.%m.%Y %H:%M",
    "fr": "%d/%m/%Y %H:%M",
    "us": "%m/%d/%Y %I:%M %p",
    "zh": "%Y年%m月%d日 %H:%M",
    "ja": "%Y年%m月%d日 %H:%M",
}
_REFUSED = (nodes.Macro, nodes.CallBlock, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _locale_key(locale: str | None) -> str:
    return (locale or "en").replace("_", "-").split("-")[0].lower()


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.astimezone(get_timezone()) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with every `~` result checked against MAX_SIZE."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_text(")
        super().visit_Concat(node, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with bounded arithmetic, concatenation, filters and text methods."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset(["*", "**", "+", "%", "//", "/", "-"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
                count = right if isinstance(left, (str, list, tuple)) else left
                seq = left if isinstance(left, (str, list, tuple)) else right
                if not isinstance(count, int) or len(seq) * max(count, 0) > MAX_SIZE:
                    raise RuleError("the repeated text would be too long")
                return seq * count
            return left * right
        if operator == "**":
            check_power(left, right)
            return left**right
        if operator == "%" and isinstance(left, str):
            raise RuleError("`%` formatting is not allowed in templates")
        if (
            operator == "+"
            and isinstance(left, (str, list))
            and isinstance(right, (str, list))
            and len(left) + len(right) > MAX_SIZE
        ):
            raise RuleError("the text would be too long")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        method_of = getattr(obj, "__self__", None)
        if isinstance(method_of, str):
            check_str_method(method_of, getattr(obj, "__name__", ""), args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        template = value.__self__
        check_brace_format(template)

        @wraps(wrapper)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            check_brace_format(template, [list(args), dict(kwargs)])
            return wrapper(*args, **kwargs)

        return bounded

    @staticmethod
    def checked_text(text: Any) -> Any:
        return check_size(text)


@lru_cache(maxsize=4)
def _environment(html: bool, locale: str) -> _Sandbox:
    env = _Sandbox(
        autoescape=html, undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True, finalize=check_weight
    )
    env.globals.pop("lipsum", None)
    for name, guard in FILTER_GUARDS.items():
        env.filters[name] = bounded_filter(env.filters[name], guard)

    def date_filter(value: Any, format: str | None = None) -> str:
        moment = _as_datetime(value)
        if moment is None:
            return "" if value is None or isinstance(value, ChainableUndefined) else str(value)
        return moment.strftime(format or DATE_FORMATS.get(locale, DATE_FORMATS["en"]))

    def datetime_filter(value: Any, format: str | None = None) -> str:
        moment = _as_datetime(value)
        if moment is None:
            return "" if value is None or isinstance(value, ChainableUndefined) else str(value)
        return moment.strftime(format or TIME_FORMATS.get(locale, TIME_FORMATS["en"]))

    env.filters["date"] = date_filter
    env.filters["datetime"] = datetime_filter
    return env


class CompiledTemplate:
    """A checked template; `render(context)` gives the text."""

    def __init__(self, source: str, html: bool, locale: str):
        self.source, self.html, self.locale = source, html, locale
        self._template = _environment(html, locale).from_string(source)

    def render(self, context: Mapping[str, Any], *, max_output: int = MAX_TEMPLATE_OUTPUT) -> str:
        """The rendered text, or RuleError (attacks and limits included).

        Rendering stops as soon as the text passes `max_output` characters.
        """
        pieces: list[str] = []
        total = 0
        try:
            for piece in self._template.generate(dict(context)):
                total += len(piece)
                if total > max_output:
                    raise RuleError(f"the message would be longer than {max_output:,} characters")
                pieces.append(piece)
        except RuleError:
            raise
        except Exception as exc:  # noqa: BLE001 - SecurityError, TypeError, ... are all rule errors
            raise RuleError(f"the template failed: {type(exc).__name__}: {exc}") from None
        return "".join(pieces)


def _offset(source: str, lineno: int | None) -> int:
    lines = source.split("\n")
    return sum(len(line) + 1 for line in lines[: max((lineno or 1) - 1, 0)])


def _refuse(source: str, tree: nodes.Template) -> None:
    for node in tree.find_all(_REFUSED):
        raise ExpressionError(
            "template.unsafe",
            f"{type(node).__name__.lower()} is not allowed in message templates",
            _offset(source, node.lineno),
        )
    for loop in tree.find_all(nodes.For):
        if loop.recursive or any(True for _ in loop.find_all(nodes.For)):
            raise ExpressionError(
                "template.unsafe",
                "nested or recursive loops are not allowed in message templates",
                _offset(source, loop.lineno),
            )
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        subscript = getattr(access, "arg", None)  # a Getitem's
        key = access.attr if isinstance(access, nodes.Getattr) else getattr(subscript, "value", None)
        if isinstance(key, str) and key.startswith("_"):
            raise ExpressionError(
                "template.unsafe", f"private attribute `{key}` is not allowed", _offset(source, access.lineno)
            )


def compile_template(source: str, *, html: bool = False, locale: str | None = None) -> CompiledTemplate:
    """Check and compile a message template; ExpressionError (template.syntax / template.unsafe) if it is wrong."""
    if not isinstance(source, str):
        raise ExpressionError("template.syntax", "a template must be a text")
    if len(source) > MAX_TEMPLATE_OUTPUT:
        raise ExpressionError("template.too_long", "the template is too long")
    key = _locale_key(locale)
    env = _environment(html, key)
    try:
        _refuse(source, env.parse(source))
        return CompiledTemplate(source, html, key)
    except TemplateSyntaxError as exc:
        raise ExpressionError(
            "template.syntax", f"template syntax: {exc.message}", _offset(source, exc.lineno)
        ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("template.syntax", "the template cannot be read") from None


def render_template(
    source: str | CompiledTemplate,
    context: Mapping[str, Any],
    locale: str | None = None,
    *,
    html: bool = False,
    max_output: int = MAX_TEMPLATE_OUTPUT,
) -> str:
    """Render a template (text, or one compiled already) with `context`; RuleError on failure.

    `max_output` caps the rendered text (characters); the default is MAX_TEMPLATE_OUTPUT.
    """
    template = source if isinstance(source, CompiledTemplate) else compile_template(source, html=html, locale=locale)
    return template.render(context, max_output=max_output)
