"""The physio vertical's attendance report on the web: its page, labels in both locales, its row filter.

Both databases; the project is migrated with `crm migrate` and served like `crm serve`.
"""

from __future__ import annotations

import html
import re

MARCH = "2026-03-01..2026-03-31"


def _cells(page: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def _sessions(served) -> None:
    """Li Na (ther_a): one March session attended, one missed, in the gym."""
    admin, reception = served.api("admin"), served.api("reception")
    therapist = admin.post("/api/therapist", json={"display_name": "Li Na", "account": served.user_ids["ther_a"]})
    client = reception.post(
        "/api/client", json={"full_name": "Anna", "mobile": "13912345678", "therapist": therapist.json()["id"]}
    )
    assert client.status_code == 201, client.text
    for hour, move in (("09", "attend"), ("11", "miss")):
        body = {
            "client": client.json()["id"],
            "therapist": therapist.json()["id"],
            "starts_at": f"2026-03-03T{hour}:00:00",
            "room": "gym",
        }
        session = reception.post("/api/session", json=body)
        assert session.status_code == 201, session.text
        moved = reception.post(
            f"/api/session/{session.json()['id']}/transitions/{move}", json={"version": session.json()["version"]}
        )
        assert moved.status_code == 200, moved.text


def test_attendance_page_reads_in_words_and_keeps_each_therapist_to_their_own(served):
    _sessions(served)
    admin = served.login("admin")
    page = admin.get(f"/reports/attendance?period={MARCH}")
    assert page.status_code == 200, page.text
    cells = _cells(page.text)
    assert cells[:6] == ["Mar 2026", "Li Na", "2", "1", "50.0%", "45"]  # month, therapist, due, missed, rate, minutes
    assert ">Gym<" in page.text and 'href="/records/session?' in page.text  # the room filter in words; drill-down
    page = served.login("ther_a").get(f"/reports/attendance?period={MARCH}").text
    assert "Li Na" in _cells(page)
    page = served.login("ther_b").get(f"/reports/attendance?period={MARCH}").text
    assert "Li Na" not in _cells(page)  # another therapist's sessions stay out (`therapist.account == user.id`)
    body = served.api("reception").get(f"/api/reports/attendance?period={MARCH}&room=gym").json()
    assert body["totals"]["missed"] == 1 and body["title"] == "Attendance by month and therapist"
    month = next(c for c in body["columns"] if c["name"] == "month")
    assert month["values"] == {"2026-03": "Mar 2026"}
    chinese = served.login("admin")
    form = chinese.get("/")
    token = re.search(r'name="csrf_token" value="([^"]*)"', form.text)
    assert token
    chinese.post("/locale", data={"locale": "zh-CN", "next": "/", "csrf_token": token.group(1)})
    page = chinese.get(f"/reports/attendance?period={MARCH}").text
    assert "2026年3月" in _cells(page) and ">训练厅<" in page and "每月到诊率（按治疗师）" in page
