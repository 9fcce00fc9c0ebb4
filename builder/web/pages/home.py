"""The home page: the role's dashboards (its home dashboard first), its reports, the entities it may read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.runtime import Runtime
from engines.forms import localized

from ..context import require_actor
from ..i18n import register_texts
from ..presenting import entity_title
from ..rendering import render
from ..reports.running import may_run

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
        return render(request, "home.html", {"cards": cards, "dashboards": boards, "reports": reports})

    return [Route("/", home, methods=["GET"], name="home")]
