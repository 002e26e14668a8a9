"""Spell money, phone numbers, ranges, fractions, units and plain numbers for speech.

The passes run in a fixed order, from the most specific shape to the most
general, so that ``$5-10`` is money before it is a range and a range before
it is two numbers. Digits left by one pass are spelled by a later one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from jarvis import _numbers

# Digits with valid thousands commas, or a plain run of digits, and an optional fraction.
NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_LEFT_EDGE = r"(?<![\w.])"
_RIGHT_EDGE = r"(?![\w]|[.,]\d)"


@dataclass(frozen=True, slots=True)
class _Currency:
    """Spoken names of a currency and of its hundredth part (``None`` when that part is not spoken)."""

    singular: str
    plural: str
    minor_singular: str | None
    minor_plural: str | None


_DOLLAR = _Currency("dollar", "dollars", "cent", "cents")
_CURRENCIES = {
    "$": _DOLLAR,
    "US$": _DOLLAR,
    "USD": _DOLLAR,
    "€": _Currency("euro", "euros", "cent", "cents"),
    "EUR": _Currency("euro", "euros", "cent", "cents"),
    "£": _Currency("pound", "pounds", "penny", "pence"),
    "GBP": _Currency("pound", "pounds", "penny", "pence"),
    "¥": _Currency("yen", "yen", None, None),
    "JPY": _Currency("yen", "yen", None, None),
    "₹": _Currency("rupee", "rupees", "paisa", "paise"),
    "INR": _Currency("rupee", "rupees", "paisa", "paise"),
    "CAD": _Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": _Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "CHF": _Currency("Swiss franc", "Swiss francs", None, None),
}
_SCALE_WORDS = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "tn": "trillion",
    "T": "trillion",
}


def _amount(tag: str) -> str:
    """Return a pattern for a number with an optional scale, its groups suffixed with ``tag``."""
    return (
        rf"(?P<num{tag}>{NUMBER})"
        rf"(?:\s(?P<word{tag}>thousand|million|billion|trillion)|(?P<abbr{tag}>bn|mn|tn|[kKmMbBT]))?(?![A-Za-z])"
    )


_SYMBOL = r"US\$|[$€£¥₹]"
_CODE = "|".join(code for code in _CURRENCIES if code.isalpha())
_RANGE_JOIN = r"\s?(?:-|\u2013|\sto\s)\s?"
_CURRENCY_BEFORE = re.compile(
    rf"(?P<neg>[-\u2212])?(?P<unit>{_SYMBOL}|\b(?:{_CODE})\s?){_amount('a')}"
    rf"(?:{_RANGE_JOIN}(?:{_SYMBOL})?{_amount('b')})?(?![\d])",
    re.ASCII,
)
_CURRENCY_AFTER = re.compile(
    rf"{_LEFT_EDGE}(?P<neg>[-\u2212])?(?:{_amount('a')}{_RANGE_JOIN})?{_amount('b')}\s?(?P<unit>€|\b(?:{_CODE})\b)",
    re.ASCII,
)

_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,6}(?![\w]|[.-]\d)", re.ASCII)
# NOTE: seven-digit local numbers such as 555-1234 are read as a range, because
# ranges such as "300-1000 calories" are more common in replies than local numbers.
_PHONE_NATIONAL = re.compile(
    r"(?<![\w(+.-])(?:1[ .-])?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.-]\d)", re.ASCII
)
_DIGIT_GROUP = re.compile(r"\d+", re.ASCII)
_DOTTED_NUMBER = re.compile(r"(?<![\w.])(?P<v>[vV])?(?P<parts>\d+(?:\.\d+){2,})(?![\w]|\.\d)", re.ASCII)
_RANGE = re.compile(
    rf"(?<![\w.\-\u2013/:])(?P<a>{NUMBER})(?:-|\s?[\u2013\u2014]\s?)(?P<b>{NUMBER})(?![\d]|[.,\-\u2013]\d)",
    re.ASCII,
)
_SUBTRACTION = re.compile(r"(?<=\d)\s+-\s+(?=\d)", re.ASCII)
_VULGAR_FRACTIONS = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5), "⅗": (3, 5),
    "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8),
}  # fmt: skip
_VULGAR = re.compile(rf"(?:(?<![\w.])(?P<whole>\d+)\s?)?(?P<glyph>[{''.join(_VULGAR_FRACTIONS)}])", re.ASCII)
_MIXED_FRACTION = re.compile(
    r"(?<![\w./])(?P<whole>\d+)\s(?P<n>\d{1,2})/(?P<d>\d{1,2})(?![\w/]|[.,]\d)",
    re.ASCII,
)
_FRACTION = re.compile(r"(?<![\w./])(?P<n>\d{1,3})/(?P<d>\d{1,3})(?![\w/]|[.,]\d)", re.ASCII)
_DECIMAL_RATING = re.compile(r"(?<![\w./])(?P<n>\d{1,3}\.\d{1,2})/(?P<d>5|10|100)(?![\w/]|[.,]\d)", re.ASCII)
_TIMES = re.compile(r"(?<=\d)(?:[×*]|\s[xX]\s)(?=[\d-])|(?<=[\w)])\s[×*]\s(?=[\w(-])", re.ASCII)
_BY = re.compile(r"(?<=\d)(?<!\b0)[xX](?=\d)", re.ASCII)  # 1920x1080, but not hex 0x1F
_POWER = re.compile(r"(?<=[\w)])\s?\^\s?(?=[\w(-])", re.ASCII)
_DIGIT_SLASH = re.compile(r"(?<=\d)/(?=\d)", re.ASCII)
_RATIO = re.compile(r"(?<![\w:.])(?P<a>\d+):(?P<b>\d+)(?![\w:]|\.\d)", re.ASCII)
_NUMBER_PREFIXES = (
    (re.compile(r"(?<![\w~])~\s?(?=[\d$€£¥₹])", re.ASCII), "about "),
    (re.compile(r"≈\s?(?=[\d$€£¥₹])"), "approximately "),
    (re.compile(r"(?<![\w#&])#\s?(?=\d)", re.ASCII), "number "),
)

_UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "ns": ("nanosecond", "nanoseconds"),
    "µs": ("microsecond", "microseconds"),
    "μs": ("microsecond", "microseconds"),
    "ms": ("millisecond", "milliseconds"),
    "s": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "kcal": ("kilocalorie", "kilocalories"),
    "tsp": ("teaspoon", "teaspoons"),
    "tbsp": ("tablespoon", "tablespoons"),
}
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_GLYPHS = "".join(_VULGAR_FRACTIONS)
_UNIT = re.compile(
    rf"{_LEFT_EDGE}(?P<num>(?:\d+\s?)?[{_GLYPHS}]|{NUMBER})\s?(?P<unit>{_UNIT_NAMES})(?![\w°/])",
    re.ASCII,
)
_QUOTE_MARK = re.compile(r'(?<!\d)"')  # a quotation mark, not an inch sign
_MIXED_BEFORE = re.compile(r"\d\s\d{1,2}/$", re.ASCII)
_ORDINAL = re.compile(rf"{_LEFT_EDGE}(?P<num>\d{{1,3}}(?:,\d{{3}})+|\d+)(?:st|nd|rd|th)(?![\w])", re.ASCII)
_DECADE = re.compile(r"(?<![\w.])(?P<num>1[1-9]\d0|20\d0)['’]?s(?![\w])")
# "20s" alone is as likely twenty seconds, so a two-digit decade needs an
# apostrophe ('90s) or a word such as "the" or "their" before it.
_SHORT_DECADE = re.compile(
    r"(?:(?<![\w.])['’]|(?P<word>\b(?:[Tt]he|[Tt]heir|[Yy]our|[Hh]is|[Hh]er|[Mm]y|[Oo]ur|early|late|mid)[\s-]+))"
    r"(?P<num>[1-9]0)['’]?s(?![\w])"
)
_MULTIPLES = re.compile(r"(?<![\w.])(?P<num>[1-9]0+)['’]?s(?=\s+of\b)", re.ASCII)
# NOTE: a four-digit number is read as a year only after one of these words, after
# a month or in brackets, and only from 1100 to 2099; "in 1066" is read as a count.
_YEAR_WORDS = (
    r"in|In|since|Since|by|By|from|From|until|Until|till|to|before|Before|after|After|during|During|circa|around"
    r"|early|late|mid|through|between|Between|and|year|of|AD|A\.D\.|summer|winter|spring|autumn|fall|Q[1-4]|FY"
)
_YEAR_AFTER_WORD = re.compile(rf"\b(?P<word>{_YEAR_WORDS})(?P<space>\s+)(?P<num>1[1-9]\d\d|20\d\d)(?![\w]|[.,]\d)")
_YEAR_BEFORE_ERA = re.compile(r"(?<![\w.])(?P<num>\d{3,4})(?P<era>\s?(?:BC|BCE|AD|CE))\b", re.ASCII)
_YEAR_POSSESSIVE = re.compile(r"(?<![\w.])(?P<num>1[1-9]\d\d|20\d\d)(?='s\b)", re.ASCII)
_YEAR_IN_BRACKETS = re.compile(r"(?<=\()(?P<num>1[1-9]\d\d|20\d\d)(?=\))", re.ASCII)
# "10k users", "5M downloads", "3bn people"; an uppercase K or B stays, as in "4K video" and "Gate 22B".
_SCALED_NUMBER = re.compile(rf"{_LEFT_EDGE}(?P<num>{NUMBER})(?P<abbr>k|M|bn|mn|tn)(?![\w])", re.ASCII)
_NUMBER_LETTER = re.compile(r"(?<![\w.])(?P<num>\d+)(?=[A-Z]\b)", re.ASCII)
# 6.1" display and 5'10" tall; a number closing a quotation ("call 5") is left alone.
_FEET_INCHES = re.compile(r"(?<![\w.])(?P<feet>\d{1,2})'\s?(?P<inches>\d{1,2}(?:\.\d)?)\"", re.ASCII)
_INCHES = re.compile(r"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\"(?=\s+[a-z]|\s*[x×)]|,)", re.ASCII)
_NEGATIVE = re.compile(r"(?<![\w.)\]])[-\u2212](?=\.?\d)")
_PLAIN_NUMBER = re.compile(rf"{_LEFT_EDGE}(?:{NUMBER}|\.\d+)(?![\w]|\.\d)", re.ASCII)


def speak_quantities(text: str) -> str:
    """Replace money, phone numbers, ranges, fractions, units and numbers in ``text`` with words."""
    for pattern, replacement in _PASSES:
        text = pattern.sub(replacement, text)
    return text


def _scale_of(match: re.Match[str], tag: str) -> str | None:
    word = match[f"word{tag}"]
    if word:
        return str(word)
    abbreviation = match[f"abbr{tag}"]
    return _SCALE_WORDS[abbreviation] if abbreviation else None


def _money_words(number: str, scale: str | None, currency: _Currency) -> str:
    """Spell an amount: ("5.99", None, dollar) -> "five dollars ninety-nine cents"."""
    if scale:
        return f"{_numbers.decimal(number)} {scale} {currency.plural}"
    whole_text, _, fraction_text = number.replace(",", "").partition(".")
    if len(fraction_text) > 2 or (fraction_text and currency.minor_plural is None):
        return f"{_numbers.decimal(number)} {currency.plural}"
    whole = _numbers.integer(whole_text)
    cents = int(fraction_text.ljust(2, "0")) if fraction_text else 0
    unit = currency.singular if whole == "one" else currency.plural
    if cents == 0:
        return f"{whole} {unit}"
    minor = currency.minor_singular if cents == 1 else currency.minor_plural
    cents_words = f"{_numbers.cardinal(cents)} {minor}"
    return cents_words if whole == "zero" else f"{whole} {unit} {cents_words}"


def _speak_money(match: re.Match[str]) -> str:
    currency = _CURRENCIES[match["unit"].strip()]
    sign = "minus " if match["neg"] else ""
    first_tag, last_tag = ("a", "b") if match["numb"] is not None else (None, "a")
    if match["numa"] is None:
        first_tag, last_tag = None, "b"
    last = _money_words(match[f"num{last_tag}"], _scale_of(match, last_tag), currency)
    if first_tag is None:
        return sign + last
    first_number, first_scale = match[f"num{first_tag}"], _scale_of(match, first_tag)
    if "." in first_number or (first_scale and first_scale != _scale_of(match, last_tag)):
        first = _money_words(first_number, first_scale, currency)
    else:
        first = _numbers.decimal(first_number)
    return f"{sign}{first} to {last}"


def _speak_phone(match: re.Match[str]) -> str:
    groups = _DIGIT_GROUP.findall(match.group())
    if sum(len(group) for group in groups) < 7:
        return match.group()
    spoken = ", ".join(_numbers.digits(group) for group in groups)
    return f"plus {spoken}" if match.group().startswith("+") else spoken


def _speak_dotted_number(match: re.Match[str]) -> str:
    parts = match["parts"].split(".")
    is_address = len(parts) == 4 and all(len(part) <= 3 and int(part) <= 255 for part in parts)
    spoken = (" dot " if is_address else " point ").join(_numbers.integer(part) for part in parts)
    return f"version {spoken}" if match["v"] else spoken


def _speak_range(match: re.Match[str]) -> str:
    first, last = match["a"], match["b"]
    if not _is_year(first):
        return f"{first} to {last}"
    if _is_year(last):
        return f"{_numbers.year(int(first))} to {_numbers.year(int(last))}"
    if len(last) == 2 and last.isdigit():
        return f"{_numbers.year(int(first))} to {_numbers.cardinal(int(last))}"
    return f"{first} to {last}"


def _is_year(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and 1100 <= int(text) <= 2099


def _speak_vulgar(match: re.Match[str]) -> str:
    numerator, denominator = _VULGAR_FRACTIONS[match["glyph"]]
    if match["whole"] is None:
        return f" {_numbers.fraction(numerator, denominator)}"
    return _mixed_words(match["whole"], numerator, denominator)


def _mixed_words(whole: str, numerator: int, denominator: int) -> str:
    part = _numbers.fraction(numerator, denominator)
    if numerator == 1:
        part = "a " + part.removeprefix("one ")
    return f"{_numbers.integer(whole)} and {part}"


def _speak_mixed_fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match["n"]), int(match["d"])
    if not 0 < numerator < denominator <= 16:
        return match.group()
    return _mixed_words(match["whole"], numerator, denominator)


def _speak_decimal_rating(match: re.Match[str]) -> str:
    return f"{match['n']} out of {match['d']}"


def _speak_scaled_number(match: re.Match[str]) -> str:
    return f"{match['num']} {_SCALE_WORDS[match['abbr']]}"


def _speak_feet_inches(match: re.Match[str]) -> str:
    feet = "foot" if match["feet"] == "1" else "feet"
    inches = "inch" if match["inches"] == "1" else "inches"
    return f"{match['feet']} {feet} {match['inches']} {inches}"


def _speak_inches(match: re.Match[str]) -> str:
    line_start = match.string.rfind("\n", 0, match.start()) + 1
    open_quotes = _QUOTE_MARK.findall(match.string, line_start, match.start())
    if len(open_quotes) % 2:
        return match.group()
    return f"{match['num']} {'inch' if match['num'] == '1' else 'inches'}"


def _speak_fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match["n"]), int(match["d"])
    if (numerator, denominator) == (24, 7):
        return "twenty-four seven"
    if (numerator, denominator) == (50, 50):
        return "fifty-fifty"
    if denominator in (10, 100) and numerator <= denominator:
        return f"{_numbers.cardinal(numerator)} out of {_numbers.cardinal(denominator)}"
    if 0 < numerator < denominator <= 16:
        return _numbers.fraction(numerator, denominator)
    return f"{_numbers.integer(match['n'])} slash {_numbers.integer(match['d'])}"


def _speak_unit(match: re.Match[str]) -> str:
    """Name the unit after a number, in the singular after 1 and after a fraction below one."""
    singular, plural = _UNITS[match["unit"]]
    number = match["num"]
    before = match.string[max(0, match.start() - 8) : match.start()]
    below_one = number in _VULGAR_FRACTIONS or (before.endswith("/") and not _MIXED_BEFORE.search(before))
    return f"{number} {singular if number == '1' or below_one else plural}"


def _speak_ordinal(match: re.Match[str]) -> str:
    number = match["num"].replace(",", "")
    if len(number) > len(str(_numbers.MAX_CARDINAL)):
        return match.group()
    return _numbers.ordinal(int(number))


def _speak_decade(match: re.Match[str]) -> str:
    return _numbers.plural_from_words(_numbers.year(int(match["num"])))


def _speak_short_decade(match: re.Match[str]) -> str:
    return (match["word"] or "") + _numbers.plural_from_words(_numbers.cardinal(int(match["num"])))


def _speak_multiples(match: re.Match[str]) -> str:
    """Spell "100s of" as "hundreds of" and "20s of" as "twenties of"."""
    words = _numbers.integer(match["num"]).removeprefix("one ")
    return _numbers.plural_from_words(words)


def _speak_year_after_word(match: re.Match[str]) -> str:
    return f"{match['word']}{match['space']}{_numbers.year(int(match['num']))}"


def _speak_year_before_era(match: re.Match[str]) -> str:
    return f"{_numbers.year(int(match['num']))}{match['era']}"


def _speak_year(match: re.Match[str]) -> str:
    return _numbers.year(int(match["num"]))


def _speak_ratio(match: re.Match[str]) -> str:
    return f"{match['a']} to {match['b']}"


def _speak_plain_number(match: re.Match[str]) -> str:
    return _numbers.decimal(match.group())


_Replacement = str | Callable[[re.Match[str]], str]
_PASSES: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    *_NUMBER_PREFIXES,
    (_CURRENCY_BEFORE, _speak_money),
    (_CURRENCY_AFTER, _speak_money),
    (_PHONE_INTERNATIONAL, _speak_phone),
    (_PHONE_NATIONAL, _speak_phone),
    (_DOTTED_NUMBER, _speak_dotted_number),
    (_SUBTRACTION, " minus "),
    (_DECADE, _speak_decade),
    (_SHORT_DECADE, _speak_short_decade),
    (_MULTIPLES, _speak_multiples),
    (_FEET_INCHES, _speak_feet_inches),
    (_INCHES, _speak_inches),
    (_UNIT, _speak_unit),
    (_SCALED_NUMBER, _speak_scaled_number),
    (_RANGE, _speak_range),
    (_VULGAR, _speak_vulgar),
    (_MIXED_FRACTION, _speak_mixed_fraction),
    (_DECIMAL_RATING, _speak_decimal_rating),
    (_FRACTION, _speak_fraction),
    (_TIMES, " times "),
    (_BY, " by "),
    (_POWER, " to the power of "),
    (_DIGIT_SLASH, " slash "),
    (_RATIO, _speak_ratio),
    (_ORDINAL, _speak_ordinal),
    (_YEAR_AFTER_WORD, _speak_year_after_word),
    (_YEAR_BEFORE_ERA, _speak_year_before_era),
    (_YEAR_POSSESSIVE, _speak_year),
    (_YEAR_IN_BRACKETS, _speak_year),
    (_NUMBER_LETTER, r"\g<num> "),
    (_NEGATIVE, "minus "),
    (_PLAIN_NUMBER, _speak_plain_number),
)
