"""The versioned price table of cloud models and the cost of a call.

Money is :class:`~decimal.Decimal` throughout; TOML numbers are parsed as
Decimal, never through float. A model missing from the table is an error,
never a guess.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jarvis.cloud.types import PROVIDER_NAMES, Usage
from jarvis.errors import ConfigError

BUNDLED_PRICES = Path(__file__).resolve().parents[2] / "config" / "prices.toml"
_MILLION = Decimal(1_000_000)
_PRICE_FIELDS = ("input", "cached_input", "output")
# Dated snapshots ("gpt-4.1-mini-2025-04-14", "claude-haiku-4-5-20251001") cost what their model costs.
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model in US dollars per million tokens."""

    input_usd_per_mtok: Decimal
    cached_input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices per provider and model, with the table's version, last update and file."""

    version: int
    updated: dt.date
    source: Path
    prices: dict[tuple[str, str], ModelPrice]

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """Read the table from ``path``, or the bundled ``config/prices.toml`` when None.

        Raises:
            ConfigError: the file is missing, not valid TOML or has an invalid
                entry; the message names the entry and what it needs.
        """
        source = path or BUNDLED_PRICES
        try:
            with source.open("rb") as handle:
                raw = tomllib.load(handle, parse_float=Decimal)
        except OSError as err:
            raise ConfigError(f"cannot read the price table {source}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"price table {source} is not valid TOML: {err}") from err
        return cls._from_raw(raw, source)

    @classmethod
    def _from_raw(cls, raw: dict[str, Any], source: Path) -> PriceTable:
        version = raw.get("version")
        updated = raw.get("updated")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ConfigError(f"price table {source} needs a top-level 'version' integer of 1 or more")
        if not isinstance(updated, dt.date) or isinstance(updated, dt.datetime):
            raise ConfigError(f"price table {source} needs a top-level 'updated' date such as 2025-01-31")

        prices: dict[tuple[str, str], ModelPrice] = {}
        for provider, models in raw.items():
            if provider in ("version", "updated"):
                continue
            if provider not in PROVIDER_NAMES:
                raise ConfigError(
                    f"price table {source} has an unknown table [{provider}]; expected one of "
                    f"{', '.join(PROVIDER_NAMES)}. Default prices are not supported: list each model."
                )
            if not isinstance(models, dict):
                raise ConfigError(f"price table {source}: [{provider}] must contain one table per model")
            for model, fields in models.items():
                prices[(provider, model)] = _parse_model(fields, f'[{provider}."{model}"]', source)
        return cls(version=version, updated=updated, source=source, prices=prices)

    def price(self, provider: str, model: str) -> ModelPrice:
        """Return the prices of ``model`` at ``provider``, also for a dated snapshot of a listed model.

        Raises:
            ConfigError: the model is not in the table; the message names the file to edit.
        """
        found = self.prices.get((provider, model)) or self.prices.get((provider, _SNAPSHOT_SUFFIX.sub("", model)))
        if found is None:
            raise ConfigError(
                f"no price for model '{model}' of provider '{provider}' in {self.source}; add a table "
                f'[{provider}."{model}"] with input, cached_input and output in US dollars per million tokens, '
                "or set cloud.budget.prices_path to a table that lists it"
            )
        return found

    def cost_usd(self, provider: str, model: str, usage: Usage) -> Decimal:
        """Return the cost of a call with ``usage``.

        ``usage.input_tokens`` counts every prompt token, cached ones included,
        and ``usage.cached_tokens`` is the part read from the cache.
        """
        price = self.price(provider, model)
        cached = min(max(usage.cached_tokens, 0), max(usage.input_tokens, 0))
        uncached = max(usage.input_tokens, 0) - cached
        total = (
            uncached * price.input_usd_per_mtok
            + cached * price.cached_input_usd_per_mtok
            + max(usage.output_tokens, 0) * price.output_usd_per_mtok
        )
        return total / _MILLION

    def worst_case_usd(self, provider: str, model: str, input_tokens: int, max_output_tokens: int) -> Decimal:
        """Return the most a call can cost: every input token uncached and the full output cap used."""
        price = self.price(provider, model)
        total = max(input_tokens, 0) * price.input_usd_per_mtok + max(max_output_tokens, 0) * price.output_usd_per_mtok
        return total / _MILLION


def _parse_model(fields: object, name: str, source: Path) -> ModelPrice:
    if not isinstance(fields, dict):
        raise ConfigError(f"price table {source}: {name} must be a table with input, cached_input and output")
    unknown = sorted(set(fields) - set(_PRICE_FIELDS))
    if unknown:
        raise ConfigError(f"price table {source}: {name} has unknown keys {', '.join(unknown)}")
    values: dict[str, Decimal] = {}
    for field in _PRICE_FIELDS:
        value = fields.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise ConfigError(
                f"price table {source}: {name} needs '{field}' as a number of US dollars per million tokens, 0 or more"
            )
        values[field] = value
    return ModelPrice(values["input"], values["cached_input"], values["output"])
