"""The second vertical's lists reuse their statements per request (list_statements.py), never across users."""

from __future__ import annotations

from builder.records import SYSTEM


def test_therapists_of_the_second_vertical_each_see_only_their_sessions(served):
    """The physio blueprint's row filter (`therapist.account == user.id`), through the API, in turn."""
    service = served.runtime.records
    client = service.create(SYSTEM, "client", {"full_name": "Ann Lee", "mobile": "13800138000"})
    therapists = {}
    for account in ("ther_a", "ther_b"):
        made = service.create(SYSTEM, "therapist", {"display_name": account, "account": served.user_ids[account]})
        therapists[account] = made["id"]
    for day, account in ((1, "ther_a"), (2, "ther_b"), (3, "ther_b")):
        service.create(
            SYSTEM,
            "session",
            {"client": client["id"], "therapist": therapists[account], "starts_at": f"2026-12-0{day}T09:00"},
        )
    for account, count in (("ther_a", 1), ("ther_b", 2), ("ther_a", 1), ("ther_b", 2)):
        answer = served.api(account).get("/api/session", params={"sort": "starts_at"})
        assert answer.status_code == 200, answer.text
        assert {item["therapist"] for item in answer.json()["items"]} == {therapists[account]}
        assert answer.json()["total"] == count
