"""The dashboard and the privacy review render in headless Chromium, with charts that have content.

A small demo team fills a real aggregator; Chromium screenshots the offline dashboard file and
the pages the running aggregator serves, and a small PNG reader counts what was drawn.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from worktally.client.demo.aggregator_process import leader_server
from worktally.client.demo.runner import DemoResult, DemoSettings, run_demo
from worktally.client.wire.measurement import METRIC_NAMES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
CHROMIUM_TIMEOUT_S = 120
WIDTH, HEIGHT = 1280, 2000
# The cohorts' colours in the dashboard's charts (growth blue, platform orange).
COHORT_COLOURS = {"growth": (0x2F, 0x6F, 0xDF), "platform": (0xD9, 0x82, 0x2B)}
# The charts sit below the header and above the tables in a 1280x2000 window.
CHART_ROWS = range(150, 1900)

pytestmark = pytest.mark.skipif(
    not CHROMIUM,
    reason="chromium is not installed (.ci/run installs the Debian package)")


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: list[bytes]  # one row of RGB bytes per line

    def rgb(self, x: int, y: int) -> tuple[int, int, int]:
        row = self.pixels[y]
        return row[3 * x], row[3 * x + 1], row[3 * x + 2]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) to RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.extend(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            upleft = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, upleft)) & 0xFF
        previous = line
        rgb = line if bpp == 3 else bytearray(
            b for i in range(0, stride, 4) for b in line[i:i + 3])
        rows.append(bytes(rgb))
    return Image(width, height, rows)


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


def near(colour: tuple[int, int, int], target: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(colour, target, strict=True))


def colour_counts(image: Image, rows: range) -> Counter[tuple[int, int, int]]:
    return Counter(image.rgb(x, y) for y in rows for x in range(0, image.width, 2))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    workdir = tmp_path_factory.mktemp("render-demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKTALLY_HOME", str(workdir / "test-home"))
        return run_demo(DemoSettings(workdir=workdir, developers_per_cohort=3, seed=5,
                                     k_min=3, workers=3))


def assert_charts_drawn(image: Image) -> None:
    counts = colour_counts(image, CHART_ROWS)
    for cohort, target in COHORT_COLOURS.items():
        drawn = sum(n for colour, n in counts.items() if near(colour, target))
        # A chart per metric, each with an error bar and caps per cohort (dashed where the
        # interval is too wide to say much, as most are for a 3-person demo team).
        assert drawn > 150, f"{cohort}'s bars are missing ({drawn} pixels)"
    background = counts.most_common(1)[0][1]
    assert sum(counts.values()) - background > 10_000
    assert len(counts) > 20


def test_offline_dashboard_file_renders_charts(released: DemoResult, tmp_path: Path,
                                               worktally_home: Path) -> None:
    html = released.dashboard.read_text(encoding="utf-8")
    assert html.count("<svg") >= len(METRIC_NAMES)
    assert_charts_drawn(screenshot(released.dashboard.as_uri(), tmp_path, "dashboard-file"))


def test_served_dashboard_and_privacy_review_render(released: DemoResult, tmp_path: Path,
                                                   worktally_home: Path) -> None:
    deployment = released.deployment
    with leader_server(deployment) as server:
        # Without the token the pages are refused, so the screenshots below are the real ones.
        assert httpx.get(f"{server.url}/privacy", timeout=30).status_code in (401, 403)
        review_url = f"{server.url}/privacy?token={deployment.officer_token}"
        review_html = httpx.get(review_url, timeout=30).text
        dashboard = screenshot(f"{server.url}/dashboard?token={deployment.admin_token}",
                               tmp_path, "dashboard-served")
        review = screenshot(review_url, tmp_path, "review-served")
    assert_charts_drawn(dashboard)
    for needle in ("platform", "growth", "shipped_token_share_pm"):
        assert needle in review_html
    # The review is text and tables: a good share of dark (text) pixels in its upper part.
    counts = colour_counts(review, range(0, 1000))
    dark = sum(n for (r, g, b), n in counts.items() if r + g + b < 300)
    assert dark > 2_000, f"the privacy review looks blank ({dark} dark pixels)"
