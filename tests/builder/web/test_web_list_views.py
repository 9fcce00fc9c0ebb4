"""List views declared in the blueprint: columns, default sort, quick filters by type, keyset pages, saved filters."""

from __future__ import annotations

import re

from clinic_fixtures import csrf_of


def headers(html: str) -> list[str]:
    head = html.split("<thead>")[1].split("</thead>")[0]
    return [
        re.sub(r"<[^>]+>|▲|▼|sorted \w+", "", cell).strip()
        for cell in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", head, re.S)
    ]


def first_cells(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<td data-label="Starts at"><a [^>]*>([^<]*)</a>', body)


def test_the_appointment_list_shows_the_views_columns_sorted_by_start(clinic):
    page = clinic.login("front_desk").get("/records/appointment")
    assert page.status_code == 200, page.text
    assert [h for h in headers(page.text) if h and h != "Select"] == [
        "Starts at",
        "Patient",
        "Doctor",
        "Minutes",
        "Status",
        "Channel",
    ]
    starts = first_cells(page.text)
    assert starts == sorted(starts) and len(starts) == 4
    assert "Requested" in page.text and ">requested<" not in page.text


def test_quick_filters_are_the_declared_ones_rendered_by_type_with_date_presets(clinic):
    page = clinic.login("front_desk").get("/records/appointment")
    filters = page.text.split('class="filter-grid"')[1].split("</details>")[0]
    assert list(dict.fromkeys(re.findall(r'name="(\w+?)(?:__gte|__lte)?"', filters))) == [
        "starts_at",
        "status",
        "doctor",
        "channel",
    ]
    assert 'name="minutes' not in filters
    assert "Dr. Li" in filters and ">WeChat<" in filters  # link choices and option labels, not codes
    assert "This week" in filters and "starts_at__gte=" in filters
    narrowed = clinic.login("front_desk").get(
        "/records/appointment?starts_at__gte=2026-03-02T00:00&starts_at__lte=2026-03-02T23:59:59"
    )
    assert len(first_cells(narrowed.text)) == 1


def test_next_page_seeks_with_a_keyset_cursor_and_counts_on(clinic):
    client = clinic.login("front_desk")
    page = client.get("/records/appointment?limit=2")
    assert "1–2 of 4" in page.text
    next_url = re.search(r'href="([^"]+)" rel="next"', page.text).group(1).replace("&amp;", "&")
    assert "after=" in next_url and "skip=2" in next_url
    second = client.get(next_url)
    assert second.status_code == 200, second.text
    assert "3–4 of 4" in second.text
    assert set(first_cells(second.text)).isdisjoint(first_cells(page.text))
    assert "First page" in second.text


def test_saved_filters_are_private_to_their_user(clinic):
    doctor, other, desk = clinic.login("doctor"), clinic.login("doctor2"), clinic.login("front_desk")
    page = doctor.get("/records/appointment?status=requested&limit=2")
    saved = doctor.post(
        "/records/appointment/filters",
        data={"name": "Waiting", "query": "status=requested&after=xyz", "csrf_token": csrf_of(page.text)},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/records/appointment?status=requested&saved=1"
    mine = doctor.get("/records/appointment")
    assert "Saved filters" in mine.text and 'href="/records/appointment?status=requested">Waiting<' in mine.text
    for stranger in (other, desk):
        assert "Waiting" not in stranger.get("/records/appointment").text
    filter_id = int(re.search(r"/records/appointment/filters/(\d+)/delete", mine.text).group(1))
    theirs = other.post(
        f"/records/appointment/filters/{filter_id}/delete",
        data={"csrf_token": csrf_of(other.get("/records/appointment").text)},
    )
    assert theirs.status_code == 404  # another user's filter cannot be deleted (nor seen)
    empty = doctor.post(
        "/records/appointment/filters", data={"name": " ", "query": "", "csrf_token": csrf_of(mine.text)}
    )
    assert empty.status_code == 422 and "Give the filter a name" in empty.text
    gone = doctor.post(f"/records/appointment/filters/{filter_id}/delete", data={"csrf_token": csrf_of(mine.text)})
    assert gone.status_code == 303 and "Waiting" not in doctor.get("/records/appointment").text


def test_a_link_filter_over_many_records_is_a_type_ahead_keeping_the_chosen_one(clinic):
    from builder.records import Actor

    system = Actor(id=None, name="system", role="admin")
    service = clinic.runtime.records
    for i in range(101):
        service.create(system, "staff", {"name": f"Dr. Extra {i:03d}", "department": "dental"})
    li = clinic.data["staff"][0]["id"]
    page = clinic.login("front_desk").get(f"/records/appointment?doctor={li}")
    assert page.status_code == 200, page.text
    filters = page.text.split('class="filter-grid"')[1].split("</details>")[0]
    assert 'class="typeahead" id="filter-doctor-search"' in filters and "data-url=" in filters
    assert re.search(rf'<option value="{li}" selected>Dr. Li', filters)  # the chosen doctor stays chosen
    assert len(first_cells(page.text)) == 2
