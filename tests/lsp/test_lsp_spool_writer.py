"""The writer thread keys lines off the event loop and keeps what it could not write."""

from __future__ import annotations

import shutil
from pathlib import Path

from lsp_editor import spooled_edits

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.spool import Spool
from worktally.lsp.spool_writer import PendingEdit, SpoolWriter

WAIT_S = 10.0


def pending(texts: tuple[str, ...], source: str = "typed") -> PendingEdit:
    return PendingEdit(source=source, tool=None, kind=None, model=None, file_id="f1",
                       repo_id="r1", language="python", texts=texts, line_count=len(texts))


def test_writer_keys_lines_and_counts_them(keyer: LineKeyer) -> None:
    writer = SpoolWriter(keyer)
    writer.submit([pending(("alpha_line = 1", "beta_line = 2")), pending(("gamma()",), "bulk")])
    assert writer.close(WAIT_S)
    edits = spooled_edits()
    assert [list(e.keys) for e in edits] == [keyer.keys(["alpha_line = 1", "beta_line = 2"]),
                                            keyer.keys(["gamma()"])]
    assert writer.counts.today() == {"typed": 2, "bulk": 1}


def test_a_failed_write_is_retried_with_the_next_batch(
    keyer: LineKeyer, worktally_home: Path
) -> None:
    writer = SpoolWriter(keyer)
    tmp_dir = Spool().tmp
    # Make the spool unwritable in a way root cannot bypass: tmp/ becomes a plain file.
    shutil.rmtree(tmp_dir)
    tmp_dir.write_text("not a directory", encoding="utf-8")
    writer.submit([pending(("first_attempt = 1",))])
    assert writer.wait_idle(WAIT_S)
    assert list((worktally_home / "spool" / "new").iterdir()) == []
    assert writer.counts.today() == {}

    tmp_dir.unlink()
    tmp_dir.mkdir(mode=0o700)
    writer.submit([pending(("second_attempt = 2",))])
    assert writer.close(WAIT_S)
    keys = [k for e in spooled_edits() for k in e.keys]
    assert keys == keyer.keys(["first_attempt = 1", "second_attempt = 2"])
    assert writer.counts.today() == {"typed": 2}
