"""Price table: loading, validation, costs in Decimal and worst cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from jarvis.cloud.config import CloudSettings
from jarvis.cloud.pricing import BUNDLED_PRICES, PriceTable
from jarvis.cloud.types import Usage
from jarvis.errors import ConfigError

TABLE = """
version = 2
updated = 2025-06-01

[anthropic."model-a"]
input = 1.00
cached_input = 0.10
output = 5.00

[openai."model-b"]
input = 0.4
cached_input = 0.1
output = 1.6
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_table_loads() -> None:
    table = PriceTable.load(None)
    assert table.source == BUNDLED_PRICES
    assert table.version >= 1
    assert isinstance(table.updated, dt.date)


def test_bundled_table_covers_default_models() -> None:
    table = PriceTable.load(None)
    settings = CloudSettings()
    for provider in ("anthropic", "openai", "gemini"):
        model = getattr(settings, provider).model
        assert table.price(provider, model).output_usd_per_mtok > 0


def test_bundled_path_is_in_repository_config() -> None:
    assert Path(__file__).resolve().parents[2] / "config" / "prices.toml" == BUNDLED_PRICES


def test_prices_are_decimal() -> None:
    price = PriceTable.load(None).price("openai", "gpt-4.1-mini")
    assert isinstance(price.input_usd_per_mtok, Decimal)
    assert price.input_usd_per_mtok == Decimal("0.40")


def test_cost_is_exact(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE))
    usage = Usage(input_tokens=1000, output_tokens=200, cached_tokens=400)
    # 600 uncached * 1.00 + 400 cached * 0.10 + 200 output * 5.00, per million
    assert table.cost_usd("anthropic", "model-a", usage) == Decimal("0.00164")


def test_cost_has_no_float_error(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE))
    usage = Usage(input_tokens=3, output_tokens=0)
    assert table.cost_usd("openai", "model-b", usage) == Decimal("0.0000012")


def test_cached_tokens_above_input_are_capped(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE))
    usage = Usage(input_tokens=100, cached_tokens=500)
    assert table.cost_usd("anthropic", "model-a", usage) == Decimal("0.00001")


def test_worst_case_ignores_cache(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE))
    assert table.worst_case_usd("anthropic", "model-a", 1000, 400) == Decimal("0.003")


def test_worst_case_is_at_least_cost(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE))
    usage = Usage(input_tokens=1000, output_tokens=400, cached_tokens=300)
    assert table.worst_case_usd("openai", "model-b", 1000, 400) >= table.cost_usd("openai", "model-b", usage)


def test_dated_snapshot_uses_model_price(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE))
    assert table.price("anthropic", "model-a-20251001") == table.price("anthropic", "model-a")
    assert table.price("openai", "model-b-2025-04-14") == table.price("openai", "model-b")


def test_unknown_model_names_model_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, TABLE)
    with pytest.raises(ConfigError) as caught:
        PriceTable.load(path).cost_usd("openai", "gpt-9", Usage())
    message = str(caught.value)
    assert "'gpt-9'" in message
    assert str(path) in message
    assert '[openai."gpt-9"]' in message


def test_model_of_other_provider_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        PriceTable.load(write(tmp_path, TABLE)).price("gemini", "model-a")


def test_default_table_is_rejected(tmp_path: Path) -> None:
    text = TABLE + "\n[default]\ninput = 1.0\ncached_input = 1.0\noutput = 1.0\n"
    with pytest.raises(ConfigError, match="Default prices are not supported"):
        PriceTable.load(write(tmp_path, text))


def test_missing_version_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="version"):
        PriceTable.load(write(tmp_path, TABLE.replace("version = 2", "")))


def test_missing_updated_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="updated"):
        PriceTable.load(write(tmp_path, TABLE.replace("updated = 2025-06-01", "")))


def test_negative_price_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'output'"):
        PriceTable.load(write(tmp_path, TABLE.replace("output = 5.00", "output = -5.00")))


def test_missing_price_field_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cached_input"):
        PriceTable.load(write(tmp_path, TABLE.replace("cached_input = 0.10\n", "")))


def test_string_price_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'input'"):
        PriceTable.load(write(tmp_path, TABLE.replace("input = 1.00", 'input = "cheap"')))


def test_unknown_price_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch"):
        PriceTable.load(write(tmp_path, TABLE.replace("output = 1.6", "output = 1.6\nbatch = 0.2")))


def test_integer_prices_are_accepted(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, TABLE.replace("output = 5.00", "output = 5")))
    assert table.price("anthropic", "model-a").output_usd_per_mtok == Decimal(5)


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        PriceTable.load(tmp_path / "absent.toml")


def test_invalid_toml_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        PriceTable.load(write(tmp_path, "version = = 1"))
