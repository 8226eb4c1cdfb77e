"""Typed settings with documented defaults, merged from $WORKTALLY_HOME/config.toml.

Every key lives in one dataclass below, with its default and the rule its value must meet;
`docs/configuration.md` documents each one and a test fails when a key is undocumented. An
unknown key, a wrong type or a value outside its rule is a ConfigError that names the key,
whether it comes from the file or from `worktally config set`; never a silent fallback.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import tomllib
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from worktally.client import paths
from worktally.client.errors import ConfigError
from worktally.client.wire.privacy import DEFAULT_PRIVACY, PeriodKind

T = TypeVar("T")


class Rule(Protocol):
    """What a key's value must satisfy beyond its type."""

    def problem(self, value: Any) -> str | None:
        """Why `value` is refused ("must be ..."), or None when it is allowed."""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass(frozen=True)
class Bounds:
    """A number from `low` to `high`; an `*_open` end is itself excluded. NaN and the
    infinities are always refused: no setting means anything by them."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: Any) -> str | None:
        if not math.isfinite(value):
            return f"must be a finite number {self.describe()}"
        too_low = value < self.low or (self.low_open and value == self.low)
        too_high = value > self.high or (self.high_open and value == self.high)
        return f"must be {self.describe()}" if too_low or too_high else None

    def describe(self) -> str:
        low = f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if math.isinf(self.high):
            return low
        return f"{low} and {'<' if self.high_open else '<='} {_number(self.high)}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        if value in self.choices:
            return None
        return "must be " + " or ".join(f'"{choice}"' for choice in self.choices)


@dataclass(frozen=True)
class HttpUrl:
    """Empty, or an http(s) URL with a host; enrollment checks the scheme further."""

    def problem(self, value: Any) -> str | None:
        if value == "":
            return None
        try:
            parts = urllib.parse.urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed [IPv6 bracket
            usable = False
        if usable:
            return None
        return "must be an http:// or https:// URL, or empty"


def setting(default: T, rule: Rule | None = None) -> T:
    """A dataclass field: its default and the rule its value must meet."""
    return field(default=default, metadata={"rule": rule})


@dataclass(frozen=True)
class CaptureConfig:
    # An insert of at most this many characters, on one line, counts as typed.
    typed_max_chars: int = setting(2, Bounds(1))
    # How often the language server hands settled edits to its spool writer.
    flush_interval_ms: int = setting(250, Bounds(10))
    # An edit waits this long before it is keyed, so a late worktally/aiEdit still counts.
    settle_ms: int = setting(1000, Bounds(0))
    # The watcher skips files larger than this.
    max_file_bytes: int = setting(2_000_000, Bounds(1))


@dataclass(frozen=True)
class AttributionConfig:
    # AI lines still present at HEAD this many days after their commit count as surviving
    # (0 checks at the next sync, as the demo does).
    survival_days: int = setting(14, Bounds(0))
    # A session is `shipped` if its lines reach a commit within this many days.
    commit_window_days: int = setting(7, Bounds(0))
    # On registering a repo, commits this many days old are still attributed.
    history_days: int = setting(30, Bounds(0))


@dataclass(frozen=True)
class ReportConfig:
    aggregator_url: str = setting("", HttpUrl())
    cohort: str = ""
    # Privacy budget per person per period (see docs/privacy.md for the reasoning).
    epsilon: float = setting(DEFAULT_PRIVACY.epsilon, Bounds(0, low_open=True))
    delta: float = setting(DEFAULT_PRIVACY.delta, Bounds(0, 1, high_open=True))
    period: str = setting(DEFAULT_PRIVACY.period.value,
                          OneOf(tuple(kind.value for kind in PeriodKind)))


@dataclass(frozen=True)
class OtlpConfig:
    enabled: bool = True
    # 0 picks a free port.
    port: int = setting(4319, Bounds(0, 65535))
    max_body_bytes: int = setting(4_000_000, Bounds(1))
    # A gzip body may not inflate beyond this (protects against gzip bombs).
    max_decompressed_bytes: int = setting(32_000_000, Bounds(1))


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


_KINDS: dict[Any, str] = {
    bool: "bool", int: "int", float: "float", str: "str", tuple[str, ...]: "list",
}
_KIND_WORDS = {
    "bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
    "list": "a list of strings",
}


@dataclass(frozen=True)
class Key:
    """One setting, `section.name`: its type (a `_KINDS` value), default and rule."""

    section: str
    name: str
    kind: str
    default: Any
    rule: Rule | None

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"


def _sections() -> dict[str, Any]:
    return {top.name: top.default_factory for top in dataclasses.fields(Config)}


@functools.cache
def keys() -> Mapping[str, Key]:
    """Every setting by `section.key`, in the order of the dataclasses above."""
    out: dict[str, Key] = {}
    for section, cls in _sections().items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            spec = Key(section, f.name, _KINDS[hints[f.name]], f.default, f.metadata.get("rule"))
            out[spec.dotted] = spec
    return out


def all_keys() -> list[str]:
    """Every `section.key`, for the documentation test and `worktally config list`."""
    return list(keys())


def lookup(name: str) -> Key:
    """The setting called `name`; an unknown name is refused with the list of known ones."""
    spec = keys().get(name)
    if spec is None:
        raise ConfigError(_unknown_key(name))
    return spec


def _unknown_key(name: str) -> str:
    close = difflib.get_close_matches(name, all_keys(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown config key {name}{hint}; known keys: {', '.join(all_keys())}"


def _typed(kind: str, value: Any) -> tuple[bool, Any]:
    """Whether `value` has the kind's type, and the value as that type (TOML gives lists)."""
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "float":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False, value
        try:
            return True, float(value)
        except OverflowError:  # an integer too large for a float: refused by its bounds
            return True, math.inf if value > 0 else -math.inf
    if kind == "str":
        return isinstance(value, str), value
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return True, tuple(value)
    return False, value


