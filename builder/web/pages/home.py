"""The home page: the entities this actor may read, with a shortcut to create."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.runtime import Runtime

from ..context import require_actor
from ..i18n import register_texts
from ..presenting import entity_title
from ..rendering import render

register_texts(
    {
        "home.title": {"en": "What would you like to open?", "zh-CN": "您要打开哪一项?"},
        "home.nothing": {"en": "Your role has no records to show here.", "zh-CN": "您的角色在此没有可查看的记录。"},
        "home.api_docs": {"en": "API documentation", "zh-CN": "接口文档"},
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
        return render(request, "home.html", {"cards": cards})

    return [Route("/", home, methods=["GET"], name="home")]
