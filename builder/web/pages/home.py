"""The home page: the role's panels (today's work), its dashboards (its home dashboard first), reports, entities.

`roles.ROLE.home` declares it: `dashboard:` alone makes `/` open that dashboard;
`panels:` are short lists (home_panels.py). Without it: today's records of up to
three entities the role may read, and its `home_for` dashboard linked first.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.runtime import Runtime
from engines.forms import localized

from ..audit_view import role_label
from ..context import require_actor
from ..i18n import register_texts
from ..presenting import entity_title
from ..rendering import render
from ..reports.running import may_run
from .home_panels import default_panels, home_panels

register_texts(
    {
        "home.title": {"en": "What would you like to open?", "zh-CN": "您要打开哪一项?"},
        "home.nothing": {"en": "Your role has no records to show here.", "zh-CN": "您的角色在此没有可查看的记录。"},
        "home.api_docs": {"en": "API documentation", "zh-CN": "接口文档"},
        "home.your_dashboard": {"en": "Your dashboard: {title}", "zh-CN": "我的看板:{title}"},
        "home.reports": {"en": "Reports", "zh-CN": "报表"},
        "home.signed_in_as": {"en": "Signed in as {name} ({role})", "zh-CN": "当前用户:{name}({role})"},
    }
)


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def home(request: Request) -> Response:
        actor = require_actor(request)
        cards = []
        for name, entity in service.entities.items():
            grant = service.policy.grant(actor, name)
            if grant.readable:
                cards.append({"name": name, "title": entity_title(entity, actor.locale), "create": grant.create})
        blueprint = runtime.blueprint
        boards = [
            {
                "name": name,
                "title": localized(board.title, actor.locale, name.capitalize()),
                "home": actor.role in board.home_for,
            }
            for name, board in blueprint.dashboards.items()
            if actor.role in board.roles
        ]
        boards.sort(key=lambda board: not board["home"])  # the role's home dashboard first
        reports = any(may_run(service, actor, spec) for spec in blueprint.reports.values())
        role = blueprint.roles.get(actor.role)
        home = role.home if role is not None else None
        if home is not None and home.dashboard and not home.panels and any(b["name"] == home.dashboard for b in boards):
            return RedirectResponse(f"/dashboards/{home.dashboard}", status_code=303)
        if home is not None and home.dashboard:
            for board in boards:
                board["home"] = board["name"] == home.dashboard
            boards.sort(key=lambda board: not board["home"])
        specs = home.panels if home is not None else default_panels(service, actor)
        panels = await run_in_threadpool(home_panels, service, actor, specs)
        return render(
            request,
            "home.html",
            {
                "cards": cards,
                "dashboards": boards,
                "reports": reports,
                "panels": panels,
                "role_title": role_label(blueprint, actor.role, actor.locale),
            },
        )

    return [Route("/", home, methods=["GET"], name="home")]
