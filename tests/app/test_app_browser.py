"""The served page: ``python -m galaxy10 app`` on a free local port, opened at the tokened URL it
prints and driven by headless Chromium (Playwright)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from served import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    AppProcess,
    answers,
    chromium_path,  # noqa: F401 - the fixture, skipping without chromium
    free_port,
)

SCREENSHOT = Path(os.environ.get("GALAXY10_SCREENSHOT")
                  or ROOT / "reports" / "figures" / "app_screenshot.png")
"""Where the page's screenshot goes; the README's picture is this test run with
``GALAXY10_SCREENSHOT=reports/reference/figures/button_page.png`` and
``GALAXY10_SCREENSHOT_MODEL`` naming the reference run's ``galaxy_cnn.keras``."""


@pytest.mark.slow
@pytest.mark.usefixtures("chromium_path")
def test_page_button_shows_galaxies(model_bundle, tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    model = os.environ.get("GALAXY10_SCREENSHOT_MODEL") or str(model_bundle["model"])
    tmp = tmp_path / "tmp"
    app = AppProcess(["--model", model, "--port", str(port), "--seed", "0"], tmp)
    with app:
        url = app.url(timeout=180)
        assert url.startswith(f"http://127.0.0.1:{port}/?token=")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url, timeout=180_000)
            button = page.get_by_role("button", name="Show me a random galaxy")
            button.wait_for(timeout=180_000)
            # before the first click: a placeholder picture, not a broken-image icon
            page.wait_for_function("(() => { const img = document.querySelector('img'); "
                                   "return img && img.complete && img.naturalWidth > 0; })()",
                                   timeout=60_000)
            placeholder = page.locator("img").first.get_attribute("src")
            button.click()
            page.get_by_text("Tally: 1 right of 1").or_(page.get_by_text("Tally: 0 right of 1")) \
                .wait_for(timeout=60_000)
            first = page.locator("img").first.get_attribute("src")
            first_text = page.inner_text("body")
            button.click()
            page.get_by_text(" of 2").wait_for(timeout=60_000)
            second = page.locator("img").first.get_attribute("src")
            body = page.inner_text("body")
            page.get_by_text("show where the model looked").click()  # the Grad-CAM overlay
            page.wait_for_function(f"document.querySelector('img').src !== {second!r}",
                                   timeout=60_000)
            overlaid = page.locator("img").first.get_attribute("src")
            page.get_by_role("button", name="More like this").click()  # its 8 neighbours
            page.locator(".galaxy10-neighbour").nth(7).wait_for(timeout=120_000)
            neighbours = page.locator(".galaxy10-neighbour").count()
            neighbour_text = page.inner_text("body")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            browser.close()
        assert "Predicted:" in body and "True class:" in body
        from galaxy10 import CLASS_NAMES

        assert any(name in body for name in CLASS_NAMES)
        assert first and second and first != second, "the image did not change"
        assert placeholder and placeholder != first
        assert first_text != body
        assert overlaid != second, "the overlay toggle did not redraw the image"
        assert neighbours == 8 and "test galaxies most like test galaxy" in neighbour_text
        assert neighbour_text.count("distance 0.") + neighbour_text.count("distance 1.") == 8
        assert SCREENSHOT.stat().st_size > 10_000
        # the kernel that ran the page stops with the app, and its files go with it
        assert app.stop(signal.SIGTERM) == 143
    assert list(tmp.iterdir()) == []
    assert not answers(port)
