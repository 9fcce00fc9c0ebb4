"""Global search: the header's box, `/search` and `GET /api/search`, as each role may see (issue 11).

Seeded by clinic_fixtures: patients Wang Fang (138 0013 0000), Zhang Wei (…0001, resident
ID 110105196505021238), Liu Yang, Chen Jing; staff Dr. Li, Dr. Zhao.
"""

from __future__ import annotations

import json

import pytest
from clinic_fixtures import csrf_of

from builder.records.masked_lookups import DEFAULT_LIMIT

ZHANG_PHONE = "13800130001"
ZHANG_ID = "110105196505021238"


def groups(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.text
    return {g["entity"]: [r.get("name") or f"#{r['id']}" for r in g["items"]] for g in response.json()["groups"]}


def test_names_are_found_across_entities_grouped(clinic):
    api = clinic.api("admin")
    assert groups(api.get("/api/search", params={"q": "Zhang"})) == {"patient": ["Zhang Wei"]}
    found = groups(api.get("/api/search", params={"q": "Dr"}))  # staff names by prefix
    assert sorted(found["staff"]) == ["Dr. Li", "Dr. Zhao"]
    assert groups(api.get("/api/search", params={"q": "   "})) == {}


def test_a_whole_phone_or_resident_id_finds_the_patient_exactly(clinic):
    api = clinic.api("doctor")
    assert groups(api.get("/api/search", params={"q": "138 0013 0001"})) == {"patient": ["Zhang Wei"]}
    assert groups(api.get("/api/search", params={"q": ZHANG_ID})) == {"patient": ["Zhang Wei"]}
    assert groups(api.get("/api/search", params={"q": "0001"})) == {"patient": ["Zhang Wei"]}  # last 4: full access


def test_a_masked_role_finds_by_whole_values_only_and_each_lookup_counts(clinic):
    api = clinic.api("front_desk")
    assert groups(api.get("/api/search", params={"q": "0001"})) == {}  # no last 4 digits for a masked phone
    assert groups(api.get("/api/search", params={"q": "1380013"})) == {}  # no run of digits either
    found = api.get("/api/search", params={"q": ZHANG_PHONE})
    assert groups(found) == {"patient": ["Zhang Wei"]}
    assert found.json()["groups"][0]["items"][0]["phone"] != ZHANG_PHONE  # shown masked
    assert "id_number" not in found.text  # not readable by the front desk: never compared, never shown
    for _ in range(DEFAULT_LIMIT - 1):
        assert api.get("/api/search", params={"q": ZHANG_PHONE}).status_code == 200
    refused = api.get("/api/search", params={"q": ZHANG_PHONE})
    assert refused.status_code == 429 and ZHANG_PHONE not in refused.text


def test_marketing_sees_only_its_rows(clinic):
    api = clinic.api("marketing")  # row filter: consent_marketing (Wang Fang, Liu Yang)
    assert groups(api.get("/api/search", params={"q": "Zhang"})) == {}
    assert groups(api.get("/api/search", params={"q": "Wang"})) == {"patient": ["Wang Fang"]}


def test_each_group_is_audited_like_a_list(clinic):
    clinic.api("doctor").get("/api/search", params={"q": "Zhang"})
    reads = [r for r in clinic.audit("list") if r.entity == "patient"]
    assert reads and reads[-1].actor == "token:test-doctor"
    assert json.loads(reads[-1].detail)["ids"] == [clinic.data["patients"][1]["id"]]


def test_bad_input_is_a_clear_error(clinic):
    api = clinic.api("admin")
    assert api.get("/api/search", params={"q": "x", "limit": "0"}).status_code == 422
    assert api.get("/api/search", params={"q": "x", "limit": "many"}).status_code == 422
    assert api.get("/api/search", params={"q": "x" * 101}).status_code == 422
    assert clinic.anonymous().get("/api/search", params={"q": "x"}).status_code == 401


def test_the_openapi_document_has_the_search(clinic):
    document = clinic.api("admin").get("/api/openapi.json").json()
    assert document["paths"]["/api/search"]["get"]["operationId"] == "search_everything"
    assert "SearchResults" in document["components"]["schemas"]


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_page_groups_results_with_labels_and_the_header_has_the_box(clinic, locale):
    browser = clinic.login("front_desk")
    if locale == "zh-CN":
        home = browser.get("/")
        browser.post("/locale", data={"locale": "zh-CN", "next": "/", "csrf_token": csrf_of(home.text)})
    page = browser.get("/search", params={"q": "Zhang"})
    assert page.status_code == 200
    assert 'id="global-search"' in page.text and 'action="/search"' in page.text
    assert ("患者" if locale == "zh-CN" else "Patient") in page.text
    assert f'href="/records/patient/{clinic.data["patients"][1]["id"]}"' in page.text
    none = browser.get("/search", params={"q": "Nobody"})
    assert ("没有找到" if locale == "zh-CN" else "Nothing found") in none.text
