"""Which language to answer in: the session's choice, else the browser's, else the blueprint's."""

from __future__ import annotations

from collections.abc import Sequence

from builder.web.i18n import LOCALES


def supported_locales(blueprint_locales: Sequence[str]) -> tuple[str, ...]:
    """The blueprint's languages the app has words for, in the blueprint's order."""
    return tuple(loc for loc in blueprint_locales if loc in LOCALES) or LOCALES


def accept_language_match(header: str | None, supported: Sequence[str]) -> str | None:
    """The best of `supported` for an `Accept-Language` header (`zh` and `zh-TW` pick `zh-CN`)."""
    if not header or len(header) > 1000:
        return None
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            wanted.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        for locale in supported:
            if tag == locale.lower() or tag.split("-")[0] == locale.lower().split("-")[0]:
                return locale
    return None


def choose_locale(session_choice: object, accept_language: str | None, supported: Sequence[str]) -> str:
    if isinstance(session_choice, str) and session_choice in supported:
        return session_choice
    return accept_language_match(accept_language, supported) or supported[0]
