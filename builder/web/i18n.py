"""Interface text in every supported language.

Blueprint text (labels, titles) is localized by the blueprint itself; this catalogue
holds the app's own words (buttons, headings). Modules register their texts with
`register_texts`, so each feature keeps its words beside its code.
"""

from __future__ import annotations

from typing import Any

from builder.locales import LOCALES

__all__ = ["LOCALES", "TEXTS", "register_texts", "translate"]

TEXTS: dict[str, dict[str, str]] = {}


def register_texts(texts: dict[str, dict[str, str]]) -> None:
    """Add `{key: {locale: text}}` entries; a key registered twice must say the same."""
    TEXTS.update(texts)


def translate(key: str, locale: str, **params: Any) -> str:
    """The text for `key` in `locale`, falling back to English, then to the key itself."""
    entry = TEXTS.get(key)
    if entry is None:
        return key
    template = entry.get(locale) or entry.get("en") or key
    try:
        return template.format(**params) if params else template
    except (KeyError, IndexError):
        return template


register_texts(
    {
        "app.sign_in": {"en": "Sign in", "zh-CN": "登录"},
        "app.sign_out": {"en": "Sign out", "zh-CN": "退出"},
        "app.home": {"en": "Home", "zh-CN": "首页"},
        "app.language": {"en": "Language", "zh-CN": "语言"},
        "app.large_text": {"en": "Large text", "zh-CN": "大字体"},
        "app.audit": {"en": "Audit log", "zh-CN": "审计日志"},
        "app.reports": {"en": "Reports", "zh-CN": "报表"},
    }
)

register_texts(
    {
        "app.skip": {"en": "Skip to content", "zh-CN": "跳到正文"},
        "app.normal_text": {"en": "Normal text", "zh-CN": "标准字体"},
        "app.menu": {"en": "Main menu", "zh-CN": "主菜单"},
        "app.switch_to": {"en": "中文", "zh-CN": "English"},
    }
)
