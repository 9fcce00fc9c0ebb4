"""Patients' own forms on the second vertical: the physio pain diary (tests/blueprints/physio/forms/pain_diary.yaml).

`crm form-link` makes a client's link on the command line, the client fills the diary
with no account, and the reading is theirs; a therapist makes a link from the client's
page; reception, which may not record pain, is offered none. A reviewed walk-in form is
corrected by reception before it is accepted; `crm prune-form-links` deletes dead links.
"""

from __future__ import annotations

import re

import pytest
from physio import SECRET, crm, init_physio_project, serve_physio

from builder.records import SYSTEM

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture(autouse=True)
def _project_environment(monkeypatch):
    for name in ("CRM_DATABASE_URL", "CRM_ENCRYPTION_KEYS", "CRM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_SECRET_KEY", SECRET)  # the command signs with the secret the served app checks


@pytest.fixture
def project(tmp_path, database_url):
    directory = init_physio_project(tmp_path / "physio", database_url)
    migrated = crm("migrate", "-p", directory, "--yes")
    assert migrated.exit_code == 0, migrated.output
    return directory


@pytest.fixture
def served(project):
    app = serve_physio(project)
    try:
        yield app
    finally:
        app.close()


def a_client(served, name: str = "Grace Ho", mobile: str = "13700001111") -> dict:
    return served.runtime.records.create(SYSTEM, "client", {"full_name": name, "mobile": mobile})


def fill(client, path: str, **values: str):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={**values, "csrf_token": CSRF.search(page.text).group(1)})


def test_crm_form_link_makes_a_link_the_client_fills_without_an_account(served, project, tmp_path):
    from starlette.testclient import TestClient

    grace = a_client(served)
    qr = tmp_path / "link.svg"
    made = crm(
        "form-link",
        "pain_diary",
        "--patient",
        grace["id"],
        "-p",
        project,
        "--base-url",
        "https://physio.example",
        "--qr",
        qr,
    )
    assert made.exit_code == 0, made.output
    url = made.output.strip().splitlines()[0]
    assert url.startswith("https://physio.example/f/") and qr.read_text().startswith("<svg")
    anonymous = TestClient(served.app, follow_redirects=False, headers={"accept-language": "en"})
    page = anonymous.get(url.removeprefix("https://physio.example"))
    assert "Pain diary" in page.text and "Grace" not in page.text and "1111" not in page.text
    sent = fill(anonymous, url.removeprefix("https://physio.example"), pain_score="6", flexion="95.5")
    assert sent.status_code == 303
    assert "your therapist will see it" in anonymous.get(sent.headers["location"]).text
    reading = served.runtime.records.list(SYSTEM, "pain_reading", sort="-id", limit=1).items[0]
    assert (reading["client"], reading["pain_score"], reading["pain_level"]) == (grace["id"], 6, "moderate")
    assert reading["created_by"] == "public"
    assert served.runtime.records.get(SYSTEM, "client", grace["id"])["version"] == 1  # the client is untouched


def test_crm_form_link_refuses_what_is_not_a_patient_form_or_record(served, project):
    grace = a_client(served)
    wrong_form = crm("form-link", "client_intake", "--patient", grace["id"], "-p", project)
    assert wrong_form.exit_code == 2 and "not a public form" in wrong_form.output and "pain_diary" in wrong_form.output
    no_record = crm("form-link", "pain_diary", "-p", project)
    assert no_record.exit_code == 2 and "name the record" in no_record.output
    no_client = crm("form-link", "pain_diary", "--patient", 999_999, "-p", project)
    assert no_client.exit_code == 2 and "there is no client 999999" in no_client.output


def test_a_therapist_sends_the_diary_from_the_clients_page_and_reception_cannot(served):
    grace = a_client(served)
    admin = served.login("admin")
    page = admin.get(f"/records/client/{grace['id']}")
    assert "Send form link: Pain diary" in page.text
    made = admin.post(
        f"/records/client/{grace['id']}/public-links",
        data={"form": "pain_diary", "csrf_token": CSRF.search(page.text).group(1)},
    )
    assert made.status_code == 200 and "<svg" in made.text
    reception = served.login("reception")
    assert "Send form link" not in reception.get(f"/records/client/{grace['id']}").text
    path = re.search(r'id="public-link"[^>]*>https?://[^/]+(/f/[^<]+)<', made.text).group(1)
    from starlette.testclient import TestClient

    anonymous = TestClient(served.app, follow_redirects=False, headers={"accept-language": "en"})
    refused = fill(anonymous, path, pain_score="11")
    assert refused.status_code == 422 and 'value="11"' in refused.text
    assert fill(anonymous, path, pain_score="2").status_code == 303
    assert fill(anonymous, path, pain_score="3").status_code == 303  # the diary's link is reusable until it expires


def test_a_declared_greeting_is_all_the_page_shows_of_the_client(project):
    from starlette.testclient import TestClient

    diary = project / "blueprint" / "forms" / "pain_diary.yaml"
    diary.write_text(diary.read_text().replace("    reuse: true\n", "    reuse: true\n    greeting: full_name\n"))
    served = serve_physio(project)
    try:
        grace = a_client(served, "Grace", "13700002222")
        desk = served.app.state.public_desk
        token, _ = desk.tokens.issue(desk.form("pain_diary"), grace["id"], "admin")
        page = TestClient(served.app, headers={"accept-language": "en"}).get(f"/f/{token}")
        assert "Hello, Grace" in page.text
        assert "2222" not in page.text and "13700002222" not in page.text and f"/client/{grace['id']}" not in page.text
    finally:
        served.close()


