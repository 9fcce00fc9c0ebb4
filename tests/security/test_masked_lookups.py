"""A role that sees a field masked cannot undo the mask by guessing (issue 8, item 1).

Attack: the front desk sees `138****0001` and asks `?id=X&phone__in=<candidates>`
until one answer is non-empty. Lists, ranges, prefixes, sorting and partial search
on a masked field are refused; one whole value per request is allowed (caller
lookup), counted per actor in the database, audited by keyed hash, and over the
limit answered 429 with an alert for the admins.
"""

from __future__ import annotations

import concurrent.futures

import pytest
from masking_helpers import SECRET, detail_of, open_clinic, second_app, served_clinic

from builder.records import TooManyLookups
from builder.records.masked_lookups import ALERT_ACTION
from builder.web.security import SecuritySettings


@pytest.fixture
def clinic(tmp_path, database_url):
    yield from served_clinic(tmp_path, database_url)


PHONE = "13800130001"  # Zhang Wei's, seeded by clinic_fixtures


def _candidates(real: str, count: int = 83) -> str:
    return ",".join([f"1380013{n:04d}" for n in range(100, 100 + count - 1)] + [real])


def _zhang(clinic) -> dict:
    return clinic.data["patients"][1]


def test_a_list_of_candidates_is_refused_without_echoing_them(clinic):
    patient = _zhang(clinic)
    response = clinic.api("front_desk").get(f"/api/patient?id={patient['id']}&phone__in={_candidates(PHONE)}")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "masked_field" and error["field"] == "phone__in"
    assert PHONE not in response.text and "13800130100" not in response.text
    page = clinic.login("front_desk").get(f"/records/patient?id={patient['id']}&phone__in={_candidates(PHONE)}")
    assert page.status_code == 400 and "masked" in page.text
    assert PHONE not in page.text.replace(f"phone__in={_candidates(PHONE)}", "")


