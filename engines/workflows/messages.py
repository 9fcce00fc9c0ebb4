"""Render a notification for one channel and locale: the text the outbox will hold.

Templates run in the rules engine's sandbox (bounded output, no attribute tricks);
the locale falls back like every label (the asked one, its language, English, any).
Rendering happens when a message is made (by the worker), so a failure is the rules
engine's RuleError, which the caller records as the message's failure reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engines.forms import localized
from engines.rules import CompiledTemplate, compile_template, render_template

from .notification_spec import NotificationSpec


@dataclass(frozen=True)
class Message:
    """A rendered notification: the subject (None when the channel has none) and the body."""

    channel: str
    locale: str
    subject: str | None
    body: str


def render_notification(spec: NotificationSpec, channel: str, locale: str, context: Mapping[str, Any]) -> Message:
    """The message of `spec` for `channel` in `locale`; KeyError if the notification has no such channel.

    Raises the rules engine's RuleError when a template fails on the data.
    """
    message = spec.channels[channel]
    subject = None
    if message.subject is not None:
        subject = render_template(_compiled(localized(message.subject, locale), locale), context, locale)
    body = render_template(_compiled(localized(message.body, locale), locale), context, locale)
    return Message(channel, locale, subject, body)


@lru_cache(maxsize=1024)
def _compiled(source: str, locale: str) -> CompiledTemplate:
    """Compile each template text once per locale: a worker renders the same few thousands of times."""
    return compile_template(source, locale=locale)
