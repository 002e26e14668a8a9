"""Spell dates and clock times for speech.

Date rules:

- ISO dates (``2026-12-04``, optionally with a ``T14:30`` time) and
  ``2026/12/04`` read as "December fourth, twenty twenty-six".
- Slash dates with a four-digit year are US month/day/year
  (``12/04/2026`` is December fourth), except when the first number cannot be
  a month and the second can, so ``25/12/2026`` is read as day/month.
  Without a year (``12/04``) the numbers are read as a fraction or with
  "slash", because such a date looks the same as a fraction.
- Dotted dates (``04.12.2026``) are day.month.year, as in Europe.
- ``Dec 4``, ``Dec. 4th, 2026`` and ``4 December`` name the month.

Times: ``14:30`` -> "fourteen thirty", ``9:00`` -> "nine o'clock",
``2:05 PM`` -> "two oh five p m", ``5pm`` -> "five p m".
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from jarvis import _numbers

_ANY_LEAP_YEAR = 2024  # checks a day without a year, so that February 29 is allowed
_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_PATTERN = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_YEAR_SUFFIX = r"(?:,?\s+(?P<year>[12]\d{3})(?![\w]|[.,]\d))?"

# The dot after a.m./p.m. is kept when it may end the sentence, and dropped
# when lowercase text, a digit or other punctuation follows.
_AM_PM = r"(?P<ampm>[AaPp])(?:[Mm]|\.\s?[Mm](?:\.(?=\s*[a-z0-9,;:!?)\]]))?)(?![A-Za-z])"

_ISO_DATE = re.compile(
    r"(?<![\w./-])(?P<year>\d{4})[-/](?P<month>\d{2})[-/](?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"(?![\w/-]|\.\d)",
    re.ASCII,
)
_SLASH_DATE = re.compile(r"(?<![\w./-])(?P<first>\d{1,2})/(?P<second>\d{1,2})/(?P<year>\d{4})(?![\w/]|\.\d)", re.ASCII)
_DOTTED_DATE = re.compile(r"(?<![\w.])(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})(?![\w]|\.\d)", re.ASCII)
_MONTH_DAY = re.compile(
    rf"\b{_MONTH_PATTERN}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\w:]|[.,]\d){_YEAR_SUFFIX}", re.ASCII
)
_DAY_MONTH = re.compile(
    rf"(?P<article>\b[Tt]he\s+)?(?<![\w.,])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_PATTERN}\b"
    rf"(?:\.(?=,?\s+\d))?{_YEAR_SUFFIX}",
    re.ASCII,
)
_MONTH_YEAR = re.compile(rf"\b{_MONTH_PATTERN}\.?\s+(?P<year>[12]\d{{3}})(?![\w]|[.,]\d)", re.ASCII)
_CLOCK_TIME = re.compile(
    r"(?<![\w:.])(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d))?"
    rf"(?:\s?{_AM_PM}|(?![\w:]|\.\d))",
    re.ASCII,
)
_DURATION = re.compile(
    r"(?<![\w:.])(?P<major>\d{1,2}):(?P<minor>[0-5]\d)\s?(?P<unit>min|mins|minutes|h|hr|hrs|hours)\b", re.ASCII
)
# "a 1:16 ratio" and "ratio of 1:16" are ratios, not times of day.
_RATIO_BEFORE = re.compile(r"\b(?:ratio(?:\s+of|\s+is)?|an?)\s+$", re.IGNORECASE)
_RATIO_AFTER = re.compile(r"\s+ratio\b", re.IGNORECASE)
_HOUR_AM_PM = re.compile(rf"(?<![\w:.])(?P<hour>1[0-2]|0?[1-9])\s?{_AM_PM}", re.ASCII)


def speak_dates_and_times(text: str) -> str:
    """Replace dates and clock times in ``text`` with words; invalid dates stay as they are."""
    for pattern, speak in _PASSES:
        text = pattern.sub(speak, text)
    return text


def date_words(year: int | None, month: int, day: int) -> str:
    """Spell a date as "December fourth, twenty twenty-six"; ``year`` may be ``None``."""
    words = f"{_MONTH_NAMES[month - 1]} {_numbers.ordinal(day)}"
    return words if year is None else f"{words}, {_numbers.year(year)}"


def _is_valid_date(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _month_number(name: str) -> int:
    return next(index for index, full in enumerate(_MONTH_NAMES, start=1) if full.startswith(name[:3]))


def _speak_iso_date(match: re.Match[str]) -> str:
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if not _is_valid_date(year, month, day):
        return match.group()
    words = date_words(year, month, day)
    if match["hour"] is None or int(match["hour"]) > 23 or int(match["minute"]) > 59:
        return words
    second = int(match["second"]) if match["second"] else 0
    return f"{words} at {time_words(int(match['hour']), int(match['minute']), second, None)}"


def _speak_slash_date(match: re.Match[str]) -> str:
    first, second, year = int(match["first"]), int(match["second"]), int(match["year"])
    month, day = (second, first) if first > 12 >= second else (first, second)
    if not _is_valid_date(year, month, day):
        return match.group()
    return date_words(year, month, day)


def _speak_dotted_date(match: re.Match[str]) -> str:
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if not _is_valid_date(year, month, day):
        return match.group()
    return date_words(year, month, day)


def _speak_month_day(match: re.Match[str]) -> str:
    day, month = int(match["day"]), _month_number(match["month"])
    year = int(match["year"]) if match["year"] else None
    if not _is_valid_date(year or _ANY_LEAP_YEAR, month, day):
        return match.group()
    return date_words(year, month, day)


def _speak_day_month(match: re.Match[str]) -> str:
    day, month = int(match["day"]), _month_number(match["month"])
    if not _is_valid_date(int(match["year"] or _ANY_LEAP_YEAR), month, day):
        return match.group()
    article = match["article"].strip() if match["article"] else "the"
    words = f"{article} {_numbers.ordinal(day)} of {_MONTH_NAMES[month - 1]}"
    return words if match["year"] is None else f"{words}, {_numbers.year(int(match['year']))}"


def _speak_month_year(match: re.Match[str]) -> str:
    month = _MONTH_NAMES[_month_number(match["month"]) - 1]
    return f"{month} {_numbers.year(int(match['year']))}"


def time_words(hour: int, minute: int, second: int, am_pm: str | None) -> str:
    """Spell a clock time; ``am_pm`` is "a", "p" or ``None`` for a 24-hour time."""
    suffix = f" {am_pm.lower()} m" if am_pm else ""
    if am_pm and hour == 0:
        hour = 12
    if minute == 0 and am_pm:
        words = _numbers.cardinal(hour)
    elif minute == 0:
        words = _whole_hour(hour)
    else:
        words = f"{_numbers.cardinal(hour or 12)} {_minute_words(minute)}"
        suffix = suffix or (" a m" if hour == 0 else "")
    if second:
        words += f" and {_numbers.cardinal(second)} second{'s' if second != 1 else ''}"
    return words + suffix


def _whole_hour(hour: int) -> str:
    if hour == 0:
        return "midnight"
    if hour <= 12:
        return f"{_numbers.cardinal(hour)} o'clock"
    return f"{_numbers.cardinal(hour)} hundred"


def _minute_words(minute: int) -> str:
    return f"oh {_numbers.cardinal(minute)}" if minute < 10 else _numbers.cardinal(minute)


def _speak_duration(match: re.Match[str]) -> str:
    """Spell "2:30 min" as "two minutes and thirty seconds" and "1:15 h" as "one hour and fifteen minutes"."""
    major, minor = int(match["major"]), int(match["minor"])
    names = ("minute", "second") if match["unit"].startswith("min") else ("hour", "minute")
    words = f"{_numbers.cardinal(major)} {names[0]}{'' if major == 1 else 's'}"
    if minor:
        words += f" and {_numbers.cardinal(minor)} {names[1]}{'' if minor == 1 else 's'}"
    return words


def _speak_clock_time(match: re.Match[str]) -> str:
    hour, minute = int(match["hour"]), int(match["minute"])
    before = match.string[max(0, match.start() - 12) : match.start()]
    is_ratio = _RATIO_BEFORE.search(before) or _RATIO_AFTER.match(match.string, match.end())
    if is_ratio and not match["ampm"] and not match["second"]:
        return f"{_numbers.cardinal(hour)} to {_numbers.cardinal(minute)}"
    second = int(match["second"]) if match["second"] else 0
    am_pm = match["ampm"]
    if am_pm and hour > 12:
        am_pm = None
    return time_words(hour, minute, second, am_pm)


def _speak_hour_am_pm(match: re.Match[str]) -> str:
    return time_words(int(match["hour"]), 0, 0, match["ampm"])


_PASSES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_ISO_DATE, _speak_iso_date),
    (_SLASH_DATE, _speak_slash_date),
    (_DOTTED_DATE, _speak_dotted_date),
    (_MONTH_DAY, _speak_month_day),
    (_DAY_MONTH, _speak_day_month),
    (_MONTH_YEAR, _speak_month_year),
    (_DURATION, _speak_duration),
    (_CLOCK_TIME, _speak_clock_time),
    (_HOUR_AM_PM, _speak_hour_am_pm),
)
