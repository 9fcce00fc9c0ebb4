"""The languages the app speaks, below every layer that needs them.

Blueprints (`app.locales`), accounts (a user's language) and the web app (its texts
and `Accept-Language`) all draw from this one list, so it lives here and not in the
web layer: the layers below `builder.web` must not import it.
"""

from __future__ import annotations

LOCALES: tuple[str, ...] = ("zh-CN", "en")  # the first is the fallback when nothing else decides
