"""Survival: AI lines of a commit still present at HEAD once the commit is old enough."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path

import pytest
from attribution_support import KEYER, numbered, open_db, record, repo_for
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.attribution.commits import attribute_new_commits
from worktally.client.attribution.survival import surviving_count, update_survival
from worktally.client.config import AttributionConfig, Config

NOW_CFG = Config(attribution=AttributionConfig(survival_days=0))


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def test_deleted_ai_lines_do_not_survive(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    lines = numbered("keep", 6)
    record(con, "ai", lines, tool="codex")
    sha = repo.commit(files={"a.py": "\n".join(lines), "b.py": "plain_human_line = 1\n"})
    # Two AI lines deleted and one re-indented: the re-indented line still survives.
    repo.commit(files={"a.py": "\n".join([*lines[:3], "    " + lines[5]])})
    rp = repo_for(repo.root)
    attribute_new_commits(con, KEYER, rp, NOW_CFG)
    assert update_survival(con, KEYER, rp, NOW_CFG, now=time.time() + 1) == 2
    row = con.execute("SELECT ai_lines, ai_surviving, days FROM survival WHERE sha = ?",
                      [sha]).fetchone()
    assert row == (6, 4, 0)
    # Checked once only.
    assert update_survival(con, KEYER, rp, NOW_CFG, now=time.time() + 1) == 0


def test_young_commits_wait(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    record(con, "ai", numbered("w", 2), tool="codex")
    repo.commit(files={"a.py": "\n".join(numbered("w", 2))})
    rp = repo_for(repo.root)
    cfg = dataclasses.replace(NOW_CFG, attribution=AttributionConfig(survival_days=14))
    attribute_new_commits(con, KEYER, rp, cfg)
    assert update_survival(con, KEYER, rp, cfg, now=time.time()) == 0
    assert update_survival(con, KEYER, rp, cfg, now=time.time() + 15 * 86_400) == 1


@given(st.lists(st.integers(0, 5)), st.lists(st.integers(0, 5)))
def test_surviving_count_is_multiset_intersection(committed, head):
    got = surviving_count(Counter(committed), Counter(head))
    remaining = list(head)
    expected = 0
    for key in committed:
        if key in remaining:
            remaining.remove(key)
            expected += 1
    assert got == expected
