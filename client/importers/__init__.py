"""AI tools' own logs, read locally: Claude Code, Codex (placeholder until implemented)."""

from __future__ import annotations

from typing import Any


def run_all(con: Any, keyer: Any, registry: Any, cfg: Any) -> dict[str, Any]:
    return {}
