"""Server-rendered pages: home, lists, calendars, boards, record details (and workflows), forms, deletes, "My tasks"."""

from __future__ import annotations

from starlette.routing import BaseRoute

from builder.runtime import Runtime

from . import bulk, bulk_update, calendar, forms, home, kanban, lists, pickers, records, search, tasks, workflow_panels


def page_routes(runtime: Runtime) -> list[BaseRoute]:
    return [
        *home.routes(runtime),
        *lists.routes(runtime),
        *calendar.routes(runtime),
        *kanban.routes(runtime),
        *forms.routes(runtime),
        *pickers.routes(runtime),
        *records.routes(runtime),
        *workflow_panels.routes(runtime),
        *tasks.routes(runtime),
        *search.routes(runtime),
        *bulk.routes(runtime),
        *bulk_update.routes(runtime),
    ]
