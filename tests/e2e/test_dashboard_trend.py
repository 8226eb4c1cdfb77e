"""The dashboard's trends in a real browser, at 1400 and 800 px: served by a running aggregator
and as the offline file. Two cohorts released over four windows (seeded through the store
API); Playwright drives the system Chromium, measures every label against its chart's box,
counts the bands, checks the layout, and screenshots are read back pixel by pixel.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aggregator_harness import Server, start_server
from png_support import Image, colour_counts, near, read_png
from release_seeding import COHORTS, Seeded, seed

from worktally.aggregator.settings import DataDir
from worktally.aggregator.summary import build_summary
from worktally.client.wire.measurement import METRIC_NAMES

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    pytest.skip("playwright is not installed (pip install -e '.[test]')",
                allow_module_level=True)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
BROWSER_TIMEOUT_MS = 60_000
PAGE_TIMEOUT_MS = 30_000
CLI_TIMEOUT_S = 120
WIDTHS = (1400, 800)
# The cohorts' line colours, and their bands' tint: the colour at 20% over white.
LINES = {"growth": (0x2F, 0x6F, 0xDF), "platform": (0xD9, 0x82, 0x2B)}
TINTS = {c: tuple(round(255 * 0.8 + v * 0.2) for v in rgb) for c, rgb in LINES.items()}

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed "
                                 "(.ci/run installs the Debian package)")]

# Everything the checks need, read from the laid-out page in one go.
LAYOUT_JS = """() => {
  const rect = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
            height: r.height}; };
  const charts = [...document.querySelectorAll('section.chart')].map((s) => {
    const svg = s.querySelector('svg');
    return {
      metric: s.dataset.metric, uninformative: s.classList.contains('uninformative'),
      caption: (s.querySelector('p.needs') || {}).textContent || '',
      section: rect(s), svg: rect(svg),
      texts: [...svg.querySelectorAll('text')].map((t) => ({
        text: t.textContent, cls: t.getAttribute('class') || '', ...rect(t)})),
      bands: [...svg.querySelectorAll('path.band')].map((b) => ({
        cohort: b.dataset.cohort, ...rect(b)})),
    };
  });
  return {main: rect(document.querySelector('main')), charts,
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth};
}"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(DataDir(tmp_path_factory.mktemp("trend") / "agg"))


@pytest.fixture(scope="module")
def summary(seeded: Seeded) -> dict[str, Any]:
    return build_summary(list(seeded.releases))


