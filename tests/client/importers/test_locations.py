"""Finding a tool's log files: each real file once, links included, folders and links to
nothing left out (the rule find_files kept when it stopped resolving every path)."""

from __future__ import annotations

from pathlib import Path

from worktally.client.importers.locations import find_files


def test_each_real_file_once_through_links(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    real = root / "a" / "s1.jsonl"
    real.write_text("{}\n")
    (root / "a" / "s2.jsonl").write_text("{}\n")
    (root / "b" / "link.jsonl").symlink_to(real)  # the same file again
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("{}\n")
    (root / "b" / "out.jsonl").symlink_to(outside)  # a file outside the root counts
    (root / "b" / "dangling.jsonl").symlink_to(tmp_path / "gone.jsonl")
    (root / "b" / "dir.jsonl").mkdir()  # a folder named like a log is not one
    (root / "c").symlink_to(root / "a", target_is_directory=True)  # never walked into
    found = find_files([root], ("*.jsonl",))
    assert [p.relative_to(root).as_posix() for p in found] == [
        "a/s1.jsonl", "a/s2.jsonl", "b/out.jsonl"]
    # Reached through a linked root, the files are the same ones.
    linked_root = tmp_path / "via-link"
    linked_root.symlink_to(root, target_is_directory=True)
    assert len(find_files([root, linked_root], ("*.jsonl",))) == 3
