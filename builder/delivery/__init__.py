"""Delivery of the outbox: channels configured in crm.toml, patient protection, the worker job.

Automations write `crm_outbox` rows in the transaction of the change that caused them;
this package sends them afterwards (see docs/workflows.md, "Delivery").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .channel import (
    CHANNEL_TYPES,
    Address,
    Channel,
    ChannelConfig,
    DeliveryError,
    OutgoingMessage,
    Sent,
    register_channel,
)
from .deliver import Delivery, Outcome, deliver
from .inbox import InboxChannel
from .job import claim, delivery_job, record, retry
from .report_mail import check_report_channels
from .settings import DeliverySettings, check_channels_used, delivery_settings, load_channels
from .webhook import signature

if TYPE_CHECKING:
    from ..runtime import Runtime


def open_delivery(runtime: Runtime, environ: Mapping[str, str] | None = None) -> Delivery:
    """The channels and settings of the runtime's project, checked against what its blueprint uses."""
    from ..project import CONFIG_NAME

    project = runtime.project
    source = str(project.root / CONFIG_NAME)
    environ = os.environ if environ is None else environ
    channels = load_channels(project.config, environ, source, project.root)
    check_channels_used(runtime.loaded.flows, channels, source)
    check_report_channels(runtime.blueprint.reports, channels, source)
    for channel in channels.values():
        if isinstance(channel, InboxChannel):
            channel.bind(runtime.engine, runtime.records.clock)
    app = runtime.blueprint.app
    return Delivery(
        records=runtime.records,
        flows=runtime.loaded.flows,
        channels=channels,
        settings=delivery_settings(project.config, source),
        zone=ZoneInfo(app.timezone),
        default_locale=runtime.blueprint.default_locale,
        app={"name": app.name, "timezone": app.timezone},
        environ=environ,
        reports=runtime.blueprint.reports,
    )


__all__ = [
    "CHANNEL_TYPES",
    "Address",
    "Channel",
    "ChannelConfig",
    "Delivery",
    "DeliveryError",
    "DeliverySettings",
    "Outcome",
    "OutgoingMessage",
    "Sent",
    "check_channels_used",
    "claim",
    "deliver",
    "delivery_job",
    "delivery_settings",
    "load_channels",
    "open_delivery",
    "record",
    "register_channel",
    "retry",
    "signature",
]
