"""The watcher feeding the external-edit scan, as the agent wires them, on a real repo."""

from __future__ import annotations

import threading
import time

from attribution_support import KEYER, numbered, open_db, repo_for

from worktally.client.config import Config
from worktally.client.external.scanner import scan
from worktally.client.external.watcher import RepoWatcher

DEADLINE_S = 20.0


def wait_until(check, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_script_lines_are_external_and_a_checkout_is_not(tmp_path, git_repo, worktally_home):
    repo = git_repo()
    repo.commit(files={"a.py": "\n".join(numbered("main", 2)) + "\n"})
    repo.git("checkout", "-q", "-b", "other")
    repo.commit(files={"a.py": "\n".join(numbered("other", 4)) + "\n",
                       "b.py": "\n".join(numbered("bfile", 3)) + "\n"})
    repo.git("checkout", "-q", "main")
    con = open_db(tmp_path)
    rp = repo_for(repo.root)
    scan(con, KEYER, rp, Config())
    lock = threading.Lock()
    scans: list[tuple[float, int]] = []  # (start time, lines recorded)
    worker_con = con.cursor()

    def on_change(relpaths: set[str] | None) -> None:
        began = time.time()
        found = scan(worker_con, KEYER, rp, Config(), relpaths)
        with lock:
            scans.append((began, found))

    def total() -> int:
        with lock:
            return sum(n for _, n in scans)

    w = RepoWatcher([rp], lambda _id, paths: on_change(paths), lambda _id: on_change(set()))
    w.start()
    try:
        generated = numbered("generated", 3)
        repo.write("gen.py", "\n".join(generated) + "\n")
        wait_until(lambda: total() == 3, "the script's three lines")
        repo.git("checkout", "-q", "other")
        switched = time.time()

        def scanned_after_checkout() -> bool:
            with lock:
                return any(began > switched for began, _ in scans)

        wait_until(scanned_after_checkout, "a scan after the checkout")
        repo.write("sentinel.py", "\n".join(numbered("sentinel", 1)) + "\n")
        wait_until(lambda: total() >= 4, "the sentinel line")
    finally:
        w.stop()
    keys = sorted(r[0] for r in con.execute(
        "SELECT line_key FROM edit_lines WHERE source = 'external'").fetchall())
    assert keys == sorted(KEYER.keys(generated + numbered("sentinel", 1)))
