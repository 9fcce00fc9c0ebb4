"""docs/api.md promises checked through the ASGI client: created/updated ranges as filters (line 111)."""

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

