"""Meaning checks of notification templates: they compile in the sandbox and read only known values.

A template's variables are the fields of the record it is sent about, so each
template is checked against the entity of every automation that sends it:
`{{ patient.name }}` on an appointment is right, `{{ patiant.name }}` is not.
Roots are found with jinja2.meta; attribute chains are walked through links.
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import Environment, nodes
from jinja2 import meta as jinja_meta

from engines.forms import check_localized
from engines.rules import ExpressionError, Loc, Problem, Scope, compile_template, did_you_mean

from .context import FlowContext

# Names every template may read besides the record's fields (filled in when a message is made).
TEMPLATE_NAMES = ("app", "recipient")
_PARSER = Environment()  # only parses: jinja2.meta needs the filter names the sandbox adds
_PARSER.filters.update({"date": str, "datetime": str})


def check_notifications(ctx: FlowContext) -> Iterator[Problem]:
    """Syntax and sandbox problems of every template, then unknown variables per entity that uses it."""
    users: dict[str, set[str]] = {}
    for automation in ctx.automations.values():
        for action in automation.do:
            if action.notify is not None:
                users.setdefault(action.notify.template, set()).add(automation.entity)
    for name, spec in ctx.notifications.items():
        loc: Loc = ("notifications", name)
        if spec.title is not None:
            yield from check_localized(spec.title, loc + ("title",), ctx.locales)
        for channel, message in spec.channels.items():
            for part in ("subject", "body"):
                text = getattr(message, part)
                if text is None:
                    continue
                at = loc + ("channels", channel, part)
                yield from check_localized(text, at, ctx.locales)
                for locale, source in [(None, text)] if isinstance(text, str) else text.items():
                    where = at if locale is None else at + (locale,)
                    yield from _template(ctx, source, locale, sorted(users.get(name, ())), where)


def _template(ctx: FlowContext, source: str, locale: str | None, entities: list[str], loc: Loc) -> Iterator[Problem]:
    try:
        compile_template(source, locale=locale)
    except ExpressionError as exc:
        yield Problem(loc, exc.code, exc.message, exc.hint, exc.column)
        return
    tree = _PARSER.parse(source)
    roots = jinja_meta.find_undeclared_variables(tree)
    for entity in entities:
        if entity not in ctx.entities:
            continue
        scope = ctx.scope(entity)
        for root in sorted(roots):
            if root not in TEMPLATE_NAMES and scope.lookup(root) is None:
                hint = did_you_mean(root, [*scope.names(), *TEMPLATE_NAMES])
                yield Problem(
                    loc,
                    "template.unknown_name",
                    f"`{root}` is not a field of `{entity}`, which this notification is sent about",
                    hint,
                    _offset(source, root),
                )
        for path in _paths(tree, roots):
            problem = _walk(scope, path, entity)
            if problem:
                yield Problem(loc, "template.unknown_name", problem, None, _offset(source, path[-1]))


def _paths(tree: nodes.Template, roots: set[str]) -> list[tuple[str, ...]]:
    """Every outermost `a.b.c` chain whose root is a context variable."""
    found: list[tuple[str, ...]] = []
    inner: set[int] = set()
    for node in tree.find_all(nodes.Getattr):
        if id(node) in inner:
            continue
        chain: list[str] = []
        current: nodes.Node = node
        while isinstance(current, nodes.Getattr):
            chain.append(current.attr)
            current = current.node
            inner.add(id(current))
        if isinstance(current, nodes.Name) and current.name in roots:
            found.append((current.name, *reversed(chain)))
    return found


def _walk(scope: Scope, path: tuple[str, ...], entity: str) -> str | None:
    """Why `path` cannot be read from a record of `entity`, or None."""
    if path[0] in TEMPLATE_NAMES:
        return None
    current = scope.lookup(path[0])
    for i, part in enumerate(path[1:], start=1):
        if current is None or current.type == "any":
            return None
        if current.record is None:
            return f"`{'.'.join(path[:i])}` is not a link; `.{part}` cannot be read from it"
        current = current.record.scope.lookup(part)
        if current is None:
            return f"`{part}` is not a field of `{'.'.join(path[:i])}` (on `{entity}`)"
    return None


def _offset(source: str, name: str) -> int:
    at = source.find(name)
    return max(at, 0)
