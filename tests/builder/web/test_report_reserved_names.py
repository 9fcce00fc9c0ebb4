"""A report cannot be called `preview` or `designer` (docs/reports.md, Designer: API).

`POST /api/reports/preview` and the page `/reports/designer` are the app's own: a
report of either name would be served at `GET /api/reports/preview` beside the
preview call (and left out of the OpenAPI document), or hidden behind the designer
page. `crm validate` refuses the names, so the designer's save refuses them too.
"""

from __future__ import annotations

import html
import shutil

import pytest
from clinic_fixtures import CLINIC, clinic_copy, csrf_of

from builder.errors import BlueprintError
from builder.runtime import load_checked

REPORT = "{name}:\n  source: appointment\n  dimensions: [doctor]\n  measures: {{n: {{agg: count}}}}\n"


@pytest.mark.parametrize("name", ["preview", "designer"])
def test_crm_validate_refuses_a_report_named_like_the_apps_own_pages(tmp_path, name):
    blueprint = tmp_path / "blueprint"
    shutil.copytree(CLINIC, blueprint)
    (blueprint / "reports" / f"{name}.yaml").write_text(REPORT.format(name=name), encoding="utf-8")
    with pytest.raises(BlueprintError) as refused:
        load_checked(blueprint)
    [problem] = refused.value.problems
    assert problem.code == "report.reserved_name" and f"`{name}`" in problem.message


def test_the_designer_does_not_save_a_report_called_preview(tmp_path, database_url):
    form = {
        "name": "preview",
        "title_en": "Preview",
        "source": "appointment",
        "d0_field": "doctor",
        "m0_name": "appointments",
        "m0_agg": "count",
    }
    with clinic_copy(tmp_path, database_url) as clinic:
        admin = clinic.login("admin")
        page = admin.get("/reports/designer")
        saved = admin.post("/reports/designer/save", data={**form, "csrf_token": csrf_of(page.text)})
        assert saved.status_code == 422, saved.text[:300]
        assert "a report cannot be called `preview`" in html.unescape(saved.text)
        assert not (clinic.runtime.project.blueprint_path / "reports" / "preview.yaml").exists()
        assert clinic.api("admin").get("/api/reports/preview").status_code == 404
