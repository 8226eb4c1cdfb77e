"""The runner's tool table: for each AI tool, which files under its roots are its logs, which
of them are append-only (read line by line from a cursor) and which are documents it rewrites
(read whole when they change), and the parser for each kind.

Adding a tool is a parser module and one row here, plus its roots in `locations.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from worktally.client.importers import (
    aider,
    amp,
    copilot,
    droid,
    gemini,
    opencode,
    qwen,
)
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.claude_code import ClaudeCodeParser
from worktally.client.importers.codex import CodexParser, LineReader
from worktally.client.importers.context import ImportContext


class Parser(Protocol):
    batch: ImportBatch

    def feed(self, line: bytes, offset: int) -> None: ...

    def state(self) -> dict[str, Any]: ...


# (context, batch, saved state, re-reader of a line at an offset, the file) -> parser
LineFactory = Callable[[ImportContext, ImportBatch, dict[str, Any], LineReader, Path], Parser]
# (context, batch, path, saved state) -> the state to save: reads one whole document
DocumentReader = Callable[[ImportContext, ImportBatch, Path, dict[str, Any]], dict[str, Any]]


def _never(path: Path) -> bool:
    return False


@dataclass(frozen=True)
class ToolSpec:
    name: str
    # Glob patterns of its log files under a root, and a finer test when a glob is too wide.
    patterns: tuple[str, ...]
    lines: LineFactory | None = None
    document: DocumentReader | None = None
    is_document: Callable[[Path], bool] = _never
    wanted: Callable[[Path], bool] | None = None


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("claude-code", ("*.jsonl",),
                 lines=lambda ctx, batch, state, reread, path: ClaudeCodeParser(ctx, batch, state)),
        ToolSpec("codex", ("*.jsonl",), lines=lambda ctx, batch, state, reread, path: CodexParser(
            ctx, batch, state, reread)),
        ToolSpec(gemini.TOOL, ("*.json", "*.jsonl"), lines=gemini.GeminiLines,
                 document=gemini.read_json_session, is_document=gemini.is_document,
                 wanted=gemini.wanted),
        ToolSpec(opencode.TOOL, ("*.db", "*.json"), document=opencode.read_document,
                 is_document=lambda path: True, wanted=opencode.wanted),
        ToolSpec(copilot.TOOL, ("*.jsonl",), lines=copilot.CopilotLines,
                 document=copilot.read_document, is_document=copilot.is_document),
        ToolSpec(amp.TOOL, ("*.json",), document=amp.read_thread,
                 is_document=lambda path: True, wanted=amp.wanted),
        ToolSpec(droid.TOOL, ("*.jsonl", "*.settings.json"), lines=droid.DroidLines,
                 document=droid.read_settings, is_document=droid.is_document),
        ToolSpec(qwen.TOOL, ("*.jsonl",), lines=qwen.QwenLines, wanted=qwen.wanted),
        ToolSpec(aider.TOOL, ("*.jsonl", "*.md"), lines=aider.AiderLines,
                 wanted=aider.wanted),
    )
}


def spec(tool: str) -> ToolSpec:
    try:
        return TOOLS[tool]
    except KeyError:
        raise ValueError(f"no importer for {tool!r}") from None

