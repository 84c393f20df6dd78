"""The demo and Debian's Chromium (never a browser a tool downloads) for the UI tests.

``QUPERSYNC_UPDATE_SCREENSHOT=1`` makes the UI tests refresh the README's screenshots in ``docs/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import qupersync_dagster
from qupersync_dagster_tests.demo.launcher import running_demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
UI_TIMEOUT_MS = 60_000
ROWS_PER_DAY = 40
UPDATE_SCREENSHOT_ENV = "QUPERSYNC_UPDATE_SCREENSHOT"
DOCS = Path(qupersync_dagster.__file__).parents[1] / "docs"
MAX_SCREENSHOT_BYTES = 300_000


def keep_for_docs(screenshot: Path) -> None:
    """Check the screenshot is small enough for the README; copy it to ``docs/`` when asked."""
    assert 0 < screenshot.stat().st_size < MAX_SCREENSHOT_BYTES
    if os.environ.get(UPDATE_SCREENSHOT_ENV) == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(screenshot, DOCS / screenshot.name)


@contextlib.contextmanager
def demo_in_browser(browser, folder: Path, *, width: int = 1280, height: int = 720) -> Iterator:
    """The demo, ready, and a page to drive its UI; on a failure, what the page showed."""
    log = folder / "demo-output.log"
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(UI_TIMEOUT_MS)
    options = ("--rows-per-day", str(ROWS_PER_DAY), "--ui-port", "0")
    with running_demo(folder / "home", log, *options) as demo:
        try:
            demo.wait_until_ready()
            yield demo, page
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=folder / "failure.png")
            print(f"demo output: {log}; screenshots: {folder}")
            raise
