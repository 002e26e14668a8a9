"""Read numbers written as digits or as English words ("twelve point five")."""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 1_000_000_000_000}

NUMBER_WORDS = frozenset({*_UNITS, *_TENS, *_SCALES, "hundred", "point", "minus", "negative", "a", "and"})
_DIGITS = re.compile(r"^[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^[-−]?\d+(?:\.\d+)?$")


def parse_number(text: str) -> float | None:
    """Return the number ``text`` spells, or None if it is not exactly one number.

    Accepts digits ("1,234.5", "-3") and words ("one hundred and five",
    "minus two point five", "a thousand").
    """
    cleaned = text.strip().lower().replace("-", " ") if not _DIGITS.match(text.strip()) else text.strip()
    if _DIGITS.match(cleaned):
        return float(cleaned.replace(",", "").replace("−", "-"))
    words = cleaned.split()
    if not words:
        return None
    sign = 1.0
    if words[0] in {"minus", "negative"}:
        sign, words = -1.0, words[1:]
    if "point" in words:
        at = words.index("point")
        whole = _parse_integer_words(words[:at]) if words[:at] else 0
        fraction = _parse_digit_words(words[at + 1 :])
        if whole is None or fraction is None:
            return None
        return sign * float(f"{whole}.{fraction}")
    value = _parse_integer_words(words)
    return None if value is None else sign * value


def _parse_digit_words(words: list[str]) -> str | None:
    digits = [_UNITS.get(word) for word in words]
    if not digits or any(digit is None or digit > 9 for digit in digits):
        return None
    return "".join(str(digit) for digit in digits)


def _parse_integer_words(words: list[str]) -> int | None:
    total = 0
    current = 0
    seen_number = False
    for word in words:
        if word == "and":
            continue
        if word == "a" and not seen_number:
            current, seen_number = 1, True
        elif word in _UNITS:
            current += _UNITS[word]
            seen_number = True
        elif word in _TENS:
            current += _TENS[word]
            seen_number = True
        elif word == "hundred" and seen_number:
            current *= 100
        elif word in _SCALES and seen_number:
            total += current * _SCALES[word]
            current = 0
        elif word.isdigit():
            current += int(word)
            seen_number = True
        else:
            return None
    return total + current if seen_number else None


def format_number(value: float) -> str:
    """Write a result compactly: whole numbers without a decimal point, others to at most 4 places."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")
