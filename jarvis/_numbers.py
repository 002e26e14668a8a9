"""Spell numbers as English words for speech (US style, no "and" in cardinals).

Cardinals are spelled up to 999 trillion. Anything larger is read digit by
digit, because numbers that long are not said aloud as words.
"""

from __future__ import annotations

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))

MAX_CARDINAL = 10**15 - 1

_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

# Denominator words as (singular, plural); 2 and 4 have their everyday names.
_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] if ones == 0 else f"{_TENS[tens]}-{_ONES[ones]}"


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _below_hundred(rest)
    head = f"{_ONES[hundreds]} hundred"
    return head if rest == 0 else f"{head} {_below_hundred(rest)}"


def cardinal(n: int) -> str:
    """Spell ``n`` as words: 1234 -> "one thousand two hundred thirty-four".

    Negative numbers get "minus"; magnitudes above :data:`MAX_CARDINAL` are
    read digit by digit.
    """
    if n < 0:
        return f"minus {cardinal(-n)}"
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n < 1000:
        return _below_thousand(n)

    parts: list[str] = []
    rest = n
    for scale, name in _SCALES:
        count, rest = divmod(rest, scale)
        if count:
            parts.append(f"{_below_thousand(count)} {name}")
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def ordinal_from_words(words: str) -> str:
    """Turn the last word of a spelled cardinal into its ordinal form."""
    head, sep, last = words.rpartition(" ")
    stem, hyphen, unit = last.rpartition("-")
    if unit in _IRREGULAR_ORDINALS:
        unit = _IRREGULAR_ORDINALS[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head}{sep}{stem}{hyphen}{unit}"


def ordinal(n: int) -> str:
    """Spell ``n`` as an ordinal: 22 -> "twenty-second"."""
    if abs(n) > MAX_CARDINAL:
        return f"number {digits(str(n))}"
    return ordinal_from_words(cardinal(n))


def plural_from_words(words: str) -> str:
    """Pluralise the last word of a spelled number: "twenty" -> "twenties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def digits(text: str) -> str:
    """Read every digit of ``text`` on its own: "0815" -> "zero eight one five"."""
    return " ".join(_ONES[int(ch)] for ch in text if ch.isdigit() and ch.isascii())


def year(n: int) -> str:
    """Spell ``n`` the way years are read: 1999 -> "nineteen ninety-nine".

    Years 2000-2009 and non-four-digit values are read as cardinals, and a
    round century as "nineteen hundred".
    """
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009:
        return cardinal(n)
    century, rest = divmod(n, 100)
    if rest == 0:
        return f"{_below_hundred(century)} hundred" if century % 10 else cardinal(n)
    if rest < 10:
        return f"{_below_hundred(century)} oh {_ONES[rest]}"
    return f"{_below_hundred(century)} {_below_hundred(rest)}"


def decimal(text: str) -> str:
    """Spell a decimal numeral such as "-1,234.50" with each fraction digit read alone.

    ``text`` must be digits with optional thousands commas, at most one
    point and an optional leading minus sign.
    """
    sign = ""
    if text[:1] in "-\u2212":
        sign, text = "minus ", text[1:]
    whole, _, fraction = text.replace(",", "").partition(".")
    whole_words = integer(whole) if whole else "zero"
    if not fraction:
        return sign + whole_words
    return f"{sign}{whole_words} point {digits(fraction)}"


def integer(text: str) -> str:
    """Spell a string of ASCII digits; leading zeros and very long strings are read digit by digit."""
    if len(text) > 1 and text.startswith("0"):
        return digits(text)
    if len(text) > len(str(MAX_CARDINAL)):
        return digits(text)
    return cardinal(int(text))


def fraction(numerator: int, denominator: int) -> str:
    """Spell a common fraction: (3, 4) -> "three quarters", (1, 2) -> "one half"."""
    if denominator in _DENOMINATORS:
        singular, plural = _DENOMINATORS[denominator]
    else:
        singular = ordinal(denominator)
        plural = singular + "s"
    noun = singular if numerator == 1 else plural
    return f"{cardinal(numerator)} {noun}"
