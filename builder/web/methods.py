"""The methods a path answers to (the `Allow` of a 405), and routes that own their path.

Starlette's router answers 405 with the methods of the first route whose path
matched, so `/login` (one route for GET, another for POST) claimed to allow only
GET. Here every route and mount is asked, so `Allow` lists each method the path
really serves. An `ExclusiveRoute` owns its path for every method: `POST /api/audit`
is a 405 from it, not a record create for an entity called `audit`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ExclusiveRoute(Route):
    """A route that claims its path for all methods: the ones it lacks get 405 here, not elsewhere."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods any of `routes` serves on `scope`'s path, in a stable order."""
    top = {**scope, "root_path": scope.get("app_root_path", scope.get("root_path", "")), "path_params": {}}
    found, _ = _collect(routes, top)
    return sorted(found, key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER), m))


def _collect(routes: Iterable[BaseRoute], scope: Scope) -> tuple[set[str], bool]:
    """(methods, whether an exclusive route decided them alone)."""
    found: set[str] = set()
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            methods, exclusive = _collect(route.routes, {**scope, **child})
            if exclusive:
                return methods, True
            found |= methods
        elif isinstance(route, Route):
            if isinstance(route, ExclusiveRoute):
                return set(route.methods or ORDER), True
            found |= set(route.methods or ORDER)
    return found, False


def allow_header(app: Any, scope: Scope, fallback: str) -> str:
    """`Allow` for a 405 on `scope` in `app` (`fallback`, the router's own, if nothing matches)."""
    routes = getattr(getattr(app, "router", None), "routes", None)
    methods = allowed_methods(routes, scope) if routes else []
    return ", ".join(methods) or fallback
