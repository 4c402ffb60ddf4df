"""The app in a real headless Chromium, with every non-local request refused."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def _open(page, url: str, ready: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text(ready, exact=True).first.wait_for(timeout=60_000)


def test_overview_renders_offline_in_both_languages(app_url, offline_page):
    page, log = offline_page
    _open(page, app_url, "Registered poor villages")
    page.screenshot(path=str(ARTIFACTS / "overview-en.png"), full_page=True)

    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="简体中文").click()
    page.get_by_text("建档立卡贫困村", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "overview-zh.png"), full_page=True)

    assert log.foreign == []
    assert log.errors == []
