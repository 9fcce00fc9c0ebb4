"""The whitelisted function library expressions may call.

A registry of small named functions. Each carries a `FunctionSpec` so expressions are
checked at load time (argument count and types, result type) and so the docs can
list every function with an example. By default a function is null-safe: when any
positional argument is null the call gives null without running the function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

FUNCTIONS: dict[str, Callable[..., Any]] = {}
_SPEC_ATTRIBUTE = "rules_spec"


@dataclass(frozen=True)
class FunctionSpec:
    """What the checker and the compiler need to know about a library function."""

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number (min, max, coalesce)
    keywords: bool = False  # takes **where filters (count, exists, ...)
    params: tuple[Any, ...] | None = None  # rule type (or tuple of types) per positional argument
    returns: str = "any"
    null_safe: bool = True
    needs_env: bool = False  # receives the Evaluation (clock, related-records port) first
    example: str | None = None

    def param_type(self, index: int) -> Any:
        if not self.params:
            return "any"
        return self.params[min(index, len(self.params) - 1)]


def _arity(fn: Callable[..., Any], needs_env: bool) -> tuple[int, int | None, bool]:
    parameters = list(inspect.signature(fn).parameters.values())
    if needs_env:
        parameters = parameters[1:]
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    keywords = any(p.kind is p.VAR_KEYWORD for p in parameters)
    return required, None if variadic else len(positional), keywords


def make_spec(name: str, fn: Callable[..., Any], **options: Any) -> FunctionSpec:
    """A FunctionSpec for `fn`, arity read from its signature."""
    needs_env = options.get("needs_env", False)
    min_args, max_args, keywords = _arity(fn, needs_env)
    return FunctionSpec(name, fn, min_args, max_args, keywords, **options)


def spec_of(name: str, fn: Callable[..., Any]) -> FunctionSpec:
    """The spec a registered function carries, or one inferred for a plain callable."""
    spec = getattr(fn, _SPEC_ATTRIBUTE, None)
    if isinstance(spec, FunctionSpec):
        return spec if spec.name == name else FunctionSpec(**{**spec.__dict__, "name": name})
    try:
        return make_spec(name, fn)
    except (TypeError, ValueError):  # builtins without a signature
        return FunctionSpec(name, fn, 0, None)


def register_function(
    name: str | Callable[..., Any] | None = None,
    *,
    params: tuple[Any, ...] | None = None,
    returns: str = "any",
    null_safe: bool = True,
    needs_env: bool = False,
    example: str | None = None,
):
    """Add a function to the library under `name` (default: its own name).

    `params`/`returns` are rule type names used by the checker; `needs_env` functions
    get the Evaluation first; `null_safe=False` functions see null arguments themselves.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name if isinstance(name, str) else fn.__name__
        spec = make_spec(
            key, fn, params=params, returns=returns, null_safe=null_safe, needs_env=needs_env, example=example
        )
        setattr(fn, _SPEC_ATTRIBUTE, spec)
        FUNCTIONS[key] = fn
        return fn

    if callable(name):
        return decorate(name)
    return decorate


def library_specs(functions: Mapping[str, Callable[..., Any]]) -> dict[str, FunctionSpec]:
    """Specs for every function of a library mapping."""
    return {name: spec_of(name, fn) for name, fn in functions.items()}


def _load_library() -> None:
    """Import the modules whose functions register themselves."""
    from . import fn_dates, fn_identity, fn_related, fn_values  # noqa: F401


_load_library()
