"""Typed settings with documented defaults, merged from $WORKTALLY_HOME/config.toml.

Every key lives in one dataclass below; `docs/configuration.md` documents each one and a
test fails when a key is undocumented. A wrong type or unknown key is a ConfigError that
names the key, never a silent fallback.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.errors import ConfigError
from worktally.client.wire.privacy import DEFAULT_PRIVACY


@dataclass(frozen=True)
class CaptureConfig:
    # An insert of at most this many characters, on one line, counts as typed.
    typed_max_chars: int = 2
    # How often the language server hands settled edits to its spool writer.
    flush_interval_ms: int = 250
    # An edit waits this long before it is keyed, so a late worktally/aiEdit still counts.
    settle_ms: int = 1000
    # The watcher skips files larger than this.
    max_file_bytes: int = 2_000_000


@dataclass(frozen=True)
class AttributionConfig:
    # AI lines still present at HEAD this many days after their commit count as surviving.
    survival_days: int = 14
    # A session is `shipped` if its lines reach a commit within this many days.
    commit_window_days: int = 7
    # On registering a repo, commits this many days old are still attributed.
    history_days: int = 30


@dataclass(frozen=True)
class ReportConfig:
    aggregator_url: str = ""
    cohort: str = ""
    # Privacy budget per person per period (see docs/privacy.md for the reasoning).
    epsilon: float = DEFAULT_PRIVACY.epsilon
    delta: float = DEFAULT_PRIVACY.delta
    period: str = DEFAULT_PRIVACY.period.value


@dataclass(frozen=True)
class OtlpConfig:
    enabled: bool = True
    port: int = 4319
    max_body_bytes: int = 4_000_000
    # A gzip body may not inflate beyond this (protects against gzip bombs).
    max_decompressed_bytes: int = 32_000_000


@dataclass(frozen=True)
class ImportConfig:
    claude_code: bool = True
    codex: bool = True
    # Extra transcript folders; empty means the tools' default locations.
    claude_dirs: tuple[str, ...] = ()
    codex_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    otlp: OtlpConfig = field(default_factory=OtlpConfig)
    importers: ImportConfig = field(default_factory=ImportConfig)


def _coerce(section: str, name: str, expected: Any, value: Any) -> Any:
    origin = getattr(expected, "__origin__", None)
    if expected is bool or expected == "bool":
        ok = isinstance(value, bool)
    elif expected is int or expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float or expected == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif expected is str or expected == "str":
        ok = isinstance(value, str)
    elif origin is tuple or str(expected).startswith("tuple"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = True
    if not ok:
        raise ConfigError(f"config key {section}.{name} has the wrong type: {value!r}")
    return value


def from_mapping(data: dict[str, Any]) -> Config:
    sections: dict[str, Any] = {}
    for top in dataclasses.fields(Config):
        raw = data.get(top.name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"config section [{top.name}] must be a table")
        cls: Any = top.default_factory
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(raw) - set(known)
        if unknown:
            raise ConfigError(f"unknown config key {top.name}.{sorted(unknown)[0]}")
        values = {k: _coerce(top.name, k, known[k].type, v) for k, v in raw.items()}
        sections[top.name] = cls(**values)
    unknown_sections = set(data) - {f.name for f in dataclasses.fields(Config)}
    if unknown_sections:
        raise ConfigError(f"unknown config section [{sorted(unknown_sections)[0]}]")
    return Config(**sections)


def load(path: Path | None = None) -> Config:
    """The effective config: defaults overlaid with the user's TOML, if any."""
    target = path or paths.config_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{target.name} is not valid TOML: {exc}") from exc
    return from_mapping(data)


def all_keys() -> list[str]:
    """Every `section.key`, for the documentation test."""
    out: list[str] = []
    for top in dataclasses.fields(Config):
        cls: Any = top.default_factory
        out.extend(f"{top.name}.{f.name}" for f in dataclasses.fields(cls))
    return out


def set_value(key: str, value: Any, path: Path | None = None) -> None:
    """Write one key to the user's config file (used by tests, the demo and `config set`)."""
    section, _, name = key.partition(".")
    target = path or paths.config_path()
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    data.setdefault(section, {})[name] = value
    from_mapping(data)  # validate before writing
    paths.write_private(target, _dump(data).encode())


def _dump(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
