"""The labelling page: ``python -m galaxy10 app --page label`` driven by headless Chromium with
clicks and keys; the labels CSV on disk holds every answer, and a kernel killed mid-session
loses none that was saved."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

import psutil
import pytest
from served import (
    CHROMIUM,
    CHROMIUM_ARGS,
    AppProcess,
    chromium_path,  # noqa: F401 - the fixture, skipping without chromium
    free_port,
)

from galaxy10.core.classes import CLASS_NAMES
from galaxy10.datasets.labelled import read_manifest
from galaxy10.pipeline.labelling import decisions_path


def saved(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def wait_rows(path: Path, n: int, timeout: float = 60) -> list[dict]:
    """The rows of ``path`` once it holds ``n`` (polled: each answer is a kernel round trip)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = saved(path)
        if len(rows) == n:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"{path.name}: {len(saved(path))} rows, expected {n}")


def kernels(pid: int) -> list[psutil.Process]:
    """The Jupyter kernels started under process ``pid``."""
    return [p for p in psutil.Process(pid).children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())]


@pytest.mark.slow
@pytest.mark.usefixtures("chromium_path")
def test_label_page_saves_clicks_and_keys_and_a_killed_kernel_loses_nothing(model_bundle,
                                                                             tmp_path):
    from playwright.sync_api import sync_playwright

    labels = tmp_path / "work" / "labels.csv"
    labels.parent.mkdir()
    skips = decisions_path(labels)
    port = free_port()
    app = AppProcess(["--page", "label", "--model", str(model_bundle["model"]), "--galaxies",
                      str(model_bundle["data"]), "--labels", str(labels), "--n", "40",
                      "--who", "browser", "--port", str(port)], tmp_path / "tmp")
    with app:
        url = app.url(timeout=180)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url, timeout=180_000)
            page.get_by_role("button", name=f"2 · {CLASS_NAMES[1]}").click(timeout=180_000)
            assert wait_rows(labels, 1)[0]["label"] == "1"
            page.get_by_role("button", name="s · skip").click()
            assert wait_rows(skips, 1)[0]["decision"] == "skip"
            keys = page.locator(".galaxy10-keys input")
            keys.click()
            keys.press("End")
            page.keyboard.press("3")  # the third class
            assert wait_rows(labels, 2)[1]["label"] == "2"
            page.keyboard.press("Backspace")  # undo
            wait_rows(labels, 1)
            page.keyboard.press("End")
            page.keyboard.press("0")  # the tenth class
            assert wait_rows(labels, 2)[1]["label"] == "9"
            page.keyboard.press("n")
            assert wait_rows(skips, 2)[1]["decision"] == "not a galaxy"
            page.get_by_text("(2 in all)").wait_for(timeout=30_000)
            body = page.inner_text("body")
            keys.click()
            for key in "202":  # the fifth label refits; its estimate comes from a thread
                keys.press("End")
                page.keyboard.press(key)
            assert [r["label"] for r in wait_rows(labels, 5)] == ["1", "9", "1", "9", "1"]
            page.get_by_text("(2-fold stratified CV of the linear probe on 5 labels)").wait_for(
                timeout=60_000)
            # mid-session: an answer sent, the kernel killed at once
            page.get_by_role("button", name=f"5 · {CLASS_NAMES[4]}").click()
            (kernel,) = kernels(app.proc.pid)
            kernel.send_signal(signal.SIGKILL)
            kernel.wait(timeout=30)
            browser.close()
        assert app.stop(signal.SIGTERM) == 143
    rows = saved(labels)
    assert [r["label"] for r in rows][:5] == ["1", "9", "1", "9", "1"] and len(rows) in (5, 6)
    assert all(r["who"] == "browser" for r in rows)
    assert len(read_manifest(labels)) == len(rows)  # the manifest import reads
    assert "Estimated accuracy: not yet" in body and "Nearest labelled galaxies" in body


@pytest.mark.slow
@pytest.mark.usefixtures("chromium_path")
def test_bench_times_clicks_in_the_served_page_and_leaves_no_labels_behind(tmp_path,
                                                                         monkeypatch):
    """``bench active --browser-clicks``' timing, on a small synthetic file and an untrained
    bundle: three answers timed in the page; the labels CSV lived in a temporary folder."""
    import tempfile

    from tiny_bundles import tiny_bundle

    from galaxy10.bench.clicks import bench_browser_clicks, format_browser_clicks
    from galaxy10.datasets import synthetic

    real = synthetic.generate(tmp_path / "data" / "real.h5", n=30, seed=4, progress=False)
    bundle = tiny_bundle(tmp_path / "data" / "tiny.keras")
    user, tmp = tmp_path / "user", tmp_path / "tmp"
    user.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(user)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    got = bench_browser_clicks(real, bundle, clicks=3, seed=0)
    assert got["clicks"] == got["saved"] == got["all"]["n"] == 3 and got["galaxies"] == 30
    assert got["plain"]["n"] == 3 and not got["refit"]  # the fifth label would refit
    assert 0 < got["all"]["median_ms"] <= got["all"]["p95_ms"] <= got["all"]["max_ms"]
    assert "performance.now()" in got["covers"] and "websocket" in got["covers"]
    assert "== served labelling page: 3 answers" in format_browser_clicks(got)
    assert list(user.iterdir()) == [] and list(tmp.iterdir()) == []
