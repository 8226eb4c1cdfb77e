"""One rule for which lines count, used alike by the language server, the watcher, the
importers and attribution: a line counts when it has a key, and text splits as git splits it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from worktally.client.attribution.commits import attribute_new_commits
from worktally.client.capture.line_keys import LineKeyer, counts, lines_of
from worktally.client.config import Config
from worktally.client.external import scanner
from worktally.client.importers.apply_patch import parse_patch
from worktally.client.importers.context import ImportContext
from worktally.client.repos import gitio
from worktally.client.repos.registry import Repo, RepoRegistry
from worktally.client.store import db
from worktally.lsp.documents import OpenDocument, identify
from worktally.lsp.flusher import pending_edits
from worktally.lsp.positions import Pos

KEYER = LineKeyer(b"r" * 32)
# Trivial lines (`}`, `pass`, `else:`, blank, `x`) never count; the rest do.
BLOCK = [
    "def settle(account):",
    "    if account.closed:",
    "        pass",
    "    else:",
    "        account.balance = recompute(account)",
    "",
    "    }",
    "    x",
    "    return account.balance",
]
COUNTED = 4


@pytest.mark.parametrize("line", ["pass", "}", "else:", "", "   ", "x", "});", "end"])
def test_trivial_lines_do_not_count(line: str) -> None:
    assert not counts(line)
    assert KEYER.key(line) is None


def test_a_line_counts_exactly_when_it_has_a_key() -> None:
    assert [counts(line) for line in BLOCK] == [KEYER.key(line) is not None for line in BLOCK]
    assert sum(counts(line) for line in BLOCK) == COUNTED


def test_text_splits_as_git_splits_it(git_repo) -> None:
    # A form feed, a Unicode line separator and a file separator stay inside their line in
    # git; str.splitlines() would split there and key different lines.
    text = ("first_value = 1\r\n"
            "page_break = 2\x0c # after a form feed\n"
            "odd_separator = 3\u2028 # same line for git\n"
            "file_sep = 4\x1c # also one line\n")
    repo = git_repo()
    sha = repo.commit(files={"odd.py": text})
    added = gitio.added_lines(repo.root, sha, None)["odd.py"]
    assert KEYER.keys(added) == KEYER.keys_of_text(text)
    assert len(lines_of(text)) == 5
    assert KEYER.keys(text.splitlines()) != KEYER.keys_of_text(text)


def test_importers_count_the_lines_that_have_keys(worktally_home: Path) -> None:
    ctx = ImportContext(KEYER, RepoRegistry(KEYER))
    text = "\n".join(BLOCK)
    keys, count = ctx.new_keys(text)
    assert (len(keys), count) == (COUNTED, COUNTED)
    assert list(keys) == KEYER.keys_of_text(text)
    # An Edit: lines the old text already held are not the agent's, trivial ones never count.
    keys, count = ctx.new_keys(text, old_text="def settle(account):\n    pass\n")
    assert (len(keys), count) == (COUNTED - 1, COUNTED - 1)
    patch = "*** Begin Patch\n*** Add File: a.py\n" + "".join(f"+{line}\n" for line in BLOCK) \
        + "*** End Patch\n"
    (patched,) = parse_patch(patch)
    assert ctx.new_keys("\n".join(patched.added))[1] == COUNTED


def test_the_language_server_counts_the_lines_that_have_keys(tmp_path: Path) -> None:
    text = "\n".join(BLOCK) + "\n"
    path = tmp_path / "settle.py"
    doc = OpenDocument.open(path.as_uri(), identify(path, "python", KEYER),
                            TextDocument(path.as_uri(), ""), 2.0)
    doc.text.apply_change(_insert(text))
    doc.tracker.apply_change(Pos(0, 0), Pos(0, 0), text, 0.0, 2)
    edits = pending_edits(doc, doc.tracker.take_settled(10.0, 0.0, everything=True))
    assert sum(e.line_count for e in edits) == COUNTED
    assert [k for e in edits for k in KEYER.keys(e.texts)] == KEYER.keys_of_text(text)


def test_the_watcher_and_attribution_count_the_same_lines(git_repo, tmp_path: Path) -> None:
    repo = git_repo()
    repo.commit(files={"README.md": "project readme text\n"})
    con = db.connect(tmp_path / "rule.duckdb")
    registered = Repo(KEYER.label(str(repo.root)), str(repo.root), time.time())
    assert scanner.scan(con, KEYER, registered, Config()) == 0  # the baseline
    repo.write("settle.py", "\n".join(BLOCK) + "\n")
    found = scanner.scan(con, KEYER, registered, Config())
    assert found == COUNTED
    sha = repo.commit(files={})
    attribute_new_commits(con, KEYER, registered, Config())
    row = con.execute("SELECT lines_added, external_lines FROM commits WHERE sha = ?",
                      [sha]).fetchone()
    assert row == (COUNTED, COUNTED)


def _insert(text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)), text=text)