@pytest.mark.parametrize(
    "query",
    [
        "phone__gt=13800130000",
        "phone__gte=13800130000",
        "phone__lt=13900000000",
        "phone__lte=13900000000",
        "phone__contains=0013",
        "phone__ne=13800130001",
        "phone__between=1,2",
        "phone__startswith=138",
        "sort=phone",
        "sort=-phone",
        "sort=name,-phone",
    ],
)
def test_ranges_prefixes_and_sorting_on_a_masked_field_are_refused(clinic, query):
    response = clinic.api("front_desk").get(f"/api/patient?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] in ("masked_field", "unknown_field")
    assert "138****" not in response.text  # no rows came back


def test_partial_search_finds_nothing_and_whole_values_only_are_compared(clinic):
    api = clinic.api("front_desk")
    assert api.get("/api/patient", params={"q": "1380013"}).json()["total"] == 0
    assert api.get("/api/patient", params={"q": "0001"}).json()["total"] == 0
    assert api.get("/api/patient", params={"q": "Zhang"}).json()["total"] == 1


def test_a_resident_id_seen_masked_cannot_be_guessed_by_a_list(clinic):
    nurse = clinic.api("nurse")  # nurses read every patient field, the resident ID masked
    patient = clinic.data["patients"][1]
    response = nurse.get(f"/api/patient?id={patient['id']}&id_number__in=110105196505021238,110105196005010022")
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "masked_field"
    assert "110105196505021238" not in response.text
    whole = nurse.get("/api/patient", params={"id_number": "110105196505021238"}).json()
    assert [p["id"] for p in whole["items"]] == [patient["id"]]


def test_front_desk_finds_a_caller_by_the_whole_phone(clinic):
    patient = _zhang(clinic)
    found = clinic.api("front_desk").get("/api/patient", params={"phone": PHONE})
    assert found.status_code == 200
    assert [(p["id"], p["phone"]) for p in found.json()["items"]] == [(patient["id"], "138****0001")]
    browser = clinic.login("front_desk")
    by_search = browser.get("/records/patient", params={"q": PHONE})
    assert by_search.status_code == 200 and "Zhang Wei" in by_search.text and "Wang Fang" not in by_search.text
    by_filter = browser.get("/records/patient", params={"phone": PHONE})
    assert by_filter.status_code == 200 and "Zhang Wei" in by_filter.text and "Wang Fang" not in by_filter.text
    assert PHONE not in by_search.text.replace(f"q={PHONE}", "").replace(f'value="{PHONE}"', "")


def test_one_masked_value_per_request(clinic):
    response = clinic.api("front_desk").get("/api/patient", params={"phone": PHONE, "q": "13800130002"})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "one_masked_value"


def test_each_lookup_is_audited_by_field_and_keyed_hash_never_the_value(clinic):
    api = clinic.api("front_desk")
    api.get("/api/patient", params={"phone": PHONE})
    api.get("/api/patient", params={"phone": PHONE})
    api.get("/api/patient", params={"q": "13800130002"})
    rows = clinic.audit("list")
    assert len(rows) == 3
    lookups = [detail_of(r)["masked_lookup"] for r in rows]
    assert [lk["fields"] for lk in lookups] == [["phone"], ["phone"], ["phone"]]
    assert lookups[0]["hash"] == lookups[1]["hash"] != lookups[2]["hash"]
    assert len(lookups[0]["hash"]) == 64 and PHONE not in lookups[0]["hash"]
    for row in clinic.audit():
        assert PHONE not in f"{row.changes} {row.detail}" and "13800130002" not in f"{row.changes} {row.detail}"


def test_the_31st_lookup_in_the_window_is_refused_and_the_admins_alerted(clinic):
    api = clinic.api("front_desk")
    for n in range(30):
        guess = api.get(f"/api/patient?id={_zhang(clinic)['id']}&phone=1380013{n + 100:04d}")
        assert guess.status_code == 200, (n, guess.text)
    refused = api.get("/api/patient", params={"phone": PHONE})
    assert refused.status_code == 429 and refused.json()["errors"][0]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0 and PHONE not in refused.text
    assert clinic.api("front_desk").get("/api/patient", params={"phone": PHONE}).status_code == 429
    alerts = clinic.audit(ALERT_ACTION)
    assert [(a.actor, a.entity) for a in alerts] == [("token:test-front_desk", "patient")]  # once per window
    assert detail_of(alerts[0])["fields"] == ["phone"] and detail_of(alerts[0])["limit"] == 30
    assert PHONE not in str(alerts[0].detail)
    # the count is per actor: the signed-in front desk, other roles, full-access roles go on
    assert clinic.login("front_desk").get("/records/patient", params={"q": PHONE}).status_code == 200
    assert clinic.api("nurse").get("/api/patient", params={"phone": PHONE}).status_code == 200
    assert clinic.api("doctor").get("/api/patient", params={"phone": PHONE}).json()["total"] == 1
    # names and other fields can still be searched
    assert api.get("/api/patient", params={"q": "Zhang"}).status_code == 200
    admin = clinic.login("admin")
    audit_page = admin.get("/audit", params={"action": ALERT_ACTION})
    assert audit_page.status_code == 200 and "token:test-front_desk" in audit_page.text  # the alert's row
    listed = admin.get("/api/audit", params={"action": ALERT_ACTION}).json()
    assert listed["total"] == 1


def test_the_limit_is_counted_in_the_database_across_processes(clinic, tmp_path, database_url):
    other = second_app(clinic, tmp_path, database_url)
    try:
        first, second = clinic.api("front_desk"), other.api("front_desk")
        for n in range(15):
            assert first.get("/api/patient", params={"phone": f"1380013{n + 100:04d}"}).status_code == 200
            assert second.get("/api/patient", params={"phone": f"1380013{n + 200:04d}"}).status_code == 200
        assert first.get("/api/patient", params={"phone": PHONE}).status_code == 429
        assert second.get("/api/patient", params={"phone": PHONE}).status_code == 429
    finally:
        other.close()


LOOKUPS_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
sys.path[:0] = [sys.argv[3], sys.argv[4]]
from clinic_fixtures import build_runtime
from builder.records import Actor
runtime = build_runtime(Path(sys.argv[1]), sys.argv[2])
actor = Actor(id=None, name="token:test-front_desk", role="front_desk")
for n in range(20):
    runtime.records.list(actor, "patient", filters={"phone": f"1380013{n + 300:04d}"})
runtime.close()
"""


def test_lookups_made_by_another_process_count(clinic, tmp_path, database_url):
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    repo = tests.parent
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LOOKUPS_IN_ANOTHER_PROCESS,
            str(tmp_path / "other"),
            database_url,
            str(repo),
            str(tests / "builder" / "web"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    api = clinic.api("front_desk")
    assert [api.get("/api/patient", params={"phone": PHONE}).status_code for _ in range(11)] == [200] * 10 + [429]


def test_a_parallel_burst_gets_exactly_the_limit(tmp_path, database_url):
    clinic = open_clinic(tmp_path, database_url, masked_lookup_limit=10)
    try:
        service = clinic.runtime.records
        front_desk = clinic.actors["front_desk"]

        def lookup(n: int) -> str:
            try:
                service.list(front_desk, "patient", filters={"phone": f"1380013{n:04d}"})
            except TooManyLookups:
                return "refused"
            return "allowed"

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(lookup, range(100, 124)))
        assert outcomes.count("allowed") == 10 and outcomes.count("refused") == 14
        assert len(clinic.audit(ALERT_ACTION)) == 1
    finally:
        clinic.close()


def test_the_limit_comes_from_crm_toml(tmp_path, database_url):
    from builder.errors import ProjectError
    from builder.project import Project

    project = Project(
        tmp_path, {"security": {"secret_key": SECRET, "masked_lookup_limit": 3, "masked_lookup_window_minutes": 5}}
    )
    settings = SecuritySettings.from_project(project)
    assert (settings.masked_lookup_limit, settings.masked_lookup_window_minutes) == (3, 5)
    bad = Project(tmp_path, {"security": {"secret_key": SECRET, "masked_lookup_limit": 0}})
    with pytest.raises(ProjectError, match="masked_lookup_limit"):
        SecuritySettings.from_project(bad)
    clinic = open_clinic(tmp_path, database_url, masked_lookup_limit=3, masked_lookup_window_minutes=5)
    try:
        api = clinic.api("front_desk")
        assert [api.get("/api/patient", params={"phone": PHONE}).status_code for _ in range(4)] == [200] * 3 + [429]
        message = api.get("/api/patient", params={"phone": PHONE}).json()["errors"][0]["message"]
        assert "5 分钟最多 3 次" in message  # tokens speak the app's first language
        browser = clinic.login("front_desk")
        pages = [browser.get("/records/patient", params={"q": PHONE}) for _ in range(4)]
        assert [p.status_code for p in pages] == [200] * 3 + [429]
        assert "Zhang Wei" in pages[0].text and "Zhang Wei" not in pages[3].text
        assert "at most 3 in 5 minutes" in pages[3].text
    finally:
        clinic.close()


def test_already_used_answers_to_masked_values_count_as_lookups(tmp_path, database_url):
    """Creating patients with candidate phones and watching for `unique` is a look-up too."""
    clinic = open_clinic(tmp_path, database_url, masked_lookup_limit=3)
    try:
        api = clinic.api("front_desk")
        answers = [api.post("/api/patient", json={"name": "Probe", "phone": PHONE}) for _ in range(4)]
        assert [a.status_code for a in answers] == [422, 422, 422, 429]
        assert answers[0].json()["errors"][0]["code"] == "unique" and PHONE not in answers[3].text
        rows = clinic.audit("masked_lookup")
        assert len(rows) == 3 and detail_of(rows[0])["masked_lookup"]["fields"] == ["phone"]
        assert all(PHONE not in r.detail for r in rows) and len(clinic.audit(ALERT_ACTION)) == 1
        # a doctor sees phones whole: "already used" tells it nothing new and is not counted
        assert clinic.api("doctor").post("/api/patient", json={"name": "P", "phone": PHONE}).status_code == 422
        assert len(clinic.audit("masked_lookup")) == 3
    finally:
        clinic.close()
