"""Link pickers find any record by its title (not only the 30 newest), tell look-alikes apart, and show
only rows and fields the actor may read, masked values masked."""

from __future__ import annotations

import pytest
from web_hardening_helpers import serve

from builder.records import SYSTEM

BLUEPRINT = """
app: {name: t, locales: [en, zh-CN], timezone: Asia/Shanghai}
roles:
  admin: {title: Admin}
  clerk: {title: Clerk}
entities:
  doctor:
    title_field: name
    subtitle: [department, phone]
    fields:
      name: {type: text, required: true}
      department:
        type: select
        options: [cardiology, dental]
        option_labels: {cardiology: {en: Cardiology, zh-CN: 心内科}, dental: {en: Dental, zh-CN: 口腔科}}
      phone: {type: phone, sensitive: true}
      active: {type: boolean, default: true}
    permissions:
      admin: {read: all, write: all, create: true}
      clerk: {read: [name, phone, active], where: "active == true"}
  booking:
    title_field: note
    fields:
      note: {type: text}
      doctor: {type: link, to: doctor}
    permissions:
      admin: {read: all, write: all, create: true}
      clerk: {read: all, write: all, create: true}
"""


@pytest.fixture
def served(tmp_path, database_url):
    made = serve(tmp_path, database_url, BLUEPRINT)
    records = made.runtime.records
    records.create(SYSTEM, "doctor", {"name": "Zhang Wei", "department": "cardiology", "phone": "13800138000"})
    records.create(SYSTEM, "doctor", {"name": "Li Na", "department": "cardiology", "phone": "13900139001"})
    records.create(SYSTEM, "doctor", {"name": "Li Na", "department": "dental", "phone": "13700137002"})
    records.create(SYSTEM, "doctor", {"name": "Li Na", "department": "dental", "phone": "13600136003", "active": False})
    for i in range(120):  # many newer doctors: the picker becomes a type-ahead
        records.create(SYSTEM, "doctor", {"name": f"Doctor {i:03d}", "department": "dental"})
    yield made
    made.close()


def test_an_entity_without_search_is_found_by_its_title(served):
    admin = served.login("alice", "admin")
    form = admin.get("/records/booking/new").text
    assert 'data-url="/records/doctor/choices?q="' in form
    response = admin.get("/records/doctor/choices", params={"q": "zhang"})
    assert response.status_code == 200
    assert [(i["title"], i["detail"]) for i in response.json()["items"]] == [
        ("Zhang Wei", "Cardiology · 138 0013 8000")
    ]


def test_look_alikes_differ_by_their_second_line(served):
    admin = served.login("alice", "admin")
    items = admin.get("/records/doctor/choices", params={"q": "li na"}).json()["items"]
    assert [i["detail"] for i in items] == [
        "Dental · 136 0013 6003",
        "Dental · 137 0013 7002",
        "Cardiology · 139 0013 9001",
    ]
    assert items[-1]["label"] == "Li Na · Cardiology · 139 0013 9001"


def test_the_picker_shows_only_rows_and_fields_the_actor_may_read(served):
    clerk = served.login("bob", "clerk")
    items = clerk.get("/records/doctor/choices", params={"q": "Li Na"}).json()["items"]
    assert [i["detail"] for i in items] == ["137****7002", "139****9001"]  # no department, no inactive doctor
    assert "Dental" not in str(items) and "Cardiology" not in str(items)
    assert clerk.get("/records/doctor/choices", params={"q": "13600136003"}).json()["items"] == []
    assert served.client().get("/records/doctor/choices?q=li").status_code in (303, 401)


def test_a_short_list_of_links_shows_the_second_line_in_its_options(tmp_path, database_url):
    clinic = serve(tmp_path, database_url)
    try:
        from clinic_fixtures import create_users, seed_clinic

        seed_clinic(clinic.runtime, create_users(clinic.runtime))
        entities = clinic.runtime.records.entities
        from builder.web.pages.pickers import subtitle_fields

        assert [f.name for f in subtitle_fields(entities["staff"])] == ["department"]
        assert [f.name for f in subtitle_fields(entities["patient"])] == ["gender", "birth_date"]
        form = clinic.login("admin").get("/records/appointment/new").text
        assert "Dr. Li · Internal medicine</option>" in form and "Dr. Zhao · Dental</option>" in form
    finally:
        clinic.close()
