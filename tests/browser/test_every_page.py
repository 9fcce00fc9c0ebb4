"""Every page, as every role of the clinic, in zh-CN, on a 375x667 phone: no raw code, no axe-core
violation, no sideways scrolling.

Raw codes come from the blueprint itself (options of select and state fields, role names, workflow
state names, entity names): a whole word of the visible text that is one of them means a label is
missing somewhere. The users are named `zh_<role>` so their names (shown in the header, the audit
log, a staff record's user) are not role codes. axe-core comes from the npm registry (package.json)
and is injected into each page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from serving import served_project
from test_front_desk import ARGS, CHROMIUM, REPO, SERVER_SECONDS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CLINIC = REPO / "blueprints" / "clinic"
PHONE = {"width": 375, "height": 667}
ROLES = ("admin", "doctor", "nurse", "front_desk", "marketing", "analyst")
PASSWORD = "correct-horse-battery-staple"
LOCALE = "zh-CN"
# Text that is code by design or not fixed yet, left out of the raw-code check: {path pattern: (selector, why)}.
NOT_LABELS: dict[str, tuple[str, str]] = {
    "/reports/designer": ("code[data-yaml]", "the designer shows the report it writes as blueprint YAML"),
}
# The seed's English free text that spells a code ("Kind staff"): data, seen in record and audit histories.
SEED_TEXT = ("Kind staff",)
# Pages that are known to break a check and could not be fixed yet: {(check, path pattern): why}. Empty
# means every page passes every check.
KNOWN: dict[tuple[str, str], str] = {}


def blueprint_codes() -> dict[str, str]:
    """{code: what it is} for every code a person must never see raw, unless its zh-CN label is itself."""
    codes: dict[str, str] = {}
    app = yaml.safe_load((CLINIC / "app.yaml").read_text(encoding="utf-8"))
    for role in app["roles"]:
        codes[role] = "role"
    for path in sorted((CLINIC / "entities").glob("*.yaml")):
        for name, entity in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            codes[name] = "entity"
            for field_name, field in (entity.get("fields") or {}).items():
                labels = field.get("option_labels") or {}
                for option in field.get("options") or []:
                    label = (labels.get(option) or {}).get(LOCALE)
                    if label != option:
                        codes[str(option)] = f"option of {name}.{field_name}"
    for path in sorted((CLINIC / "workflows").glob("*.yaml")):
        for name, flow in (yaml.safe_load(path.read_text(encoding="utf-8")).get("workflows") or {}).items():
            for state, spec in (flow.get("states") or {}).items():
                if ((spec or {}).get("label") or {}).get(LOCALE) != state:
                    codes[state] = f"state of {name}"
    for word in ("None", "True", "False", "null", "undefined", "NaN"):
        codes[word] = "a raw value"
    return codes


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


@pytest.fixture
def server(tmp_path):
    """The seeded clinic served by `crm serve`, one zh-CN login per role named zh_<role>."""
    sys.path.insert(0, str(REPO / "tests" / "builder" / "web"))
    from argon2 import PasswordHasher
    from clinic_fixtures import build_runtime, seed_clinic

    from builder.accounts import add_user
    from builder.records import Actor

    url = f"sqlite:///{tmp_path / 'project' / 'crm.sqlite3'}"
    runtime = build_runtime(tmp_path / "project", url)
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # hashing is not under test
    roles = list(runtime.blueprint.roles)
    actors = {}
    for key, role in [(r, r) for r in ROLES] + [("doctor2", "doctor")]:
        user = add_user(runtime.engine, f"zh_{key}", role, PASSWORD, LOCALE, roles=roles, hasher=quick)
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


def pages_of(page, base: str) -> list[str]:
    """The role's pages: its menu, then from each list its first record, new form and views; a report."""
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
    page.goto(base + "/reports")
    reports = [h for h in page.evaluate(LINKS) if re.fullmatch(r"/reports/[a-z_]+", h or "")]
    seen += [h for h in reports if h == "/reports/designer"] + [h for h in reports if h != "/reports/designer"][:1]
    return seen


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


def _sign_in(browser, base: str, role: str, **options):
    context = browser.new_context(viewport=PHONE, locale=LOCALE, **options)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", f"zh_{role}")
    page.fill("#password", PASSWORD)
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    return context, page


def _large_text_on_a_phone(browser, base: str) -> list[str]:
    """The admin (who reaches the most pages) in large-text mode: still no sideways scrolling."""
    context, page = _sign_in(browser, base, "admin")
    page.click("button[name=large_text]")
    page.wait_for_selector("body.large-text")
    problems = []
    for path in pages_of(page, base):
        page.goto(base + path)
        wide = page.evaluate(WIDE)
        if wide > 1 and not _known("phone", path):
            problems.append(f"admin {path} in large text: scrolls sideways by {wide}px ({page.evaluate(WIDEST)})")
    context.close()
    return problems


def test_every_page_as_every_role_shows_labels_passes_axe_and_fits_a_phone(server):
    from playwright.sync_api import sync_playwright

    assert AXE.exists(), f"{AXE} is missing: `make assets` (npm ci) installs axe-core from package.json"
    codes = blueprint_codes()
    problems: list[str] = []
    visited = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for role in ROLES:
                context, page = _sign_in(browser, server, role, bypass_csp=True)  # bypass: to inject axe
                for path in pages_of(page, server):
                    response = page.goto(server + path)
                    visited += 1
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
                    if wide > 1 and not _known("phone", path):
                        problems.append(f"{where}: scrolls sideways by {wide}px on a phone ({page.evaluate(WIDEST)})")
                    if not _known("axe", path):
                        page.add_script_tag(path=str(AXE))
                        problems += [f"{where}: axe {v}" for v in page.evaluate(AXE_RUN)]
                context.close()
            problems += _large_text_on_a_phone(browser, server)
        finally:
            browser.close()
    assert visited > 60, visited  # six roles, each with its lists, records, forms, views and reports
    assert not problems, "\n".join(problems)
