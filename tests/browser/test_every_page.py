"""Every page, as every role of a vertical, in zh-CN: no raw code, no axe-core violation, no sideways
scrolling.

Besides the pages a role reaches by links it visits two reached by doing something: a list's
bulk change of several fields (ticks a row, chooses a field in the bar, adds another on the
next page) and a quick-create form prefilled from a link's `filter:` (the picker's "new" link
with the form's value the filter reads, as forms.js sends it).

One test body runs over (vertical, roles, viewport): the clinic template and the physio vertical on a
375x667 phone (every role), and the clinic's admin and doctor on a 1280x800 desktop.

Raw codes come from the vertical's blueprint itself (options of select and state fields, role names,
workflow state and transition names, entity names): a whole word of the visible text that is one of
them means a label is missing somewhere. The users are named `zh_<role>` so their names (shown in the
header, the audit log, a staff record's user) are not role codes. axe-core comes from the npm
registry (package.json) and is injected into each page.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from serving import served_project
from test_front_desk import ARGS, CHROMIUM, REPO

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CLINIC = REPO / "blueprints" / "clinic"
PHYSIO = REPO / "tests" / "blueprints" / "physio"
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "correct-horse-battery-staple"
# A module's server serves several runs (the clinic: phone and desktop): bounded, with room for a loaded CI.
SERVER_SECONDS = 900
LOCALE = "zh-CN"
# Text that is code by design or not fixed yet, left out of the raw-code check: {path pattern: (selector, why)}.
NOT_LABELS: dict[str, tuple[str, str]] = {
    "/reports/designer": ("code[data-yaml]", "the designer shows the report it writes as blueprint YAML"),
}
# The seed's English free text that spells a code ("Kind staff"): data, seen in record and audit histories.
SEED_TEXT = ("Kind staff",)
# Pages known to break a check ("labels", "axe", "fits": no sideways scrolling) and not fixed yet:
# {(check, path pattern): why}. Empty means every page passes every check.
KNOWN: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Case:
    """One run of the checks: a vertical's blueprint folder and served project, the roles, the viewport."""

    blueprint: Path
    server: str  # the fixture serving the seeded vertical
    roles: tuple[str, ...]
    viewport: dict[str, int]
    min_pages: int  # pages the roles reach together at least (so a broken menu cannot pass)

    @property
    def phone(self) -> bool:
        return self.viewport == PHONE


CASES = {
    "clinic-phone": Case(
        CLINIC, "clinic_server", ("admin", "doctor", "nurse", "front_desk", "marketing", "analyst"), PHONE, 60
    ),
    "physio-phone": Case(PHYSIO, "physio_server", ("admin", "reception", "therapist"), PHONE, 25),
    "clinic-desktop": Case(CLINIC, "clinic_server", ("admin", "doctor"), DESKTOP, 25),
}


def blueprint_codes(folder: Path) -> dict[str, str]:
    """{code: what it is} for every code a person must never see raw, unless its zh-CN label is itself."""
    codes: dict[str, str] = {}
    app = yaml.safe_load((folder / "app.yaml").read_text(encoding="utf-8"))
    for role in app["roles"]:
        codes[role] = "role"
    for path in sorted((folder / "entities").glob("*.yaml")):
        for name, entity in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            codes[name] = "entity"
            for field_name, field in (entity.get("fields") or {}).items():
                labels = field.get("option_labels") or {}
                for option in field.get("options") or []:
                    label = (labels.get(option) or {}).get(LOCALE)
                    if label != option:
                        codes[str(option)] = f"option of {name}.{field_name}"
    for path in sorted((folder / "workflows").glob("*.yaml")):
        for name, flow in (yaml.safe_load(path.read_text(encoding="utf-8")).get("workflows") or {}).items():
            for state, spec in (flow.get("states") or {}).items():
                if ((spec or {}).get("label") or {}).get(LOCALE) != state:
                    codes[state] = f"state of {name}"
            for transition, spec in (flow.get("transitions") or {}).items():
                if ((spec or {}).get("label") or {}).get(LOCALE) != transition:
                    codes.setdefault(transition, f"transition of {name}")
    for word in ("None", "True", "False", "null", "undefined", "NaN"):
        codes[word] = "a raw value"
    return codes


