"""uvicorn's access log without query strings.

Query strings carry search terms and filter values (`?phone=13812345678`,
`?id_number=…`), so a log line with them would be a clear-text copy of patient
data outside the encrypted columns. The filter keeps method, path and status.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

ACCESS_LOGGER = "uvicorn.access"


def path_without_query(target: str) -> str:
    """`/api/patient?phone=1` -> `/api/patient` (a request target as uvicorn logs it)."""
    return target.split("?", 1)[0]


class QueryStringFilter(logging.Filter):
    """Drops the query string from uvicorn's access records (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = args[:2] + (path_without_query(args[2]),) + args[3:]
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with the query-string filter on its access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["no_query_string"] = {"()": f"{__name__}.QueryStringFilter"}
    config["handlers"]["access"]["filters"] = ["no_query_string"]
    return config
