"""Server-rendered pages: home, lists, record details (with their workflows), forms, deletes and "My tasks"."""

from __future__ import annotations

from starlette.routing import BaseRoute

from builder.runtime import Runtime

from . import bulk, forms, home, lists, pickers, records, search, tasks, workflow_panels


def page_routes(runtime: Runtime) -> list[BaseRoute]:
    return [
        *home.routes(runtime),
        *lists.routes(runtime),
        *forms.routes(runtime),
        *pickers.routes(runtime),
        *records.routes(runtime),
        *workflow_panels.routes(runtime),
        *tasks.routes(runtime),
        *search.routes(runtime),
        *bulk.routes(runtime),
    ]