def quick_pins(folder: Path) -> dict[str, str]:
    """{"entity.link": "record.field=option"} for each link whose `filter:` reads a select field of the
    record being edited: the query forms.js adds to the picker's quick-create link, with the field's first
    option, so the quick-create form opens prefilled."""
    pins: dict[str, str] = {}
    for path in sorted((folder / "entities").glob("*.yaml")):
        for name, entity in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            fields = entity.get("fields") or {}
            for link, spec in fields.items():
                for read in re.findall(r"record\.([a-z_]+)", str(spec.get("filter") or "")):
                    options = (fields.get(read) or {}).get("options")
                    if options:
                        pins[f"{name}.{link}"] = urlencode({f"record.{read}": options[0]})
    return pins


def raw_codes_in(text: str, codes: dict[str, str]) -> list[str]:
    """Each code found as a whole word, with the text around it (to find where it came from)."""
    for seed in SEED_TEXT:
        text = text.replace(seed, "")
    found = {}
    for match in re.finditer(r"[A-Za-z0-9_]+", text):
        word = match.group()
        if word in codes and word not in found:
            around = text[max(0, match.start() - 40) : match.end() + 20].replace("\n", " ")
            found[word] = f"{word} ({codes[word]}) in {around!r}"
    return sorted(found.values())


THERAPIST_OF = ("exercise_plan", "pain_reading", "session")  # physio entities a therapist reads as their own


def _quick_hasher():
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # hashing is not under test


@pytest.fixture(scope="module")
def clinic_server(tmp_path_factory):
    """The seeded clinic served by `crm serve`, one zh-CN login per role named zh_<role>."""
    sys.path.insert(0, str(REPO / "tests" / "builder" / "web"))
    from clinic_fixtures import build_runtime, seed_clinic

    from builder.accounts import add_user
    from builder.records import Actor

    tmp_path = tmp_path_factory.mktemp("clinic")
    url = f"sqlite:///{tmp_path / 'project' / 'crm.sqlite3'}"
    runtime = build_runtime(tmp_path / "project", url)
    roles = list(runtime.blueprint.roles)
    actors = {}
    for key, role in [(r, r) for r in CASES["clinic-phone"].roles] + [("doctor2", "doctor")]:
        user = add_user(runtime.engine, f"zh_{key}", role, PASSWORD, LOCALE, roles=roles, hasher=_quick_hasher())
        actors[key] = Actor(id=user.id, name=user.name, role=role, locale=LOCALE)
    seeded = seed_clinic(runtime, actors)
    # The seed's English free text says "hypertension" and "Kind staff": data, yet a code's spelling.
    from builder.records import SYSTEM

    visit, survey = seeded["visit"], seeded["survey"]
    runtime.records.update(SYSTEM, "visit", visit["id"], {"diagnosis": "原发性高血压"}, visit["version"])
    runtime.records.update(SYSTEM, "satisfaction", survey["id"], {"comment": "医生很耐心"}, survey["version"])
    config = runtime.project.config
    (tmp_path / "project" / "crm.toml").write_text(
        f'[project]\nblueprint = "{config["project"]["blueprint"]}"\n[database]\nurl = "{url}"\n'
        f'[security]\nkey_file = "{config["security"]["key_file"]}"\n',
        encoding="utf-8",
    )
    runtime.close()
    with served_project(tmp_path / "project", "browser-test-secret-key-0123456789abcdef", SERVER_SECONDS) as base:
        yield base


