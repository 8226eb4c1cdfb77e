"""Every committed line is exactly one class: ai, ai_modified, human (typed while observed),
bulk, external or unknown (nothing recorded it); shares count observed lines only."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from attribution_support import KEYER, commit_row, numbered, open_db, record, repo_for

from worktally.client.attribution.commits import (
    MOSTLY_UNKNOWN_SHARE,
    LineClasses,
    attribute_new_commits,
    line_classes_between,
)
from worktally.client.attribution.outcomes import session_outcomes
from worktally.client.config import Config

CFG = Config()


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def test_a_commit_with_every_class(tmp_path: Path, git_repo: Any) -> None:
    repo = git_repo()
    con = open_db(tmp_path)
    ai, modified, bulk = numbered("ai", 3), numbered("mod", 2), numbered("bulk", 2)
    external, typed, unseen = numbered("ext", 1), numbered("typed", 2), numbered("unseen", 4)
    record(con, "ai", ai, tool="copilot", kind="completion")
    record(con, "ai_modified", modified, tool="copilot", kind="completion")
    record(con, "bulk", bulk)
    record(con, "external", external)
    record(con, "typed", typed)
    sha = repo.commit(files={"all.py": "\n".join(ai + modified + bulk + external + typed
                                                 + unseen + ["}", "pass"]) + "\n"})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    row = commit_row(con, sha)
    got = {k: row[k] for k in ("lines_added", "ai_lines", "ai_modified_lines", "bulk_lines",
                               "external_lines", "human_lines", "unknown_lines")}
    assert got == {"lines_added": 14, "ai_lines": 3, "ai_modified_lines": 2, "bulk_lines": 2,
                   "external_lines": 1, "human_lines": 2, "unknown_lines": 4}
    lines = dict(con.execute("SELECT source, count(*) FROM commit_lines GROUP BY 1").fetchall())
    assert lines == {"ai": 3, "ai_modified": 2, "bulk": 2, "external": 1, "human": 2,
                     "unknown": 4}
    # ai_modified lines keep the AI tool and kind; the others carry none.
    tools = set(con.execute("SELECT source, tool, kind FROM commit_lines "
                            "WHERE tool IS NOT NULL").fetchall())
    assert tools == {("ai", "copilot", "completion"), ("ai_modified", "copilot", "completion")}


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["typed", "ai_modified", "ai"], "ai"),
        (["bulk", "ai_modified"], "ai_modified"),
        (["external", "bulk"], "bulk"),
        (["typed", "external"], "external"),
        (["typed"], "human"),
        ([], "unknown"),
    ],
)
def test_precedence_of_edit_sources(tmp_path: Path, git_repo: Any, sources: list[str],
                                    expected: str) -> None:
    repo = git_repo()
    con = open_db(tmp_path)
    line = numbered("p", 1)
    for n, source in enumerate(sources):
        tool = "codex" if source in ("ai", "ai_modified") else None
        record(con, source, line, tool=tool, ts=time.time() - 100 + n)
    repo.commit(files={"p.py": line[0] + "\n"})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    assert con.execute("SELECT source FROM commit_lines").fetchall() == [(expected,)]


def test_history_from_before_the_repo_was_watched_is_unknown(tmp_path: Path,
                                                             git_repo: Any) -> None:
    repo = git_repo()
    con = open_db(tmp_path)
    old = repo.commit(files={"legacy.py": "\n".join(numbered("legacy", 6)) + "\n"},
                      when=int(time.time()) - 3 * 86_400)
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    row = commit_row(con, old)
    assert (row["lines_added"], row["unknown_lines"], row["human_lines"]) == (6, 6, 0)


def test_line_classes_between_counts_reachable_commits_in_range(tmp_path: Path,
                                                               git_repo: Any) -> None:
    repo = git_repo()
    con = open_db(tmp_path)
    base = repo.commit(files={"README.md": "project readme text\n"})
    record(con, "ai", numbered("a", 2), tool="codex")
    record(con, "typed", numbered("t", 1))
    repo.commit(files={"a.py": "\n".join(numbered("a", 2) + numbered("t", 1)
                                         + numbered("u", 1)) + "\n"})
    rp = repo_for(repo.root)
    attribute_new_commits(con, KEYER, rp, CFG)
    now = dt.datetime.now(dt.UTC)
    week = (now - dt.timedelta(days=7), now + dt.timedelta(minutes=1))
    classes = line_classes_between(con, *week)
    # The README (1 line, unobserved) is unknown too.
    assert classes == LineClasses(ai=2, human=1, unknown=2)
    assert (classes.observed, classes.total, classes.ai_share_pm()) == (3, 5, 667)
    assert line_classes_between(con, *week, repo_id="elsewhere") == LineClasses()
    repo.git("reset", "-q", "--hard", base)
    attribute_new_commits(con, KEYER, rp, CFG)  # marks the dropped commit unreachable
    assert line_classes_between(con, *week) == LineClasses(unknown=1)


def test_shares_have_no_value_without_observed_lines() -> None:
    nothing = LineClasses()
    assert nothing.ai_share_pm() is None and not nothing.mostly_unknown()
    unseen = LineClasses(unknown=40)
    assert unseen.ai_share_pm() is None  # never 0: there is no denominator
    assert unseen.mostly_unknown()
    assert LineClasses(ai=1, human=1, ai_modified=2).ai_share_pm() == 250
    assert LineClasses(ai=3, unknown=997).ai_share_pm() == 1000


def test_mostly_unknown_means_more_than_the_documented_share() -> None:
    assert MOSTLY_UNKNOWN_SHARE == 0.5
    assert not LineClasses(human=5, unknown=5).mostly_unknown()
    assert LineClasses(human=4, unknown=6).mostly_unknown()
    assert not LineClasses(human=4, unknown=6).mostly_unknown(threshold=0.6)
    data = LineClasses(ai=1, unknown=3).to_json()
    assert data["mostly_unknown"] is True and data["ai_share_pm"] == 1000


def test_a_completion_stream_whose_lines_were_edited_still_ships(tmp_path: Path,
                                                                 git_repo: Any) -> None:
    repo = git_repo()
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    now = time.time()
    # Copilot wrote two lines; the person changed both before committing.
    record(con, "ai", numbered("orig", 2), tool="copilot", kind="completion",
           repo_id=rp.repo_id, ts=now - 300)
    record(con, "ai_modified", numbered("edited", 2), tool="copilot", kind="completion",
           repo_id=rp.repo_id, ts=now - 200)
    repo.commit(files={"s.py": "\n".join(numbered("edited", 2)) + "\n"})
    attribute_new_commits(con, KEYER, rp, CFG)
    outcomes = {o.session_id: o.outcome
                for o in session_outcomes(con, CFG, dt.datetime.now(dt.UTC))}
    (stream,) = [s for s in outcomes if s.startswith("copilot:stream:")]
    assert outcomes[stream] == "shipped"
