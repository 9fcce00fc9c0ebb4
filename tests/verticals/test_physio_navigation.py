"""The physio vertical gets the menu, home page and client page from the defaults alone.

Its blueprint declares no `app.menu`, no `home` and no `related:`: the menu offers
what each account may open, the home page today's sessions (a therapist's own), and a
client's page every entity that links to clients, as each account may read it, with
"New session" prefilled. Both databases; migrated with `crm migrate`, served like `crm serve`.
"""

from __future__ import annotations

import re


def _section(html: str, entity: str) -> str:
    match = re.search(rf'<section class="panel related" id="related-{entity}-[a-z_]+".*?</section>', html, re.S)
    return match.group(0) if match else ""


def _setup(served) -> dict:
    admin, reception = served.api("admin"), served.api("reception")
    therapists = {
        account: admin.post("/api/therapist", json={"display_name": name, "account": served.user_ids[account]}).json()
        for account, name in (("ther_a", "Li Na"), ("ther_b", "Zhou Bo"))
    }
    client = reception.post(
        "/api/client", json={"full_name": "Anna", "mobile": "13912345678", "therapist": therapists["ther_a"]["id"]}
    ).json()
    today = served.runtime.records.clock().replace(minute=0, second=0)
    for account, hour in (("ther_a", 9), ("ther_b", 11)):
        made = reception.post(
            "/api/session",
            json={
                "client": client["id"],
                "therapist": therapists[account]["id"],
                "starts_at": today.replace(hour=hour).isoformat(),
            },
        )
        assert made.status_code == 201, made.text
    reading = admin.post(
        "/api/pain_reading",
        json={"client": client["id"], "therapist": therapists["ther_a"]["id"], "pain_score": 6},
    )
    assert reading.status_code == 201, reading.text
    return {"client": client, "therapists": therapists}


def test_the_client_page_lists_what_links_to_the_client_as_each_account_may_read_it(served):
    made = _setup(served)
    client_id = made["client"]["id"]
    ther_a = served.login("ther_a").get(f"/records/client/{client_id}").text
    sessions = _section(ther_a, "session")
    assert "Li Na" in sessions and "Zhou Bo" not in sessions  # their own sessions only (row filter)
    assert "Booked" in sessions and ">booked<" not in sessions
    assert "Pain reading" in _section(ther_a, "pain_reading") and _section(ther_a, "exercise_plan")
    assert f'href="/records/pain_reading/new?client={client_id}"' in ther_a

    reception = served.login("reception")
    page = reception.get(f"/records/client/{client_id}").text
    assert "Li Na" in _section(page, "session") and "Zhou Bo" in _section(page, "session")
    assert not _section(page, "pain_reading") and not _section(page, "exercise_plan")  # not the desk's to read
    new = f"/records/session/new?client={client_id}"
    assert f'href="{new}"' in page
    form = reception.get(new).text
    assert re.search(rf'<option value="{client_id}" selected>Anna', form)
    printed = reception.get(f"/records/client/{client_id}/print").text
    assert "Riverside Physiotherapy" in printed and "139****5678" in printed and "13912345678" not in printed


def test_the_menu_and_home_come_from_the_defaults(served):
    _setup(served)
    reception = served.login("reception").get("/").text
    menu = re.search(r'<details class="main-menu".*?</details>', reception, re.S).group(0)
    assert 'href="/records/client"' in menu and 'href="/records/pain_reading"' not in menu
    assert 'href="/audit"' not in menu
    assert "Today: Session" in reception and "Li Na" in reception and "Zhou Bo" in reception
    ther_b = served.login("ther_b").get("/").text
    panels = re.findall(r'<section class="panel home-panel".*?</section>', ther_b, re.S)
    [panel] = [p for p in panels if "Today: Session" in p]
    assert "Zhou Bo" in panel and "Li Na" not in panel  # their own sessions only