@pytest.fixture(scope="module")
def physio_server(tmp_path_factory):
    """The physio vertical migrated and filled by `crm seed`, served by `crm serve`, one zh-CN login per
    role named zh_<role>. A therapist reads only their own clients, sessions, plans and readings, so
    the therapist records behind the first of each carry zh_therapist's account."""
    sys.path.insert(0, str(REPO / "tests" / "verticals"))
    from physio import crm, init_physio_project

    from builder.accounts import add_user
    from builder.records import SYSTEM
    from builder.runtime import open_runtime

    with pytest.MonkeyPatch.context() as env:
        for name in ("CRM_DATABASE_URL", "CRM_ENCRYPTION_KEYS", "CRM_KEY_FILE"):  # the project's own, not outside ones
            env.delenv(name, raising=False)
        directory = tmp_path_factory.mktemp("physio") / "project"
        init_physio_project(directory, f"sqlite:///{directory / 'crm.sqlite3'}")
        for command in (("migrate", "-p", directory, "--yes"), ("seed", "-p", directory, "--rows", "6")):
            done = crm(*command)
            assert done.exit_code == 0, done.output
        runtime = open_runtime(directory)
        try:
            roles = list(runtime.blueprint.roles)
            users = {
                role: add_user(
                    runtime.engine, f"zh_{role}", role, PASSWORD, LOCALE, roles=roles, hasher=_quick_hasher()
                )
                for role in CASES["physio-phone"].roles
            }
            # zh_therapist treats whoever has the first plan, reading and session: each list shows a row.
            links = [runtime.records.list(SYSTEM, e, limit=1, sort="id").items[0]["therapist"] for e in THERAPIST_OF]
            for therapist_id in sorted(set(links)):
                therapist = runtime.records.get(SYSTEM, "therapist", therapist_id)
                change = {"account": users["therapist"].id}
                runtime.records.update(SYSTEM, "therapist", therapist["id"], change, therapist["version"])
        finally:
            runtime.close()
        with served_project(directory, "browser-test-secret-key-0123456789abcdef", SERVER_SECONDS) as base:
            yield base


LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations', 'passes']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
}"""
WIDE = "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.scrollingElement.clientWidth + 1)
  .slice(-3).map(e => `${e.tagName.toLowerCase()}.${e.className}`).join(', ')"""


BULK_PAGE = re.compile(r"/records/([a-z_]+)/bulk-update")  # a list's bulk change of several fields


def pages_of(page, base: str, pins: dict[str, str] | None = None, bulk_done: set[str] | None = None) -> list[str]:
    """The role's pages: its menu, then from each list its first record, new form and views; a report.

    With `pins` (quick_pins) also each prefilled quick-create a new form offers; with `bulk_done` (the
    entities earlier roles changed in bulk, added to) the bulk change of one list whose bar offers two
    fields or more, preferring an entity not yet seen.
    """
    seen: list[str] = ["/", "/tasks", "/inbox", "/reports", "/search?q=王"]
    menu = [h for h in page.evaluate(LINKS) if h and h.startswith("/") and not h.startswith("/static")]
    for href in menu:
        href = href.split("#")[0]
        if (
            href
            and href not in seen
            and re.fullmatch(r"/(records/[a-z_]+|dashboards/[a-z_]+|audit|outbox|import)", href)
        ):
            seen.append(href)
    bulk: list[str] = []
    for href in list(seen):
        match = re.fullmatch(r"/records/([a-z_]+)", href)
        if match is None:
            continue
        entity = match.group(1)
        page.goto(base + href)
        links = page.evaluate(LINKS)
        record = [h for h in links if re.fullmatch(rf"/records/{entity}/\d+", h or "")]
        extra = [f"/records/{entity}/{v}" for v in ("new", "calendar", "kanban") if f"/records/{entity}/{v}" in links]
        seen += [h for h in record[:1] + extra if h not in seen]
        if bulk_done is not None and page.locator(".bulk-fields input").count() >= 2:
            bulk.append(entity)
    if bulk and bulk_done is not None:
        entity = next((e for e in bulk if e not in bulk_done), bulk[0])
        bulk_done.add(entity)
        seen.append(f"/records/{entity}/bulk-update")
    for key, pin in (pins or {}).items():
        form = f"/records/{key.split('.')[0]}/new"
        if form in seen:
            page.goto(base + form)
            quick = [h for h in page.evaluate(LINKS) if h and f"pick_for={key}&" in h]  # the picker's "new" link
            seen += [f"{h}&{pin}" for h in quick[:1]]
    page.goto(base + "/reports")
    reports = [h for h in page.evaluate(LINKS) if re.fullmatch(r"/reports/[a-z_]+", h or "")]
    seen += [h for h in reports if h == "/reports/designer"] + [h for h in reports if h != "/reports/designer"][:1]
    return seen


def open_path(page, base: str, path: str):
    """Go to one of pages_of's paths, the bulk change by ticking the list's first row and the bar's first
    field, then adding the next page's first other field (each a form post); the last response."""
    match = BULK_PAGE.fullmatch(path)
    if match is None:
        return page.goto(base + path)
    page.goto(f"{base}/records/{match.group(1)}")
    page.locator("input[name=ids]").first.check()
    page.click("details.bulk-update > summary")
    page.locator(".bulk-fields input").first.check()
    with page.expect_navigation():
        page.click('button[data-bulk="update"]')
    with page.expect_navigation() as added:
        page.click('button[data-bulk="add"]')
    return added.value


