"""The audit log shows what a read returned by the fields' labels, not as JSON of field names."""

from __future__ import annotations

import json
from pathlib import Path

from builder.loading import load_blueprint
from builder.web.audit_view import detail_lines, role_label

CLINIC = Path(__file__).resolve().parents[3] / "blueprints" / "clinic"


def test_a_reads_detail_names_fields_filters_and_sort_by_their_labels():
    blueprint = load_blueprint(CLINIC).blueprint
    detail = json.dumps(
        {"rows": 2, "ids": [3, 4], "fields": ["name", "phone"], "filters": ["stage"], "search": True, "sort": "-name"}
    )
    lines = {line["label"]: line["value"] for line in detail_lines(blueprint, "patient", detail, "zh-CN")}
    assert lines == {
        "行数": "2",
        "记录": "#3, #4",
        "字段": "姓名, 手机号",
        "筛选": "阶段",
        "搜索": "是",
        "排序": "姓名 ↓",
    }
    assert all("phone" not in value for value in lines.values())


def test_a_detail_that_is_not_a_json_object_stays_as_it_is():
    blueprint = load_blueprint(CLINIC).blueprint
    assert detail_lines(blueprint, "patient", "password changed", "en") == []
    assert detail_lines(blueprint, None, "[1, 2]", "en") == []
    assert detail_lines(blueprint, None, None, "en") == []


def test_the_system_actor_role_has_a_label():
    blueprint = load_blueprint(CLINIC).blueprint
    assert role_label(blueprint, "system", "zh-CN") == "系统"
    assert role_label(blueprint, "system", "en") == "System"
