"""Open a real report in headless Chromium: take a screenshot and check that every plot decoded and rendered.

Needs Debian's `chromium` package (apt-get install -y chromium). Without it this test FAILS, saying how to install
it; set POSTMIX_SKIP_BROWSER=1 to skip it on purpose.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from postmix.report import write_report
from postmix.report.plots import ACCENT_COLOUR, SELECTION_COLOUR
from postmix.report.synthetic import synthetic_report_data

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Added to a copy of the report only (the report itself has no script): marks the body once every image decoded.
IMAGE_PROBE = ("<script>window.addEventListener('load',function(){var images=Array.from(document.images);"
               "var decoded=images.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;"
               "document.body.setAttribute('data-images',images.length);"
               "document.body.setAttribute('data-images-decoded',decoded);});</script>")


@pytest.fixture(scope="module")
def chromium() -> str:
    if os.environ.get("POSTMIX_SKIP_BROWSER") == "1":
        pytest.skip("POSTMIX_SKIP_BROWSER=1: headless-browser check of the report skipped on request")
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("the report browser test needs Debian's chromium: run `apt-get update && apt-get install -y "
                    "chromium` (as root), or set POSTMIX_SKIP_BROWSER=1 to skip this test on purpose")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    return write_report(synthetic_report_data(n_rows=1200, budget=120, seed=1), folder / "report.html")


def run_chromium(chromium: str, profile, *arguments: str) -> subprocess.CompletedProcess:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def colour_pixels(picture: np.ndarray, hex_colour: str, tolerance: int = 12) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(picture[:, :, :3].astype(int) - rgb).max(axis=2) <= tolerance).sum())


def test_screenshot_shows_the_plots(chromium, report, tmp_path):
    screenshot = tmp_path / "report.png"
    result = run_chromium(chromium, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1400,4000",
                          f"file://{report}")
    assert screenshot.exists(), f"chromium wrote no screenshot (rc {result.returncode}): {result.stderr[-2000:]}"
    picture = np.asarray(Image.open(screenshot).convert("RGB"))
    assert picture.shape == (4000, 1400, 3)
    assert picture.std() > 20, "the screenshot is blank"
    # the selection's orange and the accent blue appear only inside the plots: seeing them means the PNGs painted
    assert colour_pixels(picture, SELECTION_COLOUR) > 2000
    assert colour_pixels(picture, ACCENT_COLOUR) > 2000


def test_every_image_decodes_in_the_browser(chromium, report, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", IMAGE_PROBE + "</body>"),
                      encoding="utf-8")
    result = run_chromium(chromium, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom",
                          f"file://{probed}")
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body, f"chromium dumped no DOM (rc {result.returncode}): {result.stderr[-2000:]}"
    images = re.search(r'data-images="(\d+)"', body.group(1))
    decoded = re.search(r'data-images-decoded="(\d+)"', body.group(1))
    assert images and decoded, f"the load handler did not run: {body.group(0)}"
    assert int(images.group(1)) == 8
    assert decoded.group(1) == images.group(1), "some report images did not decode"