def visible_text(page, path: str) -> str:
    """The body's innerText without the parts NOT_LABELS leaves out on this page."""
    text = page.inner_text("body")
    for pattern, (selector, _why) in NOT_LABELS.items():
        if re.fullmatch(pattern, path):
            for part in page.eval_on_selector_all(selector, "els => els.map(e => e.innerText)"):
                text = text.replace(part, "")
    return text


def _known(check: str, path: str) -> bool:
    return any(check == c and re.fullmatch(pattern, path) for c, pattern in KNOWN)


def _sign_in(browser, base: str, role: str, viewport: dict[str, int] = PHONE, **options):
    context = browser.new_context(viewport=viewport, locale=LOCALE, **options)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", f"zh_{role}")
    page.fill("#password", PASSWORD)
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    return context, page


def _large_text_on_a_phone(browser, base: str, pins: dict[str, str]) -> list[str]:
    """The admin (who reaches the most pages) in large-text mode: still no sideways scrolling."""
    context, page = _sign_in(browser, base, "admin")
    page.click("button[name=large_text]")
    page.wait_for_selector("body.large-text")
    problems = []
    for path in pages_of(page, base, pins, set()):
        open_path(page, base, path)
        wide = page.evaluate(WIDE)
        if wide > 1 and not _known("fits", path):
            problems.append(f"admin {path} in large text: scrolls sideways by {wide}px ({page.evaluate(WIDEST)})")
    context.close()
    return problems


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_every_page_as_every_role_shows_labels_passes_axe_and_fits_the_screen(case: Case, request):
    from playwright.sync_api import sync_playwright

    assert AXE.exists(), f"{AXE} is missing: `make assets` (npm ci) installs axe-core from package.json"
    server = request.getfixturevalue(case.server)
    codes = blueprint_codes(case.blueprint)
    pins, bulk_done = quick_pins(case.blueprint), set()
    screen = "on a phone" if case.phone else f"at {case.viewport['width']}x{case.viewport['height']}"
    problems: list[str] = []
    visited = 0
    visited_paths: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for role in case.roles:
                context, page = _sign_in(browser, server, role, case.viewport, bypass_csp=True)  # bypass: inject axe
                paths = pages_of(page, server, pins, bulk_done)
                for path in paths:
                    response = open_path(page, server, path)
                    visited += 1
                    visited_paths.append(path)
                    if BULK_PAGE.fullmatch(path) and page.locator("[data-bulk-field]").count() < 2:
                        problems.append(f"{role} {path}: the bulk change did not reach two fields")
                    if "pick_for=" in path and page.locator('form input[name^="record."]').count() == 0:
                        problems.append(f"{role} {path}: the quick-create form does not carry what its filter pins")
                    where = f"{role} {path}"
                    if response is None or response.status >= 400:
                        problems.append(f"{where}: status {response.status if response else 'none'}")
                        continue
                    if page.evaluate("document.documentElement.lang") != LOCALE:
                        problems.append(f"{where}: <html lang> is {page.evaluate('document.documentElement.lang')!r}")
                    raw = raw_codes_in(visible_text(page, path), codes)
                    if raw and not _known("labels", path):
                        problems.append(f"{where}: raw codes {raw}")
                    wide = page.evaluate(WIDE)
                    if wide > 1 and not _known("fits", path):
                        problems.append(f"{where}: scrolls sideways by {wide}px {screen} ({page.evaluate(WIDEST)})")
                    if not _known("axe", path):
                        page.add_script_tag(path=str(AXE))
                        problems += [f"{where}: axe {v}" for v in page.evaluate(AXE_RUN)]
                context.close()
            if case.phone:
                problems += _large_text_on_a_phone(browser, server, pins)
        finally:
            browser.close()
    assert visited >= case.min_pages, visited  # each role with its lists, records, forms, views and reports
    assert bulk_done, "no role changed several fields of a list in bulk"
    assert any("pick_for=" in p for p in visited_paths), "no prefilled quick-create form was visited"
    assert not problems, "\n".join(problems)
