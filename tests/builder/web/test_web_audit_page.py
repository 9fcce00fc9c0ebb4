"""The audit page reads like a record of events: one clock (UTC, shown in the app's timezone), words not codes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from clinic_fixtures import csrf_of

from builder.system_tables import audit

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
CSS = Path(__file__).resolve().parents[3] / "builder" / "web" / "static" / "app.css"


def _table(html: str) -> str:
    return html[html.index("<tbody>") : html.index("</tbody>")]


def _update_stage(clinic) -> dict:
    patient = clinic.data["patients"][0]
    response = clinic.api("doctor").patch(
        f"/api/patient/{patient['id']}",
        json={"version": patient["version"], "stage": "active", "consent_marketing": False},
    )
    assert response.status_code == 200, response.text
    return patient


def test_record_events_and_sign_ins_share_one_utc_clock_and_sort_together(clinic):
    patient = _update_stage(clinic)
    admin = clinic.login("admin")  # signs in after the change: it must be the newest entry
    items = admin.get("/api/audit?per_page=5").json()["items"]
    assert [i["action"] for i in items[:2]] == ["login", "update"]
    assert items[1]["record_id"] == patient["id"]
    now = dt.datetime.now(dt.UTC)
    for item in items[:2]:
        at = dt.datetime.fromisoformat(item["at"])
        assert at.utcoffset() == dt.timedelta(0)
        assert abs(now - at) < dt.timedelta(minutes=5), item


def test_the_page_shows_app_time_labels_and_empty_not_python_values(clinic):
    _update_stage(clinic)
    admin = clinic.login("admin")
    update = admin.get("/api/audit?action=update").json()["items"][0]
    page = admin.get("/audit?per_page=200")
    assert page.status_code == 200
    body = _table(page.text)
    shown = dt.datetime.fromisoformat(update["at"]).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert f'<time datetime="{update["at"]}">{shown}</time>' in body
    assert "Stage: Enquiry → Active" in body
    assert "Marketing consent: yes → no" in body
    assert "empty → " in body  # created records: every field was empty before
    for python_text in ("None", "False", "True"):
        assert python_text not in body
    for words in ("Signed in", "Changed", "Created", "Administrator", "Doctor", "Patient"):
        assert words in body, words


def test_the_page_speaks_chinese_and_names_unknown_actions_in_words(clinic):
    with clinic.runtime.engine.begin() as conn:
        conn.execute(
            audit.insert().values(
                at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                actor="system",
                role="admin",
                action="masked_lookup_alert",
                entity="patient",
            )
        )
    admin = clinic.login("admin")
    english = _table(admin.get("/audit").text)
    assert "Masked lookup alert" in english and ">masked_lookup_alert<" not in english
    token = csrf_of(admin.get("/audit").text)
    assert admin.post("/locale", data={"locale": "zh-CN", "next": "/audit", "csrf_token": token}).status_code == 303
    chinese = _table(admin.get("/audit").text)
    for words in ("登录", "管理员", "患者", "新建"):
        assert words in chinese, words
    assert 'data-action="login">登录</span>' in chinese and "<td>管理员</td>" in chinese
    assert "<td>patient</td>" not in chinese and "<td>Patient</td>" not in chinese


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_header_audit_link_is_readable_on_the_header(clinic):
    assert 'href="/audit"' in clinic.login("admin").get("/").text
    css = CSS.read_text(encoding="utf-8")
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    header = re.search(r"\.top-bar\s*\{[^}]*background:\s*var\(--([\w-]+)\)", css).group(1)
    rule = re.search(r"\.top-actions a\s*\{([^}]*)\}", css)
    assert rule, "links in the header need their own colour (the page's link colour is the header's)"
    link = re.search(r"color:\s*var\(--([\w-]+)\)", rule.group(1)).group(1)
    lighter, darker = sorted((_luminance(colours[link]), _luminance(colours[header])), reverse=True)
    assert (lighter + 0.05) / (darker + 0.05) >= 4.5
