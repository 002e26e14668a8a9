"""Number words: cardinals, ordinals, years, decimals, digits and fractions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jarvis import _numbers


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (42, "forty-two"),
        (99, "ninety-nine"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (999, "nine hundred ninety-nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (1234, "one thousand two hundred thirty-four"),
        (20_000, "twenty thousand"),
        (1_000_000, "one million"),
        (1_234_567, "one million two hundred thirty-four thousand five hundred sixty-seven"),
        (2_000_000_000, "two billion"),
        (3_000_000_000_000, "three trillion"),
        (-5, "minus five"),
        (-1000, "minus one thousand"),
    ],
)
def test_cardinal(number: int, words: str) -> None:
    assert _numbers.cardinal(number) == words


def test_cardinal_above_trillions_reads_digits() -> None:
    assert _numbers.cardinal(10**15) == "one " + " ".join(["zero"] * 15)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (4, "fourth"),
        (5, "fifth"),
        (8, "eighth"),
        (9, "ninth"),
        (11, "eleventh"),
        (12, "twelfth"),
        (13, "thirteenth"),
        (20, "twentieth"),
        (21, "twenty-first"),
        (22, "twenty-second"),
        (99, "ninety-ninth"),
        (100, "one hundredth"),
        (101, "one hundred first"),
        (1000, "one thousandth"),
    ],
)
def test_ordinal(number: int, words: str) -> None:
    assert _numbers.ordinal(number) == words


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (1999, "nineteen ninety-nine"),
        (2026, "twenty twenty-six"),
        (2000, "two thousand"),
        (2005, "two thousand five"),
        (2010, "twenty ten"),
        (1900, "nineteen hundred"),
        (1905, "nineteen oh five"),
        (1066, "ten sixty-six"),
        (1200, "twelve hundred"),
        (3000, "three thousand"),
        (800, "eight hundred"),
    ],
)
def test_year(number: int, words: str) -> None:
    assert _numbers.year(number) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3.14", "three point one four"),
        ("0.5", "zero point five"),
        ("-2.25", "minus two point two five"),
        ("1,234.5", "one thousand two hundred thirty-four point five"),
        ("10", "ten"),
        (".5", "zero point five"),
        ("2.0", "two point zero"),
    ],
)
def test_decimal(text: str, words: str) -> None:
    assert _numbers.decimal(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("007", "zero zero seven"),
        ("0", "zero"),
        ("42", "forty-two"),
        ("1" * 16, " ".join(["one"] * 16)),
    ],
)
def test_integer_digit_by_digit(text: str, words: str) -> None:
    assert _numbers.integer(text) == words


@pytest.mark.parametrize(
    ("numerator", "denominator", "words"),
    [
        (1, 2, "one half"),
        (3, 2, "three halves"),
        (1, 4, "one quarter"),
        (3, 4, "three quarters"),
        (1, 3, "one third"),
        (2, 3, "two thirds"),
        (5, 8, "five eighths"),
        (1, 16, "one sixteenth"),
    ],
)
def test_fraction(numerator: int, denominator: int, words: str) -> None:
    assert _numbers.fraction(numerator, denominator) == words


@pytest.mark.parametrize(
    ("words", "plural"),
    [("twenty", "twenties"), ("nineteen ninety", "nineteen nineties"), ("six", "sixes"), ("hundred", "hundreds")],
)
def test_plural_from_words(words: str, plural: str) -> None:
    assert _numbers.plural_from_words(words) == plural


def test_digits_reads_each_digit() -> None:
    assert _numbers.digits("0815") == "zero eight one five"


@given(st.integers(min_value=-_numbers.MAX_CARDINAL, max_value=_numbers.MAX_CARDINAL))
def test_cardinal_has_no_digits(number: int) -> None:
    assert not any(ch.isdigit() for ch in _numbers.cardinal(number))


@given(st.integers(min_value=1, max_value=_numbers.MAX_CARDINAL))
def test_ordinal_ends_like_an_ordinal(number: int) -> None:
    assert _numbers.ordinal(number).endswith(("th", "first", "second", "third"))
