"""Field-level error messages in every interface language.

Errors travel as a code plus parameters; the text is picked for the reader's locale
only when it is shown, so the API and the pages say the same thing.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"en": "This field is required.", "zh-CN": "此项为必填项。"},
    "unique": {"en": "This value is already used by another record.", "zh-CN": "该值已被其他记录使用。"},
    "min": {"en": "Must be at least {limit}.", "zh-CN": "不能小于 {limit}。"},
    "max": {"en": "Must be at most {limit}.", "zh-CN": "不能大于 {limit}。"},
    "max_length": {"en": "At most {limit} characters.", "zh-CN": "最多 {limit} 个字符。"},
    "invalid_text": {"en": "Enter text.", "zh-CN": "请输入文本。"},
    "invalid_integer": {"en": "Enter a whole number.", "zh-CN": "请输入整数。"},
    "invalid_number": {"en": "Enter a number.", "zh-CN": "请输入数字。"},
    "too_many_digits": {
        "en": "Too many digits (at most {limit} in all, {scale} after the point).",
        "zh-CN": "位数过多(最多 {limit} 位,小数点后 {scale} 位)。",
    },
    "invalid_boolean": {"en": "Choose yes or no.", "zh-CN": "请选择是或否。"},
    "invalid_date": {"en": "Enter a date as YYYY-MM-DD.", "zh-CN": "请按 YYYY-MM-DD 格式输入日期。"},
    "invalid_datetime": {
        "en": "Enter a date and time as YYYY-MM-DD HH:MM.",
        "zh-CN": "请按 YYYY-MM-DD HH:MM 格式输入日期时间。",
    },
    "invalid_option": {"en": "Choose one of: {choices}.", "zh-CN": "请从以下选项中选择:{choices}。"},
    "invalid_phone": {"en": "Enter a valid phone number.", "zh-CN": "请输入有效的电话号码。"},
    "invalid_email": {"en": "Enter a valid e-mail address.", "zh-CN": "请输入有效的电子邮箱。"},
    "invalid_resident_id": {
        "en": "Enter a valid 18-character resident ID (the check digit does not match).",
        "zh-CN": "请输入有效的18位居民身份证号码(校验位不正确)。",
    },
    "invalid_cursor": {
        "en": "This page position is not valid for this list (start again from the first page).",
        "zh-CN": "该翻页位置对此列表无效(请从第一页重新开始)。",
    },
    "invalid_link": {"en": "Choose an existing record.", "zh-CN": "请选择已存在的记录。"},
    "link_filter": {
        "en": "{label}: the chosen record is not one of the allowed choices here.",
        "zh-CN": "{label}:所选记录不在此处的可选范围内。",
    },
    "link_filter_new": {
        "en": "This record would not be one of the allowed choices for “{label}” there, so it was not created; "
        "change the values the choice depends on.",
        "zh-CN": "此记录不在“{label}”的可选范围内,因此未创建;请修改该选项所依据的值。",
    },
    "invalid_rows": {"en": "Enter a list of rows.", "zh-CN": "请输入行列表。"},
    "too_many_rows": {"en": "At most {limit} rows.", "zh-CN": "最多 {limit} 行。"},
    "read_only": {"en": "This field is computed and cannot be set.", "zh-CN": "此项为自动计算,不能修改。"},
    "read_only_if": {
        "en": "This field cannot be changed now, because of: {fields}.",
        "zh-CN": "由于{fields}的取值,此项当前不能修改。",
    },
    "not_writable": {"en": "You may not change this field.", "zh-CN": "您无权修改此项。"},
    "unknown_field": {"en": "There is no such field.", "zh-CN": "没有这个字段。"},
    "conflict": {
        "en": "This record was changed by someone else; reload and try again.",
        "zh-CN": "该记录已被他人修改,请刷新后重试。",
    },
    "rule_failed": {
        "en": "{label} could not be worked out or checked; please tell your administrator.",
        "zh-CN": "无法计算或校验「{label}」,请告知管理员。",
    },
}


def message(code: str, locale: str, **params: Any) -> str:
    """The text for error `code` in `locale` (English when there is no translation)."""
    texts = MESSAGES.get(code, {"en": code})
    template = texts.get(locale) or texts.get(locale.split("-")[0]) or texts["en"]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
