"""Replace the symbols that a TTS voice reads badly with words or pauses.

Runs after numbers are spelled, so a "%" or "°" still here had no number
before it. Symbols with no spoken meaning (``*``, ``_``, brackets, stray
backticks) are removed.
"""

from __future__ import annotations

import re

_SLASH_ACRONYMS = re.compile(r"\b(?P<a>[A-Z]{1,5})/(?P<b>[A-Z]{1,5})\b")
_SLASH_WORDS = re.compile(r"(?<=[a-z])/(?=[a-z])")
_PER_NAMES = {
    "mo": "month",
    "yr": "year",
    "wk": "week",
    "hr": "hour",
    "lb": "pound",
    "kg": "kilogram",
    "g": "gram",
    "oz": "ounce",
    "km": "kilometer",
    "mi": "mile",
    "l": "liter",
    "gal": "gallon",
    "ft": "foot",
}
_PER = re.compile(
    r"(?<=\w)\s?/\s?(?P<unit>month|year|week|day|night|hour|minute|person|user|seat|head|item|unit|"
    rf"{'|'.join(_PER_NAMES)})\b"
)
_DOTFILE = re.compile(r"(?<![\w.])\.(?=[A-Za-z]\w*)")
_PATH = re.compile(r"(?<!\S)~?/[\w.-]+(?:/[\w.-]*)*")
_AND_OR = re.compile(r"\band/or\b")
_SPACED_HYPHEN = re.compile(r"(?<=\S)\s+-{1,2}\s+(?=\S)|(?<=\w)--(?=\w)")
_COMPARISONS = re.compile(r"(?<=[\w)])\s*(?P<sign><=|>=|!=|==|<|>)\s*(?=[\w(])")
_COMPARISON_WORDS = {
    "<=": " is less than or equal to ",
    ">=": " is greater than or equal to ",
    "!=": " is not equal to ",
    "==": " equals ",
    "<": " is less than ",
    ">": " is greater than ",
}
_SHARP = re.compile(r"\b(?P<note>[A-G])#")

_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("->", " to "),
    ("=>", " to "),
    ("→", " to "),
    ("⟶", " to "),
    ("⇒", " to "),
    ("<-", " "),
    ("←", " "),
    ("↔", " "),
    ("≈", " approximately "),
    ("≠", " is not equal to "),
    ("≤", " is less than or equal to "),
    ("≥", " is greater than or equal to "),
    ("±", " plus or minus "),
    ("×", " times "),
    ("÷", " divided by "),
    ("=", " equals "),
    ("&", " and "),
    ("%", " percent "),
    ("‰", " per mille "),
    ("+", " plus "),
    ("°", " degrees "),
    ("@", " at "),
    ("§", " section "),
    ("©", " copyright "),
    ("$", " dollars "),
    ("€", " euros "),
    ("£", " pounds "),
    ("¥", " yen "),
    ("₹", " rupees "),
    ("…", "..."),
    ("—", ", "),
    ("–", ", "),
    ("|", ", "),
    ("•", ", "),
    ("·", ", "),
    ("/", " slash "),
    ("\\", " "),
    ("“", '"'),
    ("”", '"'),
    ("„", '"'),
    ("«", '"'),
    ("»", '"'),
    ("‘", "'"),
    ("’", "'"),
    ("_", " "),
)
_DROPPED = re.compile(r"[*^`~#{}\[\]<>¶]")
_MARKS = re.compile(r"[®™†‡]")


def speak_symbols(text: str) -> str:
    """Replace or remove the symbols left in ``text``."""
    text = _SHARP.sub(r"\g<note> sharp", text)
    text = _AND_OR.sub("and or", text)
    text = _PER.sub(lambda match: " per " + _PER_NAMES.get(match["unit"], match["unit"]), text)
    text = _DOTFILE.sub("dot ", text)
    text = _PATH.sub(lambda match: match.group().replace("/", " slash "), text)
    text = _SLASH_ACRONYMS.sub(r"\g<a> \g<b>", text)
    text = _SLASH_WORDS.sub(" or ", text)
    text = _SPACED_HYPHEN.sub(", ", text)
    text = _COMPARISONS.sub(lambda match: _COMPARISON_WORDS[match["sign"]], text)
    for symbol, words in _REPLACEMENTS:
        text = text.replace(symbol, words)
    text = _MARKS.sub("", text)
    return _DROPPED.sub(" ", text)
