"""POST JSON to a gateway and sort its failures into retryable or not.

Shared by the SMS, WeCom and webhook channels: 5xx, 429, timeouts and refused
connections may pass later; any other 4xx will not, so it is not retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from .channel import DeliveryError


def _plain(value: Any) -> Any:
    """Dates and times as ISO 8601, anything else JSON lacks as text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def json_bytes(body: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes that are sent (and signed)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_plain).encode("utf-8")


def post(client: httpx.Client, url: str, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
    """The gateway's answer when it is a success; DeliveryError otherwise (never the URL: it may hold a key)."""
    try:
        response = client.post(url, content=content, headers={"Content-Type": "application/json", **headers})
    except httpx.TimeoutException:
        raise DeliveryError("gateway timeout", retryable=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"gateway unreachable ({type(exc).__name__})", retryable=True) from None
    status = response.status_code
    if status >= 500 or status in (408, 429):
        raise DeliveryError(f"gateway {status}", retryable=True)
    if status >= 400:
        raise DeliveryError(f"gateway {status}", retryable=False)
    return response


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON object a gateway answered with ({} when it sent none)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
