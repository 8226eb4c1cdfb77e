"""Typed initialization options of `worktally lsp`, defaulting to the `[capture]` config.

An editor may tune capture per window through `initializationOptions`; an unknown or
ill-typed option is reported as a warning and replaced by its default, never fatal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from worktally.client.config import CaptureConfig

# camelCase option name -> (field, smallest allowed value)
_INT_OPTIONS = {
    "typedMaxChars": ("typed_max_chars", 1),
    "flushIntervalMs": ("flush_interval_ms", 10),
    "settleMs": ("settle_ms", 0),
    "signalWindowMs": ("signal_window_ms", 0),
}
_BOOL_OPTIONS = {"registerWorkspaceFolders": "register_workspace_folders"}


@dataclass(frozen=True)
class ServerOptions:
    typed_max_chars: int = CaptureConfig.typed_max_chars
    flush_interval_ms: int = CaptureConfig.flush_interval_ms
    settle_ms: int = CaptureConfig.settle_ms
    # How far apart a worktally/aiEdit and its didChange may arrive and still be paired.
    signal_window_ms: int = 2000
    register_workspace_folders: bool = True

    @classmethod
    def from_config(cls, capture: CaptureConfig) -> ServerOptions:
        return cls(
            typed_max_chars=capture.typed_max_chars,
            flush_interval_ms=capture.flush_interval_ms,
            settle_ms=capture.settle_ms,
        )


def parse_options(raw: Any, defaults: ServerOptions) -> tuple[ServerOptions, list[str]]:
    """Overlay the client's options on `defaults`; also one warning per bad key."""
    if raw is None:
        return defaults, []
    if not isinstance(raw, dict):
        return defaults, ["initializationOptions must be an object; using defaults"]
    changes: dict[str, Any] = {}
    warnings: list[str] = []
    for name, value in raw.items():
        if name in _INT_OPTIONS:
            field_name, minimum = _INT_OPTIONS[name]
            if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
                changes[field_name] = value
            else:
                warnings.append(f"option {name} must be an integer >= {minimum}; using default")
        elif name in _BOOL_OPTIONS:
            if isinstance(value, bool):
                changes[_BOOL_OPTIONS[name]] = value
            else:
                warnings.append(f"option {name} must be true or false; using default")
        else:
            warnings.append(f"unknown option {str(name)[:40]!r} ignored")
    return dataclasses.replace(defaults, **changes), warnings
