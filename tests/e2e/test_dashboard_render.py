"""The dashboard and the privacy review render in headless Chromium, with charts that have content.

A small demo team fills a real aggregator; Chromium screenshots the offline dashboard file and
the pages the running aggregator serves, and a small PNG reader counts what was drawn.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from png_support import Image, colour_counts, near, read_png

from worktally.client.demo.aggregator_process import leader_server
from worktally.client.demo.runner import DemoResult, DemoSettings, run_demo
from worktally.client.wire.measurement import METRIC_NAMES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
CHROMIUM_TIMEOUT_S = 120
WIDTH, HEIGHT = 1280, 2000
# The cohorts' colours in the dashboard's legend (growth blue, platform orange).
COHORT_COLOURS = {"growth": (0x2F, 0x6F, 0xDF), "platform": (0xD9, 0x82, 0x2B)}
# The charts sit below the header and above the tables in a 1280x2000 window.
CHART_ROWS = range(150, 1900)

pytestmark = pytest.mark.skipif(
    not CHROMIUM,
    reason="chromium is not installed (.ci/run installs the Debian package)")


def screenshot(url: str, tmp_path: Path, name: str) -> Image:
    out = tmp_path / f"{name}.png"
    profile = tmp_path / f"chromium-{name}"
    proc = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={out}",
         f"--window-size={WIDTH},{HEIGHT}", url],
        capture_output=True, timeout=CHROMIUM_TIMEOUT_S, check=False)
    assert out.exists(), proc.stderr.decode(errors="replace")[-2000:]
    image = read_png(out.read_bytes())
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    return image


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    workdir = tmp_path_factory.mktemp("render-demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKTALLY_HOME", str(workdir / "test-home"))
        return run_demo(DemoSettings(workdir=workdir, developers_per_cohort=3, seed=5,
                                     k_min=3, workers=3))


def assert_charts_drawn(image: Image) -> None:
    # The legend names each cohort in its colour, above the charts.
    legend = colour_counts(image, range(0, CHART_ROWS.start))
    for cohort, target in COHORT_COLOURS.items():
        drawn = sum(n for colour, n in legend.items() if near(colour, target))
        assert drawn > 30, f"{cohort}'s key is missing from the legend ({drawn} pixels)"
    counts = colour_counts(image, CHART_ROWS)
    background = counts.most_common(1)[0][1]
    assert sum(counts.values()) - background > 10_000
    assert len(counts) > 20
    # A 3-person team's figures are all too noisy to read, so every chart is greyed: its
    # bands are grey blocks, not the cohorts' colours.
    grey = sum(n for (r, g, b), n in counts.items()
               if max(r, g, b) - min(r, g, b) < 12 and 150 <= r <= 228)
    assert grey > 20_000, f"the greyed bands are missing ({grey} pixels)"


def assert_one_band_per_cohort(html: str, summary: dict[str, Any]) -> None:
    cohorts = {row["cohort"] for row in summary["cohorts"]}
    assert html.count('<path class="band"') == len(cohorts) * len(METRIC_NAMES)
    greyed = [m for m in METRIC_NAMES
              if not any(r["metrics"][m]["mean"]["informative"] for r in summary["cohorts"])]
    assert html.count('class="chart uninformative"') == len(greyed)
    assert html.count("too noisy to read: needs about") == len(greyed)


def test_offline_dashboard_file_renders_charts(released: DemoResult, tmp_path: Path,
                                               worktally_home: Path) -> None:
    html = released.dashboard.read_text(encoding="utf-8")
    assert html.count("<svg") == len(METRIC_NAMES)
    assert_one_band_per_cohort(html, released.summary)
    assert_charts_drawn(screenshot(released.dashboard.as_uri(), tmp_path, "dashboard-file"))


def test_served_dashboard_and_privacy_review_render(released: DemoResult, tmp_path: Path,
                                                   worktally_home: Path) -> None:
    deployment = released.deployment
    with leader_server(deployment) as server:
        # Without the token the pages are refused, so the screenshots below are the real ones.
        assert httpx.get(f"{server.url}/privacy", timeout=30).status_code in (401, 403)
        review_url = f"{server.url}/privacy?token={deployment.officer_token}"
        review_html = httpx.get(review_url, timeout=30).text
        dashboard_html = httpx.get(f"{server.url}/dashboard", timeout=30,
                                   params={"token": deployment.admin_token}).text
        dashboard = screenshot(f"{server.url}/dashboard?token={deployment.admin_token}",
                               tmp_path, "dashboard-served")
        review = screenshot(review_url, tmp_path, "review-served")
    assert_charts_drawn(dashboard)
    assert_one_band_per_cohort(dashboard_html, released.summary)
    for needle in ("platform", "growth", "shipped_token_share_pm"):
        assert needle in review_html
    # The review is text and tables: a good share of dark (text) pixels in its upper part.
    counts = colour_counts(review, range(0, 1000))
    dark = sum(n for (r, g, b), n in counts.items() if r + g + b < 300)
    assert dark > 2_000, f"the privacy review looks blank ({dark} dark pixels)"
