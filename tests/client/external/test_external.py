"""External edits: lines written to disk that no editor reported, against real git repos."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path

import pytest
from attribution_support import KEYER, numbered, open_db, record, repo_for
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.config import CaptureConfig, Config
from worktally.client.external.scanner import inserted_keys, scan

CFG = Config()


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def external_keys(con) -> list[int]:
    rows = con.execute(
        "SELECT l.line_key FROM edit_lines l JOIN edits e USING (event_id) "
        "WHERE e.source = 'external' AND e.origin = 'watcher'"
    ).fetchall()
    return sorted(r[0] for r in rows)


def test_script_writes_yield_exactly_the_new_lines(tmp_path, git_repo):
    repo = git_repo()
    base = numbered("base", 3)
    repo.commit(files={"a.py": "\n".join(base) + "\n", ".gitignore": "ignored.py\n"})
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    assert scan(con, KEYER, rp, CFG) == 0  # the first scan only takes the baseline
    added, untracked = numbered("script", 2), numbered("fresh", 3)
    repo.write("a.py", "\n".join([base[0], added[0], *base[1:], added[1], "}"]) + "\n")
    repo.write("pkg/new.py", "\n".join(untracked) + "\n")
    repo.write("ignored.py", "\n".join(numbered("ignored", 4)) + "\n")
    assert scan(con, KEYER, rp, CFG) == 5
    assert external_keys(con) == sorted(KEYER.keys(added + untracked))
    file_ids = {r[0] for r in con.execute("SELECT file_id FROM edits").fetchall()}
    assert file_ids == {KEYER.label("a.py"), KEYER.label("pkg/new.py")}
    # Nothing changed since: nothing more is recorded.
    assert scan(con, KEYER, rp, CFG) == 0
    more = numbered("again", 1)
    repo.write("pkg/new.py", "\n".join(untracked + more) + "\n")
    assert scan(con, KEYER, rp, CFG, relpaths={"pkg/new.py"}) == 1


def test_checkout_reset_and_stash_are_not_authored(tmp_path, git_repo):
    repo = git_repo()
    main = repo.commit(files={"a.py": "\n".join(numbered("main", 2)) + "\n"})
    repo.git("checkout", "-q", "-b", "other")
    other = repo.commit(files={"a.py": "\n".join(numbered("other", 5)) + "\n",
                               "b.py": "\n".join(numbered("bfile", 4)) + "\n"})
    repo.git("checkout", "-q", "main")
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    scan(con, KEYER, rp, CFG)
    repo.git("checkout", "-q", "other")
    assert scan(con, KEYER, rp, CFG, relpaths={"a.py", "b.py"}) == 0
    repo.git("checkout", "-q", "main")
    assert scan(con, KEYER, rp, CFG, relpaths={"a.py", "b.py"}) == 0
    # After a soft reset the work tree holds lines HEAD lacks; the reflog says git did it.
    repo.git("reset", "-q", "--soft", other)
    assert scan(con, KEYER, rp, CFG, relpaths={"a.py"}) == 0
    assert external_keys(con) == []
    repo.git("reset", "-q", "--hard", main)
    scan(con, KEYER, rp, CFG)
    # A script's lines are external once; stashing them away and back adds nothing.
    dirty = numbered("dirty", 2)
    repo.write("a.py", "\n".join(numbered("main", 2) + dirty) + "\n")
    assert scan(con, KEYER, rp, CFG, relpaths={"a.py"}) == 2
    repo.git("stash", "-q")
    assert scan(con, KEYER, rp, CFG, relpaths={"a.py"}) == 0
    repo.git("stash", "pop", "-q")
    assert scan(con, KEYER, rp, CFG, relpaths={"a.py"}) == 0
    assert external_keys(con) == sorted(KEYER.keys(dirty))


def test_editor_reported_lines_are_not_external(tmp_path, git_repo):
    repo = git_repo()
    repo.commit(files={"a.py": "\n".join(numbered("base", 1)) + "\n"})
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    scan(con, KEYER, rp, CFG)
    typed, ai, extra = numbered("typed", 2), numbered("ai", 2), numbered("extra", 1)
    record(con, "typed", typed, repo_id=rp.repo_id, file_id=KEYER.label("a.py"))
    record(con, "ai", ai, repo_id=rp.repo_id, file_id=KEYER.label("a.py"), tool="copilot")
    # The same lines reported for another file do not excuse this one.
    record(con, "typed", extra, repo_id=rp.repo_id, file_id=KEYER.label("other.py"))
    repo.write("a.py", "\n".join(numbered("base", 1) + typed + ai + extra) + "\n")
    assert scan(con, KEYER, rp, CFG) == 1
    assert external_keys(con) == KEYER.keys(extra)


def test_symlinks_binary_and_big_files_are_skipped(tmp_path, git_repo):
    repo = git_repo()
    repo.commit(files={"keep.py": "kept_line = 1\n"})
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    cfg = dataclasses.replace(CFG, capture=CaptureConfig(max_file_bytes=1000))
    scan(con, KEYER, rp, cfg)
    outside = tmp_path / "outside.py"
    outside.write_text("\n".join(numbered("outside", 3)) + "\n")
    (repo.root / "link.py").symlink_to(outside)
    (repo.root / "linkdir").symlink_to(tmp_path)
    (repo.root / "loop").symlink_to(repo.root / "loop")
    (repo.root / "bin.dat").write_bytes(b"\x00binary\n" + "\n".join(numbered("b", 3)).encode())
    repo.write("big.py", "\n".join(numbered("big", 200)))
    names = {"link.py", "linkdir/outside.py", "loop", "bin.dat", "big.py", "../outside.py"}
    assert scan(con, KEYER, rp, cfg, relpaths=names) == 0
    assert scan(con, KEYER, rp, cfg) == 0


@given(st.lists(st.integers(0, 6)), st.lists(st.integers(0, 6)), st.lists(st.integers(0, 6)))
def test_inserted_keys_is_a_multiset_difference(current, previous, reported):
    got = inserted_keys(current, previous, reported)
    assert Counter(got) == Counter(current) - (Counter(previous) + Counter(reported))
    # Order follows the file.
    positions = iter(current)
    assert all(any(k == c for c in positions) for k in got)


def test_repo_without_commits(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    assert scan(con, KEYER, rp, CFG) == 0
    repo.write("first.py", "\n".join(numbered("first", 3)) + "\n")
    assert scan(con, KEYER, rp, CFG) == 3


def test_files_untouched_since_their_snapshot_are_not_read_again(tmp_path, git_repo):
    repo = git_repo()
    repo.commit(files={"a.py": "\n".join(numbered("base", 1)) + "\n"})
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    scan(con, KEYER, rp, CFG)
    path = repo.write("notes.py", "\n".join(numbered("n", 2)) + "\n")
    assert scan(con, KEYER, rp, CFG) == 2
    # Same content change, but an mtime from long before the snapshot: skipped unread.
    path.write_text("\n".join(numbered("n", 3)) + "\n")
    os.utime(path, (1_000_000, 1_000_000))
    assert scan(con, KEYER, rp, CFG) == 0
    os.utime(path)
    assert scan(con, KEYER, rp, CFG) == 1
