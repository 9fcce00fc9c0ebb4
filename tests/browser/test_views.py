"""In a real browser: drag an appointment on the calendar to a free slot (moved) and onto a booked one
(refused: the clinic's overlap message shows and the card stays), then move a card on a phone's board.

Runs `crm serve` like test_front_desk.py, in zh-CN. Screenshots go to the test's folder;
with CRM_UPDATE_SCREENSHOTS=1 they replace docs/screenshots/calendar-desktop.png and
kanban-phone.png.
"""

from __future__ import annotations

import os

import pytest
from test_front_desk import ARGS, CHROMIUM, DOC_SHOTS, server  # noqa: F401  (the uvicorn server fixture)

pytestmark = [pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 667}
PX_PER_MINUTE = 1.2  # static/views.js at the default font size
FIRST_HOUR = 8


def sign_in(browser, base: str, user: str, viewport: dict):
    page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", "correct-horse-battery-staple")
    page.click(".login-form button")
    page.wait_for_url(f"{base}/")
    if page.get_attribute("html", "lang") != "zh-CN":
        page.click('form[action="/locale"] button')
        page.wait_for_load_state()
    return page


def column(page, heading: str):
    return page.locator("section.cal-col", has=page.locator("h2", has_text=heading))


def test_drag_on_the_calendar_and_move_a_card_on_the_board(server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    shots = DOC_SHOTS if os.environ.get("CRM_UPDATE_SCREENSHOTS") == "1" else tmp_path
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = sign_in(browser, server, "front_desk", DESKTOP)
            page.goto(f"{server}/records/appointment/calendar?day=2026-03-02")
            card = column(page, "Dr. Zhao").locator(".cal-card", has_text="Zhang Wei")
            assert card.count() == 1 and "待确认" in card.inner_text()
            target = column(page, "Dr. Li").locator(".cal-body")
            eleven = (11 - FIRST_HOUR) * 60 * PX_PER_MINUTE + 2
            card.drag_to(target, target_position={"x": 40, "y": eleven})
            page.wait_for_selector(".notice")  # the page reloads after the move
            moved = column(page, "Dr. Li").locator(".cal-card", has_text="Zhang Wei")
            assert moved.count() == 1 and "11:00" in moved.inner_text()
            assert column(page, "Dr. Zhao").locator(".cal-card").count() == 0
            page.screenshot(path=str(shots / "calendar-desktop.png"), full_page=True)

            page.goto(f"{server}/records/appointment/calendar?day=2026-03-01&mode=week")
            liu = page.locator(".cal-card", has_text="Liu Yang")  # Dr. Li, 03-03 09:00
            first_day = page.locator("section.cal-col").first  # 03-01: Dr. Li sees Wang Fang at 09:00
            liu.drag_to(first_day.locator(".cal-body"), target_position={"x": 20, "y": 10})
            page.wait_for_selector("#view-alert:not([hidden])")
            assert "该医生此时段已有预约" in page.inner_text("#view-alert")
            assert page.locator("section.cal-col").nth(2).locator(".cal-card", has_text="Liu Yang").count() == 1
            page.context.close()

            phone = sign_in(browser, server, "front_desk", PHONE)
            phone.goto(f"{server}/records/appointment/kanban")
            requested = phone.locator("section.board-col").first
            assert "待确认" in requested.locator("h2").inner_text()
            before = requested.locator(".board-card").count()
            card = requested.locator(".board-card").first
            card.locator("button", has_text="移到已确认").click()  # the keyboard and no-script way
            phone.wait_for_selector(".notice")
            assert phone.locator("section.board-col").first.locator(".board-card").count() == before - 1
            confirmed = phone.locator("section.board-col").nth(1)
            assert confirmed.locator(".board-card").count() == 1
            assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            phone.screenshot(path=str(shots / "kanban-phone.png"), full_page=True)
            phone.context.close()

            desk = sign_in(browser, server, "front_desk", DESKTOP)  # side by side, a card is dragged across
            desk.goto(f"{server}/records/appointment/kanban")
            dragged = desk.locator("section.board-col").first.locator(".board-card").first
            dragged_id = dragged.get_attribute("data-id")
            dragged.drag_to(desk.locator("section.board-col").nth(1).locator(".board-cards"))
            desk.wait_for_url(f"**moved={dragged_id}")
            assert desk.locator(f'section.board-col >> nth=1 >> .board-card[data-id="{dragged_id}"]').count() == 1
            dragged = desk.locator("section.board-col").first.locator(".board-card").first
            dragged.drag_to(desk.locator("section.board-col").nth(3).locator(".board-cards"))  # requested -> completed
            desk.wait_for_selector("#view-alert:not([hidden])")
            assert "流程中没有从“待确认”到“已完成”的步骤" in desk.inner_text("#view-alert")
        finally:
            browser.close()
