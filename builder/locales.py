"""The languages the app speaks, below every layer that needs them.

Blueprints (`app.locales`), accounts (a user's language) and the web app (its texts
and `Accept-Language`) all draw from this one list, so it lives here and not in the
web layer: the layers below `builder.web` must not import it.
"""

from __future__ import annotations

LOCALES: tuple[str, ...] = ("zh-CN", "en")  # the first is the fallback when nothing else decides


def babel_locale(locale: str) -> str:
    """Our locale code as Babel (CLDR) spells it: zh-CN -> zh_Hans_CN."""
    return {"zh-CN": "zh_Hans_CN"}.get(locale, locale.replace("-", "_"))


def count_text(total: int | None, kind: str, locale: str) -> str:
    """A list's total as people read it: `1,234`, `about 1.2M` / `约 123.5万`, `10,000+`; empty when not counted."""
    from babel.numbers import format_compact_decimal, format_decimal

    where = babel_locale(locale)
    if total is None or kind == "none":
        return ""
    if kind == "estimate":
        compact = format_compact_decimal(total, locale=where, fraction_digits=1)
        return f"约 {compact}" if locale.startswith("zh") else f"about {compact}"
    text = format_decimal(total, locale=where)
    return f"{text}+" if kind == "at_least" else text
