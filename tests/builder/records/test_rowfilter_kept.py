"""Row filters are compiled once per user and reused: each user still sees only their own rows.

(RowFilters alone, over a small table: tests/builder/records/test_rowfilter_constants.py.)
"""

from __future__ import annotations

from builder.records import SYSTEM, Actor


def test_two_doctors_listing_in_turn_each_see_only_their_appointments(service):
    from builder.accounts.users import add_user

    doctors = {}
    for name in ("li", "wang"):
        user = add_user(service.engine, name, "doctor", "a long enough password 1", roles=["doctor"])
        staff = service.create(SYSTEM, "staff", {"name": f"Dr {name}", "user": user.id})
        doctors[name] = (Actor(id=user.id, name=name, role="doctor"), staff["id"])
    patient = service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13800138000"})
    for hour, name in ((9, "li"), (10, "wang"), (11, "li")):
        service.create(
            SYSTEM,
            "appointment",
            {"patient": patient["id"], "doctor": doctors[name][1], "starts_at": f"2026-12-01T{hour:02d}:00"},
        )

    def seen(name: str) -> set[int]:
        page = service.list(doctors[name][0], "appointment", sort="id")
        return {item["doctor"] for item in page.items}

    for name in ("li", "wang", "li", "wang"):
        assert seen(name) == {doctors[name][1]}
    assert len(service.list(doctors["li"][0], "appointment").items) == 2
