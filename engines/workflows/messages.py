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
        subject = _render(message.subject, locale, context)
    body = _render(message.body, locale, context)
    return Message(channel, locale, subject, body)


def _render(text: Any, locale: str, context: Mapping[str, Any]) -> str:
    """The text for `locale`, with dates written the way that text's language writes them.

    A Chinese reader falling back to the English text reads "At 02 Dec 2026", not a mix.
    """
    written_in = text_locale(text, locale)
    return render_template(_compiled(localized(text, locale), written_in), context, written_in)


def text_locale(text: Any, locale: str) -> str:
    """Which locale's text `localized(text, locale)` picks (the asked one for a text without locales)."""
    if not isinstance(text, dict):
        return locale
    for key in (locale, locale.split("-")[0], "en"):
        if key in text:
            return key
    return next(iter(text), locale)


@lru_cache(maxsize=1024)
def _compiled(source: str, locale: str) -> CompiledTemplate:
    """Compile each template text once per locale: a worker renders the same few thousands of times."""
    return compile_template(source, locale=locale)