@pytest.fixture(scope="module")
def offline_file(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("offline") / "dashboard.html"
    result = subprocess.run(
        [sys.executable, "-m", "worktally.aggregator.cli", "dashboard", "--data",
         str(seeded.data.root), "--out", str(out)],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=dict(os.environ),
        check=False)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def server(seeded: Seeded, offline_file: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # After the offline file: the server holds the database while it runs.
    running = start_server(seeded.data, tmp_path_factory.mktemp("server-home"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"],
            timeout=BROWSER_TIMEOUT_MS)
        yield launched
        launched.close()


def open_page(browser: Browser, url: str, width: int, token: str | None = None) -> Page:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers=headers)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    return page


def uninformative_metrics(summary: dict[str, Any]) -> set[str]:
    return {m for m in METRIC_NAMES
            if not any(r["metrics"][m]["mean"]["informative"] for r in summary["cohorts"])}


def check_layout(layout: dict[str, Any], width: int, summary: dict[str, Any]) -> None:
    charts, main = layout["charts"], layout["main"]
    assert [c["metric"] for c in charts] == list(METRIC_NAMES)
    assert layout["scrollWidth"] <= layout["clientWidth"], "nothing sticks out sideways"
    for chart in charts:
        svg = chart["svg"]
        assert svg["width"] > 300 and svg["height"] > 120, chart["metric"]
        # Every label inside its chart's box: nothing clipped at the SVG's edges.
        for t in chart["texts"]:
            assert (t["left"] >= svg["left"] - 0.5 and t["right"] <= svg["right"] + 0.5
                    and t["top"] >= svg["top"] - 0.5 and t["bottom"] <= svg["bottom"] + 0.5), \
                (chart["metric"], t, svg)
        ticks = sorted((t for t in chart["texts"] if t["cls"] == "tick x"),
                       key=lambda t: t["left"])
        assert [t["text"] for t in ticks] == [r for r in dict.fromkeys(
            row["period"] for row in summary["cohorts"])], "each window labelled, in order"
        assert all(a["right"] < b["left"] for a, b in itertools.pairwise(ticks))
        # One band per cohort, each a shape across the windows (a trend, not a dot).
        assert sorted(b["cohort"] for b in chart["bands"]) == sorted(COHORTS)
        for band in chart["bands"]:
            assert band["width"] > 0.6 * svg["width"] and band["height"] > 5, band
    greyed = {c["metric"] for c in charts if c["uninformative"]}
    assert greyed == uninformative_metrics(summary) and "shipped_token_share_pm" not in greyed
    for chart in charts:
        has_banner = any(t["cls"] == "banner" for t in chart["texts"])
        assert has_banner == chart["uninformative"]
        assert ("needs about" in chart["caption"]) == chart["uninformative"]
    sections = [c["section"] for c in charts]
    rows: dict[int, list[dict[str, float]]] = {}
    for s in sections:
        rows.setdefault(round(s["top"]), []).append(s)
    per_row = {len(r) for r in rows.values()}
    if width >= 1200:
        assert per_row == {2}, "two charts to a row on a wide screen"
    else:
        assert per_row == {1}, "one chart to a row on a narrow screen"
    for row in rows.values():
        # Each row spans the page's content: no half-empty page.
        assert min(s["left"] for s in row) - main["left"] < 2
        assert main["right"] - max(s["right"] for s in row) < 2


def check_pixels(page: Page, image: Image, tmp_path: Path, width: int) -> None:
    counts = colour_counts(image)
    background = counts.most_common(1)[0][1]
    assert sum(counts.values()) - background > 0.1 * sum(counts.values()), "a blank page"
    assert len(counts) > 100
    main = read_png(page.locator('section.chart[data-metric="shipped_token_share_pm"]')
                    .screenshot(path=tmp_path / f"shipped-{width}.png"))
    main_counts = colour_counts(main, step=1)
    for cohort in COHORTS:
        line = sum(n for c, n in main_counts.items() if near(c, LINES[cohort], 30))
        band = sum(n for c, n in main_counts.items() if near(c, TINTS[cohort], 6))
        assert line > 300, f"{cohort}'s line is missing ({line} px)"
        assert band > 3000, f"{cohort}'s band is missing ({band} px)"
    grey = read_png(page.locator('section.chart[data-metric="ai_tokens_k_per_week"]')
                    .screenshot(path=tmp_path / f"greyed-{width}.png"))
    saturated = sum(n for (r, g, b), n in colour_counts(grey, step=1).items()
                    if max(r, g, b) - min(r, g, b) > 40)
    assert saturated < 20, f"an uninformative chart is drawn in colour ({saturated} px)"


@pytest.mark.parametrize("width", WIDTHS)
def test_served_dashboard_shows_trends_with_readable_labels(
        browser: Browser, server: Server, seeded: Seeded, summary: dict[str, Any],
        tmp_path: Path, width: int) -> None:
    page = open_page(browser, f"{server.url}/dashboard", width, seeded.admin_token)
    try:
        check_layout(page.evaluate(LAYOUT_JS), width, summary)
        shot = tmp_path / f"dashboard-{width}.png"
        image = read_png(page.screenshot(path=shot, full_page=True))
        assert image.width == width
        check_pixels(page, image, tmp_path, width)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_offline_dashboard_file_lays_out_the_same(
        browser: Browser, offline_file: Path, summary: dict[str, Any], tmp_path: Path,
        width: int) -> None:
    page = open_page(browser, offline_file.as_uri(), width)
    try:
        check_layout(page.evaluate(LAYOUT_JS), width, summary)
        check_pixels(page, read_png(page.screenshot(full_page=True)), tmp_path, width)
    finally:
        page.context.close()
