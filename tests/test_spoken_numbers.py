"""Numbers in digits and English words are read exactly."""

from __future__ import annotations

import pytest

from jarvis.brain.spoken_numbers import format_number, parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7), ("-3", -3), ("1,234", 1234), ("2.5", 2.5), ("1,234.75", 1234.75),
        ("zero", 0), ("twelve", 12), ("forty-two", 42), ("one hundred and five", 105),
        ("a thousand", 1000), ("two thousand twenty six", 2026), ("three million", 3_000_000),
        ("minus two point five", -2.5), ("point five", 0.5), ("one point two five", 1.25),
        ("nine hundred ninety nine thousand", 999_000),
    ],
)  # fmt: skip
def test_parse_number_reads(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "two apples", "point", "one point twelve", "hundred"])
def test_parse_number_rejects(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(("value", "expected"), [(84.0, "84"), (12.5, "12.5"), (1 / 3, "0.3333"), (-6.5, "-6.5")])
def test_format_number(value: float, expected: str) -> None:
    assert format_number(value) == expected