def check(spec: Key, value: Any) -> Any:
    """`value` as the key's type if it has that type and meets the key's rule; else a
    ConfigError naming the key and what it must be."""
    ok, typed_value = _typed(spec.kind, value)
    if not ok:
        raise ConfigError(
            f"config key {spec.dotted} must be {_KIND_WORDS[spec.kind]}, got {value!r}"
        )
    problem = spec.rule.problem(typed_value) if spec.rule is not None else None
    if problem:
        raise ConfigError(f"config key {spec.dotted} {problem}, got {value!r}")
    return typed_value


def parse_value(name: str, text: str) -> Any:
    """A command-line string as the key's type, checked like a value from the file.

    Booleans are `true` or `false`. A list is comma-separated (`a,b`; an empty string is the
    empty list), or a TOML array (`["a,b", "c"]`) when an item holds a comma.
    """
    spec = lookup(name)
    value: Any = text
    try:
        if spec.kind == "bool" and text.strip().lower() in ("true", "false"):
            value = text.strip().lower() == "true"
        elif spec.kind == "int":
            value = int(text)
        elif spec.kind == "float":
            value = float(text)
        elif spec.kind == "list":
            value = _parse_list(text)
    except ValueError:
        value = text  # refused below with the key's type
    return check(spec, value)


def _parse_list(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith("["):
        return [item.strip() for item in stripped.split(",") if item.strip()]
    try:
        return tomllib.loads(f"value = {stripped}")["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not a TOML array: {exc}") from exc


def from_mapping(data: Mapping[str, Any]) -> Config:
    """A Config from parsed TOML; every key is checked (type and rule) and named on error."""
    sections = _sections()
    values: dict[str, dict[str, Any]] = {section: {} for section in sections}
    for section, table in data.items():
        if section not in sections and isinstance(table, dict):
            raise ConfigError(
                f"unknown config section [{section}]; known sections: {', '.join(sections)}"
            )
        if section not in sections:  # a bare key outside any [section]
            raise ConfigError(_unknown_key(section))
        if not isinstance(table, dict):
            raise ConfigError(f"config section [{section}] must be a table")
        for name, value in table.items():
            values[section][name] = check(lookup(f"{section}.{name}"), value)
    return Config(**{section: sections[section](**vals) for section, vals in values.items()})


def _read(target: Path) -> dict[str, Any]:
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{target} is not valid TOML: {exc}") from exc


def load(path: Path | None = None) -> Config:
    """The effective config: defaults overlaid with the user's TOML, if any."""
    target = path or paths.config_path()
    data = _read(target)
    try:
        return from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {target})") from exc


def get_value(cfg: Config, name: str) -> Any:
    """The value of the setting `name` in `cfg`."""
    spec = lookup(name)
    return getattr(getattr(cfg, spec.section), spec.name)


@dataclass(frozen=True)
class Change:
    """One key before and after `set_value` or `unset_value` (a value the file does not set
    counts as its default)."""

    key: str
    old: Any
    new: Any

    @property
    def changed(self) -> bool:
        return bool(self.old != self.new)


def set_value(name: str, value: Any, path: Path | None = None) -> Change:
    """Check one key's value and write it to the user's config file (0600), keeping the
    file's other keys; used by `worktally config set`, the demo and tests."""
    spec = lookup(name)
    new = check(spec, value)
    target = path or paths.config_path()
    data = _read(target)
    table = data.setdefault(spec.section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config section [{spec.section}] must be a table (in {target})")
    old = table.get(spec.name, spec.default)
    table[spec.name] = list(new) if isinstance(new, tuple) else new
    from_mapping(data)  # the whole file must still load
    paths.write_private(target, _dump(data).encode())
    return Change(name, tuple(old) if isinstance(old, list) else old, new)


def unset_value(name: str, path: Path | None = None) -> Change:
    """Remove one key from the user's config file, so its default applies again. A key this
    version does not know can be removed too, to repair a file from another version."""
    target = path or paths.config_path()
    data = _read(target)
    section, _, key_name = name.partition(".")
    table = data.get(section)
    known = keys().get(name)
    default = known.default if known is not None else None
    if not isinstance(table, dict) or key_name not in table:
        lookup(name)  # not in the file and unknown: a typo, so say which keys exist
        return Change(name, default, default)
    old = table.pop(key_name)
    if not table:
        del data[section]
    from_mapping(data)
    paths.write_private(target, _dump(data).encode())
    return Change(name, tuple(old) if isinstance(old, list) else old, default)


def _dump(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    """`value` as written in config.toml (also how `worktally config` shows it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    # TOML basic strings may not hold quotes, backslashes or control characters raw.
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
