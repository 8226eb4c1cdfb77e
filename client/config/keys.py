"""The settings by `section.key`: their types, lookup with a helpful refusal, and checking a
value (from the file or from the command line) against its key's type and rule."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from worktally.client.config.rules import Rule
from worktally.client.config.sections import Config
from worktally.client.errors import ConfigError

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
