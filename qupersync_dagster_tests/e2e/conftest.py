"""The headless browser every UI test drives."""

from __future__ import annotations

from pathlib import Path

import pytest

from qupersync_dagster_tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
