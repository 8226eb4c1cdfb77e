"""Typed settings with documented defaults, merged from $WORKTALLY_HOME/config.toml.

Every key lives in one dataclass below, with its default and the rule its value must meet;
`docs/configuration.md` documents each one and a test fails when a key is undocumented. An
unknown key, a wrong type or a value outside its rule is a ConfigError that names the key,
whether it comes from the file or from `worktally config set`; never a silent fallback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.config.keys import (
    Key,
    _sections,
    _unknown_key,
    all_keys,
    check,
    keys,
    lookup,
    parse_value,
)
from worktally.client.config.rules import Bounds, HttpUrl, OneOf, Rule, setting
from worktally.client.config.sections import (
    AttributionConfig,
    CaptureConfig,
    Config,
    ImportConfig,
    OtlpConfig,
    ReportConfig,
)
from worktally.client.errors import ConfigError

__all__ = [
    "AttributionConfig", "Bounds", "CaptureConfig", "Change", "Config", "HttpUrl",
    "ImportConfig", "Key", "OneOf", "OtlpConfig", "ReportConfig", "Rule", "all_keys",
    "check", "from_mapping", "get_value", "keys", "load", "lookup", "parse_value",
    "set_value", "setting", "toml_value", "unset_value",
]


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
