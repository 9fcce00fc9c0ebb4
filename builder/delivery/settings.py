"""Read crm.toml's `[channels.NAME]` tables and `[delivery]` settings into ready channels.

Secrets never sit in the file: an option ending in `_env` names the environment
variable that holds one. A bad table (unknown type, unknown option, a variable not set)
is a ProjectError naming the file and the key, raised when the worker starts and by
`crm validate` given a project.

    [delivery]
    max_attempts = 5                 # then the row is dead (an admin may retry it)
    backoff_seconds = 30             # first retry after ~30 s, doubling, with jitter, capped at an hour
    quiet_hours = "21:00-08:00"      # in the app's time zone; "" turns them off
    daily_cap = 3                    # messages a day per patient (record and recipient); 0: no cap
    lease_seconds = 300              # a row left `sending` this long is taken back
    batch = 50                       # rows a worker claims at a time
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProjectError
from . import console, inbox, sms, smtp, webhook, wecom  # noqa: F401  (register the channel types)
from .channel import CHANNEL_TYPES, Channel, ChannelConfig


@dataclass(frozen=True)
class DeliverySettings:
    """How hard and when to try; defaults suit a small clinic."""

    max_attempts: int = 5
    backoff_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    quiet_start: dt.time | None = dt.time(21, 0)
    quiet_end: dt.time | None = dt.time(8, 0)
    daily_cap: int = 3
    lease_seconds: float = 300.0
    batch: int = 50


def _number(config: Mapping[str, Any], key: str, default: float, source: str, minimum: float) -> Any:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ProjectError(f"{source}: [delivery] {key}: expected a number of at least {minimum:g}, got {value!r}")
    return value


def _quiet_hours(value: Any, source: str) -> tuple[dt.time | None, dt.time | None]:
    if value in ("", None):
        return None, None
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in str(value).split("-"))
    except ValueError:
        raise ProjectError(f'{source}: [delivery] quiet_hours: expected "HH:MM-HH:MM" or "", got {value!r}') from None
    return start, end


def delivery_settings(config: Mapping[str, Any], source: str = "crm.toml") -> DeliverySettings:
    """The `[delivery]` table, checked."""
    table = config.get("delivery", {})
    if not isinstance(table, dict):
        raise ProjectError(f"{source}: [delivery] must be a table")
    known = {"max_attempts", "backoff_seconds", "quiet_hours", "daily_cap", "lease_seconds", "batch"}
    for key in table:
        if key not in known:
            raise ProjectError(f"{source}: [delivery] {key}: unknown setting (known: {', '.join(sorted(known))})")
    start, end = _quiet_hours(table.get("quiet_hours", "21:00-08:00"), source)
    return DeliverySettings(
        max_attempts=int(_number(table, "max_attempts", 5, source, 1)),
        backoff_seconds=float(_number(table, "backoff_seconds", 30, source, 0)),
        quiet_start=start,
        quiet_end=end,
        daily_cap=int(_number(table, "daily_cap", 3, source, 0)),
        lease_seconds=float(_number(table, "lease_seconds", 300, source, 1)),
        batch=int(_number(table, "batch", 50, source, 1)),
    )


def load_channels(
    config: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    source: str = "crm.toml",
    root: Path | None = None,
) -> dict[str, Channel]:
    """Every `[channels.NAME]` table as a ready channel, by name."""
    environ = os.environ if environ is None else environ
    tables = config.get("channels", {})
    if not isinstance(tables, dict):
        raise ProjectError(f"{source}: [channels] must hold [channels.NAME] tables")
    channels: dict[str, Channel] = {}
    for name, options in tables.items():
        if not isinstance(options, dict):
            raise ProjectError(f"{source}: [channels.{name}] must be a table with a `type`")
        kind = options.get("type")
        if kind not in CHANNEL_TYPES:
            known = ", ".join(sorted(CHANNEL_TYPES))
            raise ProjectError(f"{source}: [channels.{name}] type: unknown channel type {kind!r} (known: {known})")
        channels[name] = CHANNEL_TYPES[kind](ChannelConfig(name, options, environ, source, root))
    return channels


def used_channels(flows: Any) -> Iterator[tuple[str, str]]:
    """(channel name, automation) for every `notify` and `webhook` action of the compiled flows."""
    if flows is None:
        return
    for name, automation in flows.automations.items():
        for action in automation.spec.do:
            if action.notify is not None:
                yield action.notify.channel, name


def check_channels_used(flows: Any, channels: Mapping[str, Channel], source: str = "crm.toml") -> None:
    """A ProjectError naming each channel the blueprint sends through that crm.toml does not configure."""
    missing: dict[str, list[str]] = {}
    for channel, automation in used_channels(flows):
        if channel not in channels and automation not in missing.get(channel, []):
            missing.setdefault(channel, []).append(automation)
    if missing:
        listed = "; ".join(f"`{channel}` (used by {', '.join(names)})" for channel, names in sorted(missing.items()))
        raise ProjectError(f"{source}: no [channels.NAME] table for {listed}")