def test_crm_form_link_takes_its_address_from_crm_toml(served, project):
    grace = a_client(served)
    settings = project / "crm.toml"
    settings.write_text(settings.read_text() + '\n[public]\nbase_url = "https://physio.example.cn/"\n')
    made = crm("form-link", "pain_diary", "--patient", grace["id"], "-p", project)
    assert made.exit_code == 0 and made.output.startswith("https://physio.example.cn/f/"), made.output


def test_crm_form_link_prints_a_clinic_forms_address_for_the_desk(project, tmp_path):
    from starlette.testclient import TestClient

    walk_in = project / "blueprint" / "forms" / "walk_in.yaml"
    walk_in.write_text(
        "walk_in:\n  entity: client\n  title: {en: Walk-in, zh-CN: 到店登记}\n  layout:\n"
        "    - section: {en: You, zh-CN: 您}\n      fields: [full_name, mobile]\n"
        "  public: {mode: clinic, review: true}\n"
    )
    qr = tmp_path / "desk.svg"
    made = crm("form-link", "walk_in", "-p", project, "--base-url", "https://physio.example", "--qr", qr)
    assert made.exit_code == 0 and made.output.strip() == "https://physio.example/f/clinic/walk_in", made.output
    assert qr.read_text().startswith("<svg")
    bound = crm("form-link", "walk_in", "--patient", 1, "-p", project)
    assert bound.exit_code == 2 and "for everyone" in bound.output
    fresh = serve_physio(project)
    try:
        page = TestClient(fresh.app, headers={"accept-language": "en"}).get("/f/clinic/walk_in")
        assert page.status_code == 200 and "Walk-in" in page.text
    finally:
        fresh.close()


def test_crm_prune_form_links_deletes_the_clients_dead_links_and_keeps_live_ones(served, project):
    import datetime as dt

    import sqlalchemy as sa

    from builder.system_tables import public_tokens

    grace = a_client(served)
    for _ in range(2):
        assert crm("form-link", "pain_diary", "--patient", grace["id"], "-p", project).exit_code == 0
    engine = served.runtime.engine
    with engine.begin() as conn:
        first, second = conn.execute(sa.select(public_tokens.c.id).order_by(public_tokens.c.id)).scalars()
        long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=45)
        conn.execute(public_tokens.update().where(public_tokens.c.id == first).values(expires_at=long_ago))
    pruned = crm("prune-form-links", "-p", project)
    assert pruned.exit_code == 0, pruned.output
    assert "pruned 1 public-form links dead for over 30 days, 0 rate-limit rows" in pruned.output
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(public_tokens.c.id)).scalars()) == [second]


def test_reception_corrects_a_walk_in_before_accepting_it(project):
    import json

    import sqlalchemy as sa
    from starlette.testclient import TestClient

    from builder.system_tables import audit

    (project / "blueprint" / "forms" / "walk_in.yaml").write_text(
        "walk_in:\n  entity: client\n  title: {en: Walk-in, zh-CN: 到店登记}\n  layout:\n"
        "    - section: {en: You, zh-CN: 您}\n      fields: [full_name, sex, mobile]\n"
        "  public: {mode: clinic, review: true}\n"
    )
    served = serve_physio(project)
    try:
        anonymous = TestClient(served.app, follow_redirects=False, headers={"accept-language": "en"})
        assert fill(anonymous, "/f/clinic/walk_in", full_name="Grcae Ho", mobile="13700003333").status_code == 303
        reception = served.login("reception")
        queue = reception.get("/review")
        submission = re.search(r'href="/review/(\d+)/correct"', queue.text).group(1)
        page = reception.get(f"/review/{submission}/correct")
        assert page.status_code == 200 and 'value="Grcae Ho"' in page.text
        assert "137****3333" in page.text and "13700003333" not in page.text  # reception sees the mobile masked
        token = CSRF.search(page.text).group(1)
        data = {"full_name": "Grace Ho", "sex": "female", "mobile": "137****3333", "csrf_token": token}
        assert reception.post(f"/review/{submission}/correct", data=data).status_code == 303
        queue = reception.get("/review").text
        assert "Grace Ho" in queue.split("As sent")[0] and "Grcae Ho" in queue.split("As sent")[1]
        assert served.runtime.records.list(SYSTEM, "client", limit=1).total == 0  # nothing created before accepting
        assert reception.post(f"/review/{submission}/accept", data={"csrf_token": token}).status_code == 303
        client = served.runtime.records.list(SYSTEM, "client", limit=5).items[0]
        assert (client["full_name"], client["sex"], client["mobile"]) == ("Grace Ho", "female", "+8613700003333")
        with served.runtime.engine.connect() as conn:
            changes = conn.execute(sa.select(audit.c.changes).where(audit.c.action == "public_correct")).scalar_one()
        assert json.loads(changes) == {"full_name": ["Grcae Ho", "Grace Ho"], "sex": [None, "female"]}
    finally:
        served.close()
