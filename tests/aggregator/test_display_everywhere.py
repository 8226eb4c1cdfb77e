"""One display rule everywhere: the same released figure reads the same in `summary` (table
and JSON), the HTTP summary, the dashboard, the privacy review and the demo's table; and the
review shows each cohort's ε spent this budget year and what is left of the yearly cap."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from aggregator_harness import Server, bearer
from release_seeding import CLAMPED, COHORTS, EPSILON, Seeded, seed
from rich.console import Console

from worktally.aggregator.settings import DataDir
from worktally.client.demo.output import review_tables, summary_table
from worktally.client.wire.display import CLAMP_MARK, Figure
from worktally.client.wire.privacy import YEARLY_EPSILON_CAP
from worktally.client.wire.windows import last_ended


def cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", *args],
                            capture_output=True, text=True, timeout=120, env=dict(os.environ),
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    return seed(DataDir(tmp_path / "agg"))


def test_a_clamped_uninformative_figure_reads_the_same_in_every_view(
        seeded: Seeded, tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    cohort, index, metric, _ = CLAMPED
    window = seeded.windows[index].label
    data = str(seeded.data.root)
    summary = json.loads(cli("summary", "--data", data, "--json"))
    table = cli("summary", "--data", data)
    cli("dashboard", "--data", data, "--out", str(tmp_path / "dash.html"))
    cli("review", "--data", data, "--html", str(tmp_path / "review.html"))
    dashboard = (tmp_path / "dash.html").read_text(encoding="utf-8")
    review_page = (tmp_path / "review.html").read_text(encoding="utf-8")

    row = next(r for r in summary["cohorts"] if (r["cohort"], r["period"]) == (cohort, window))
    mean = row["metrics"][metric]["mean"]
    figure = Figure.from_json(mean)
    # The seeded noise pushed it below 0: shown at 0 with the mark, raw kept, and too noisy.
    assert mean["raw"] < 0 and mean["estimate"] == 0 and mean["clamped"] is True
    assert mean["shown"] == figure.text and figure.value_text == f"0{CLAMP_MARK}"
    assert mean["informative"] is False and mean["note"] == figure.note
    assert re.fullmatch(r"needs about [0-9,]+ people", figure.note)

    # The CLI table: the figure's line under its cohort and window, with the note.
    block = table[table.index(f"{window} {cohort} "):]
    line = " ".join(next(ln for ln in block.splitlines()
                         if ln.strip().startswith(metric)).split())
    assert line.endswith(f"{figure.text} {figure.note}"), line
    assert "\x1b" not in table, "dimming is for terminals; a pipe gets plain text"

    # The dashboard's and the review's tables: one greyed row with the same cells.
    cells = (f"<td>{figure.value_text}</td><td>{figure.interval_text}</td>"
             f"<td>{figure.note}</td>")
    assert f"<td>{window}</td><td>{cohort}</td>" in dashboard
    assert dashboard.count(cells) >= 1 and review_page.count(cells) >= 1
    for page in (dashboard, review_page):
        greyed = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", page) if cells in r]
        assert greyed and all(r.startswith('<tr class="uninformative">') for r in greyed)

    # The HTTP summary and review carry the same JSON; the demo's table prints the same text.
    server = serve(seeded.data)
    over_http = httpx.get(f"{server.url}/v1/admin/summary", timeout=30,
                          headers=bearer(seeded.admin_token)).json()
    assert over_http == summary
    review = httpx.get(f"{server.url}/v1/privacy/review", timeout=30,
                       headers=bearer(seeded.officer_token)).json()
    released = next(r for r in review["releases"]
                    if (r["cohort"], r["period"]) == (cohort, window))
    assert released["figures"][metric] == mean
    console = Console(record=True, width=400)
    console.print(summary_table({**summary, "cohorts": [row]}, {}))
    printed = console.export_text()
    assert f"{figure.text}  (true -; {figure.note})" in printed


def test_the_review_shows_the_budget_spent_this_year_and_what_is_left(
        seeded: Seeded, serve: Callable[[DataDir], Server]) -> None:
    server = serve(seeded.data)
    review = httpx.get(f"{server.url}/v1/privacy/review", timeout=30,
                       headers=bearer(seeded.officer_token)).json()
    # The budget year of the last ended quarter: the one the next release spends from.
    year = last_ended("quarter", dt.datetime.now(dt.UTC)).budget_year
    released_this_year = sum(1 for w in seeded.windows if w.budget_year == year)
    assert review["yearly_epsilon_cap"] == YEARLY_EPSILON_CAP
    by_name = {c["name"]: c for c in review["cohorts"]}
    assert set(by_name) == set(COHORTS)
    for cohort in by_name.values():
        assert cohort["budget_year"] == year
        assert cohort["epsilon_spent_this_year"] == EPSILON * released_this_year
        assert cohort["epsilon_left_this_year"] == max(
            YEARLY_EPSILON_CAP - EPSILON * released_this_year, 0)
    page = httpx.get(f"{server.url}/privacy", timeout=30,
                     headers=bearer(seeded.officer_token)).text
    assert "ε left of the cap of 16" in page and "ε spent per person (released)" in page
    # The demo prints the same two numbers in its policy table.
    console = Console(record=True, width=250)
    for table in review_tables(review):
        console.print(table)
    printed = console.export_text()
    spent, left = EPSILON * released_this_year, YEARLY_EPSILON_CAP - EPSILON * released_this_year
    lines = printed.splitlines()
    header = next(ln for ln in lines if "ε spent this year" in ln)
    growth = next(ln for ln in lines if "│ growth" in ln and "local" in ln)
    names = [c.strip() for c in re.split(r"[┃│]", header)]
    cells = [c.strip() for c in growth.split("│")]
    assert cells[names.index("ε spent this year")] == f"{spent:g}"
    assert cells[names.index("left of 16")] == f"{max(left, 0):g}"
