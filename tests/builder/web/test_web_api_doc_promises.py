"""docs/api.md promises checked through the ASGI client: created/updated ranges as filters (line 111) and
error messages in the caller's language (lines 245-246)."""

from __future__ import annotations


def test_created_and_updated_ranges_filter_for_any_lister_and_only_as_ranges(clinic):
    for role in ("admin", "front_desk"):  # the front desk may list patients, and so filter by when
        api = clinic.api(role)
        everyone = api.get("/api/patient", params={"created_at__gte": "2000-01-01T00:00", "count": "exact"})
        assert everyone.status_code == 200, everyone.text
        total = everyone.json()["total"]
        assert total > 0
        changed = api.get("/api/patient", params={"updated_at__gt": "2000-01-01T00:00", "count": "exact"})
        assert changed.json()["total"] == total
        assert api.get("/api/patient", params={"updated_at__lte": "2000-01-01T00:00"}).json()["total"] == 0
        for name in ("created_at", "created_at__in", "updated_at__ne", "updated_at__contains"):
            refused = api.get("/api/patient", params={name: "2026-03-01T00:00"})
            assert refused.status_code == 400, (role, name, refused.text)
            assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [(name, "unknown_field")]


def test_errors_speak_the_accept_language(clinic):
    api = clinic.api("admin")
    body = {"name": "王芳", "phone": "12345"}
    english = api.post("/api/patient", json=body, headers={"Accept-Language": "en"})
    chinese = api.post("/api/patient", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status_code == chinese.status_code == 422
    (said_en,) = [e["message"] for e in english.json()["errors"] if e["field"] == "phone"]
    (said_zh,) = [e["message"] for e in chinese.json()["errors"] if e["field"] == "phone"]
    assert said_en == "Enter a valid phone number."
    assert said_zh != said_en and any("\u4e00" <= c <= "\u9fff" for c in said_zh)
    unknown = api.get("/api/patient", params={"nope": "1"}, headers={"Accept-Language": "zh-CN"})
    assert unknown.status_code == 400 and any("\u4e00" <= c <= "\u9fff" for c in unknown.json()["errors"][0]["message"])
