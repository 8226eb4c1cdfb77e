"""What AI tokens cost: a dated price table shipped in `data/prices.json`, a local override.

The rules follow ccusage's: a model name matches with or without a provider prefix, a
Bedrock/Vertex suffix or a date suffix; tokens of one field above 200k in one request are
priced at the model's higher tier; an unknown model costs 0 and is flagged, never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.errors import ConfigError

PER_MILLION = 1_000_000
TIER_THRESHOLD = 200_000
# Locally generated messages (API errors, usage-limit notices) carry zero usage.
FREE_MODELS = frozenset({"<synthetic>"})

_PROVIDER_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?(?:anthropic|openai|google|meta)\.")
_VENDOR_SUFFIX = re.compile(r"(?:-v\d+(?::\d+)?|@.*)$")
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_PRICE_FIELDS = ("input", "output", "cache_write", "cache_read")


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for each kind of token."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class ModelPrice:
    base: Rates
    # Applied to the part of one field above TIER_THRESHOLD tokens in one request.
    above_200k: Rates | None = None
    estimate: bool = False


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    source: str
    models: Mapping[str, ModelPrice]


@dataclass(frozen=True)
class Cost:
    usd: float
    priced: bool
    matched_model: str | None
    estimate: bool


def _rates(raw: Any, where: str) -> Rates:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    values: dict[str, float] = {}
    for name in _PRICE_FIELDS:
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}.{name} must be a non-negative number")
        values[name] = float(value)
    return Rates(**values)


def _parse_models(raw: Any) -> dict[str, ModelPrice]:
    if not isinstance(raw, dict):
        raise ValueError("'models' must be an object of model name to prices")
    models: dict[str, ModelPrice] = {}
    for name, entry in raw.items():
        base = _rates(entry, name)
        tier = entry.get("above_200k")
        models[str(name).lower()] = ModelPrice(
            base=base,
            above_200k=_rates(tier, f"{name}.above_200k") if tier is not None else None,
            estimate=bool(entry.get("estimate", False)),
        )
    return models


def shipped_table() -> PriceTable:
    """The table packaged with worktally."""
    text = resources.files("worktally.client").joinpath("data/prices.json").read_text("utf-8")
    doc = json.loads(text)
    return PriceTable(as_of=str(doc["as_of"]), source=str(doc["source"]),
                      models=_parse_models(doc["models"]))


def override_path() -> Path:
    return paths.home() / "prices.json"


def load_price_table(override: Path | None = None) -> PriceTable:
    """The shipped table, with models from $WORKTALLY_HOME/prices.json added or replaced."""
    table = shipped_table()
    target = override or override_path()
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return table
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{target.name} is not valid JSON ({exc}); fix or remove it") from exc
    try:
        if not isinstance(doc, dict):
            raise ValueError("it must be an object with a 'models' key")
        extra = _parse_models(doc.get("models", {}))
    except ValueError as exc:
        raise ConfigError(f"{target.name}: {exc}; fix or remove it") from exc
    return PriceTable(
        as_of=str(doc.get("as_of", table.as_of)),
        source=f"{table.source} Local overrides from {target.name}.",
        models={**table.models, **extra},
    )


def name_candidates(model: str) -> list[str]:
    """The spellings tried in order: as given, then without prefix, vendor and date suffix."""
    name = model.strip().lower()
    out = [name]
    name = name.rsplit("/", 1)[-1]
    name = _PROVIDER_PREFIX.sub("", name)
    out.append(name)
    name = _VENDOR_SUFFIX.sub("", name)
    out.append(name)
    name = _DATE_SUFFIX.sub("", name)
    out.append(name)
    name = name.removesuffix("-latest")
    out.append(name)
    return list(dict.fromkeys(out))


def match_model(table: PriceTable, model: str) -> str | None:
    for candidate in name_candidates(model):
        if candidate in table.models:
            return candidate
    return None


def _field_cost(tokens: int, base: float, tier: float | None) -> float:
    if tier is None or tokens <= TIER_THRESHOLD:
        return tokens * base
    return TIER_THRESHOLD * base + (tokens - TIER_THRESHOLD) * tier


def usage_cost(
    table: PriceTable,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_creation_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> Cost:
    """Cost of one request. `input_tokens` excludes cached tokens (Anthropic's meaning)."""
    if model in FREE_MODELS:
        return Cost(usd=0.0, priced=True, matched_model=model, estimate=False)
    matched = match_model(table, model)
    if matched is None:
        return Cost(usd=0.0, priced=False, matched_model=None, estimate=False)
    price = table.models[matched]
    tier = price.above_200k
    total = (
        _field_cost(input_tokens, price.base.input, tier.input if tier else None)
        + _field_cost(output_tokens, price.base.output, tier.output if tier else None)
        + _field_cost(cache_creation_tokens, price.base.cache_write,
                      tier.cache_write if tier else None)
        + _field_cost(cache_read_tokens, price.base.cache_read, tier.cache_read if tier else None)
    )
    return Cost(usd=total / PER_MILLION, priced=True, matched_model=matched,
                estimate=price.estimate)


@dataclass(frozen=True)
class CostSummary:
    usd: float
    unpriced_models: tuple[str, ...]
    estimated_models: tuple[str, ...]


def summarise_costs(costs: Iterable[tuple[str, Cost]]) -> CostSummary:
    """Add up (model, cost) pairs and list the models that were unknown or estimated."""
    usd = 0.0
    unpriced: set[str] = set()
    estimated: set[str] = set()
    for model, cost in costs:
        usd += cost.usd
        if not cost.priced:
            unpriced.add(model)
        elif cost.estimate and cost.matched_model:
            estimated.add(cost.matched_model)
    return CostSummary(usd=usd, unpriced_models=tuple(sorted(unpriced)),
                       estimated_models=tuple(sorted(estimated)))
