"""Apache ECharts, served by the app itself from the npm package the project's setup installs.

`make assets` runs `npm ci --omit=dev` (package.json pins `echarts`); the file is
served at /static/vendor/echarts.min.js, never from a CDN (clinics run on
intranets). `CRM_ECHARTS_FILE` points elsewhere (a packaged install). When the
file is absent the route answers 404 and the pages show their tables and say the
charts library is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

REPO = Path(__file__).resolve().parents[3]
DEFAULT_FILE = REPO / "node_modules" / "echarts" / "dist" / "echarts.min.js"
URL = "/static/vendor/echarts.min.js"


def echarts_file() -> Path:
    configured = os.environ.get("CRM_ECHARTS_FILE")
    return Path(configured) if configured else DEFAULT_FILE


def charts_available() -> bool:
    return echarts_file().is_file()


async def echarts(request: Request) -> Response:
    path = echarts_file()
    if not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


def vendor_routes() -> list[BaseRoute]:
    """Mounted before /static, so the vendor file is found here and not in builder/web/static."""
    return [Route(URL, echarts, methods=["GET"], name="vendor_echarts")]
