"""The physio vertical's views: its session list, calendar per therapist and board by status (both databases)."""

from __future__ import annotations

import re

JSON = {"Accept": "application/json"}
TUESDAY = "2099-03-03"


def book(served) -> tuple[dict[str, int], dict[str, dict]]:
    admin, reception = served.api("admin"), served.api("reception")
    therapists = {
        account: admin.post("/api/therapist", json={"display_name": name, "account": served.user_ids[account]}).json()
        for account, name in (("ther_a", "Li Na"), ("ther_b", "Zhou Bo"))
    }
    client = reception.post(
        "/api/client", json={"full_name": "Anna", "mobile": "13912345678", "therapist": therapists["ther_a"]["id"]}
    ).json()
    sessions = {}
    for account, hour in (("ther_a", "09:00"), ("ther_b", "10:00")):
        made = reception.post(
            "/api/session",
            json={"client": client["id"], "therapist": therapists[account]["id"], "starts_at": f"{TUESDAY}T{hour}"},
        )
        assert made.status_code == 201, made.text
        sessions[account] = made.json()
    return {k: v["id"] for k, v in therapists.items()}, sessions


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)


def test_session_list_calendar_and_board_follow_the_blueprint(served):
    therapists, sessions = book(served)
    reception = served.login("reception")
    listing = reception.get("/records/session")
    heads = re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', listing.text)
    assert [h.strip() for h in heads if h.strip()][:3] == ["Starts at", "Client", "Therapist"]
    latest = reception.get("/records/session?view=latest")
    heads = re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', latest.text)
    assert [h.strip() for h in heads if h.strip()] == ["Starts at", "Client", "Status"]
    starts = re.findall(r'<td data-label="Starts at"><a [^>]*>([^<]*)</a>', latest.text)
    assert starts == sorted(starts, reverse=True) and len(starts) == 2
    switch = latest.text.split('class="view-switch"')[1].split("</nav>")[0]
    assert re.findall(r">([^<]+)</a>", switch) == ["List", "Latest first", "Calendar", "Board"]
    assert 'aria-current="page">Latest first<' in switch
    day = reception.get(f"/records/session/calendar?day={TUESDAY}")
    assert day.status_code == 200, day.text
    assert re.search(r'class="cal-head">Li Na', day.text) and re.search(r'class="cal-head">Zhou Bo', day.text)
    own = served.login("ther_a").get(f"/records/session/calendar?day={TUESDAY}&mode=week")
    assert own.text.count('class="cal-card"') == 1  # a therapist sees their own sessions
    page = day.text
    url = f"/records/session/calendar/{sessions['ther_b']['id']}/move"
    base = {"csrf_token": csrf(page), "version": str(sessions["ther_b"]["version"])}
    clash = reception.post(
        url, data={**base, "starts_at": f"{TUESDAY}T09:30", "group": str(therapists["ther_a"])}, headers=JSON
    )
    assert clash.status_code == 422
    assert clash.json()["errors"] == ["Starts at: The therapist is already booked at that time"]
    sunday = reception.post(url, data={**base, "starts_at": "2099-03-08T10:00"}, headers=JSON)
    assert sunday.json()["errors"] == ["Starts at: The practice is closed on Sundays"]
    fine = reception.post(url, data={**base, "starts_at": f"{TUESDAY}T11:00"}, headers=JSON)
    assert fine.status_code == 200 and fine.json()["ok"] is True


def test_the_session_board_moves_by_transition(served):
    _, sessions = book(served)
    therapist = served.login("ther_a")
    board = therapist.get("/records/session/kanban")
    assert board.status_code == 200, board.text
    assert "Booked" in board.text and "Attended" in board.text
    mine = sessions["ther_a"]
    data = {"csrf_token": csrf(board.text), "version": str(mine["version"])}
    cancel = therapist.post(
        f"/records/session/kanban/{mine['id']}/move", data={**data, "to": "cancelled"}, headers=JSON
    )
    assert cancel.status_code == 403 and cancel.json()["errors"] == ["Your role may not make this move."]
    attend = therapist.post(f"/records/session/kanban/{mine['id']}/move", data={**data, "to": "attended"}, headers=JSON)
    assert attend.status_code == 200, attend.text
    assert served.api("admin").get(f"/api/session/{mine['id']}").json()["status"] == "attended"
