"""Turns settled dirty lines of open documents into pending edits for the spool writer.

Runs on the event loop every `flush_interval_ms` and on save/close/shutdown; it only slices
text and checks the pause flag, leaving hashing and disk writes to the writer thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from worktally.client.capture.line_keys import counts
from worktally.client.capture.records import new_id
from worktally.lsp.documents import OpenDocument
from worktally.lsp.positions import split_lines
from worktally.lsp.spool_writer import PendingEdit, SpoolWriter
from worktally.lsp.tracker import SettledRun

log = logging.getLogger(__name__)


def pending_edits(doc: OpenDocument, runs: list[SettledRun]) -> list[PendingEdit]:
    """Attach the current text of each run's lines (keyed later, in the writer thread).

    `line_count` follows the one rule (`line_keys.counts`): a fresh line counts when it
    gets a key, so blank and trivial lines (`}`, `pass`) never count here or anywhere.
    """
    if not runs:
        return []
    lines = split_lines(doc.text.source)
    edits: list[PendingEdit] = []
    for run in runs:
        texts = tuple(lines[run.first : run.last + 1])
        keyed = [counts(text) for text in texts]
        if not any(keyed):
            continue
        line_count = sum(1 for k, fresh in zip(keyed, run.fresh, strict=False) if k and fresh)
        edits.append(
            PendingEdit(
                source=run.attribution.source,
                tool=run.attribution.tool,
                kind=run.attribution.kind,
                model=run.attribution.model,
                file_id=doc.identity.file_id,
                repo_id=doc.identity.repo_id,
                language=doc.identity.language,
                texts=texts,
                line_count=line_count,
                event_id=run.event_id or new_id(),
                supersedes=run.supersedes,
                superseded_source=run.superseded_source,
            )
        )
    return edits


class Flusher:
    """Collects settled runs from documents and hands them to the writer in one batch."""

    def __init__(
        self, writer: SpoolWriter, paused_flag: Path, settle_s: float, bulk_settle_s: float = 0.0
    ) -> None:
        self.writer = writer
        self.paused_flag = paused_flag
        self.settle_s = settle_s
        self.bulk_settle_s = bulk_settle_s

    def paused(self) -> bool:
        return self.paused_flag.exists()

    def flush(self, docs: Iterable[OpenDocument], now: float, everything: bool = False) -> int:
        """Spool what has settled (everything, on save/close/shutdown); returns edits queued."""
        docs = [d for d in docs if d.tracker.has_dirty]
        if not docs:
            return 0
        if self.paused():
            for doc in docs:
                doc.tracker.discard_dirty()
            log.debug("capture is paused; dropped unflushed edits of %d documents", len(docs))
            return 0
        edits: list[PendingEdit] = []
        for doc in docs:
            runs = doc.tracker.take_settled(now, self.settle_s, everything, self.bulk_settle_s)
            edits.extend(pending_edits(doc, runs))
        self.writer.submit(edits)
        return len(edits)
