"""The physio vertical's link filter (a plan's therapist of its focus), quick-create rights and a section condition."""

from __future__ import annotations

import re


def _therapists(admin) -> dict[str, int]:
    made = {}
    for name, specialty in (("Ann Sports", "sports"), ("Ben Neuro", "neuro")):
        response = admin.post("/api/therapist", json={"display_name": name, "specialty": specialty})
        assert response.status_code == 201, response.text
        made[specialty] = response.json()["id"]
    return made


def test_a_plan_takes_only_a_therapist_of_its_focus(served):
    admin = served.api("admin")
    therapists = _therapists(admin)
    client = admin.post("/api/client", json={"full_name": "Chen", "mobile": "13900001111"}).json()["id"]
    plan = {"client": client, "goal": "Balance", "focus": "neuro"}
    refused = admin.post("/api/exercise_plan", json=plan | {"therapist": therapists["sports"]})
    assert refused.status_code == 422
    assert [e["code"] for e in refused.json()["errors"]] == ["link_filter"]
    assert admin.post("/api/exercise_plan", json=plan | {"therapist": therapists["neuro"]}).status_code == 201
    free = {"client": client, "goal": "Anything", "therapist": therapists["sports"]}  # no focus: any therapist
    assert admin.post("/api/exercise_plan", json=free).status_code == 201
    page = served.login("admin")
    found = page.get("/records/exercise_plan/pick/therapist?q=&focus=neuro").json()["items"]
    assert [item["id"] for item in found] == [therapists["neuro"]]


def test_quick_create_is_offered_only_where_the_role_may_create(served):
    _therapists(served.api("admin"))
    desk = served.login("reception").get("/records/session/new").text
    assert 'data-quick-for="f-client"' in desk  # reception registers clients
    assert 'data-quick-for="f-therapist"' not in desk  # but not therapists
    quick = "/records/therapist/new?pick_for=session.therapist&return_to=%2Frecords%2Fsession%2Fnew"
    assert served.login("reception").get(quick).status_code == 403
    admin_page = served.login("admin").get("/records/session/new").text
    assert re.search(r'data-quick-for="f-therapist">New Therapist<', admin_page)


def test_a_surgeons_referral_needs_the_condition_from_those_who_see_it(served):
    body = {"full_name": "Lin", "mobile": "13900002222", "referral": "surgeon"}
    refused = served.api("admin").post("/api/client", json=body)
    assert refused.status_code == 422
    assert {e["field"]: e["code"] for e in refused.json()["errors"]} == {"condition": "required"}
    assert served.api("admin").post("/api/client", json=body | {"condition": "ACL repair"}).status_code == 201
    # the Clinical section is hidden from reception: the condition is not theirs to give
    desk = served.api("reception").post("/api/client", json=body | {"mobile": "13900003333"})
    assert desk.status_code == 201, desk.text


def test_a_therapist_quick_created_for_a_plan_starts_with_its_focus(served):
    admin = served.api("admin")
    therapists = _therapists(admin)
    client = admin.post("/api/client", json={"full_name": "Chen", "mobile": "13900001111"}).json()
    body = {"client": client["id"], "goal": "Balance", "focus": "neuro", "therapist": therapists["neuro"]}
    plan = admin.post("/api/exercise_plan", json=body).json()
    browser = served.login("admin")
    browser.headers["Accept-Language"] = "en"
    here = f"/records/exercise_plan/{plan['id']}/edit"
    edit = browser.get(here).text.replace("&amp;", "&")
    link = re.search(r'href="(/records/therapist/new\?[^"]*)" data-quick-for="f-therapist"', edit)
    assert link and "record.focus=neuro" in link.group(1)
    quick = browser.get(link.group(1)).text
    assert '<option value="neuro" selected>Neurological</option>' in quick  # the plan's focus, filled in
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', quick).group(1)
    form = {
        "csrf_token": csrf,
        "display_name": "Cai Neuro",
        "specialty": "sports",  # changed: not a therapist this plan may take
        "pick_for": "exercise_plan.therapist",
        "return_to": here,
        "record.focus": "neuro",
    }
    refused = browser.post("/records/therapist/new", data=form)
    assert refused.status_code == 422 and "allowed choices for “Therapist”" in refused.text
    assert 'value="Cai Neuro"' in refused.text  # nothing typed is lost
    made = browser.post("/records/therapist/new", data=form | {"specialty": "neuro"})
    assert made.status_code == 303 and made.headers["location"].startswith(here + "?therapist=")
    new_id = int(made.headers["location"].rsplit("=", 1)[1])
    assert admin.get(f"/api/therapist/{new_id}").json()["specialty"] == "neuro"
    back = browser.get(made.headers["location"]).text
    assert re.search(rf'<option value="{new_id}" selected>Cai Neuro', back)
