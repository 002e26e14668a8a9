"""Deterministic local skills: requests a small model gets wrong, answered exactly.

Each skill matches a normalised transcript and returns a reply, or None to
let the next tier try. Skills run on the event loop: they must stay cheap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from jarvis.brain.spoken_numbers import format_number, parse_number

Clock = Callable[[], datetime]
SkillAction = Literal["none", "stop", "repeat"]


@dataclass(frozen=True, slots=True)
class SkillReply:
    """A skill's answer; ``action`` asks the assistant to stop speaking or repeat itself."""

    skill: str
    text: str
    action: SkillAction = "none"


def normalise_request(text: str) -> str:
    """Lower-case a transcript and trim the punctuation Whisper adds around it."""
    lowered = text.lower().replace("’", "'").strip()
    lowered = re.sub(r"[\s,;:!?.]+$", "", lowered)
    lowered = re.sub(r"^[\s,;:!?.]+", "", lowered)
    return re.sub(r"\s+", " ", lowered)


_POLITE = r"(?:please\s+|hey\s+|jarvis\s*,?\s*|can you\s+|could you\s+|would you\s+)*"
_TIME = re.compile(
    _POLITE + r"(?:what(?:'s| is) the time|what time is it|what time it is|tell me the time|"
    r"(?:what is |what's )?the (?:current )?time(?: now)?|do you (?:know|have) the time|current time)"
    r"(?: now| right now)?(?: please)?$"
)
_DATE = re.compile(
    _POLITE + r"(?:what(?:'s| is) (?:the date|today's date|the date today)|what day is (?:it|today)|"
    r"what date is (?:it|today)|tell me the date|today's date|what is today)(?: today)?(?: please)?$"
)
_STOP = re.compile(
    r"(?:jarvis\s*,?\s*)?(?:stop|cancel|never ?mind|be quiet|quiet|shut up|silence|that's enough|enough)$"
)
_REPEAT = re.compile(
    _POLITE
    + r"(?:repeat(?: that| yourself| it)?|say (?:that|it) again|what did you (?:just )?say|come again|pardon)"
    + r"(?: please)?$"
)

_NUMBER = r"[-−]?[\w.,]+(?:[ -][\w.,]+)*?"
_BINARY_OPERATORS: dict[str, Callable[[float, float], float]] = {
    "plus": lambda a, b: a + b,
    "+": lambda a, b: a + b,
    "and": lambda a, b: a + b,
    "minus": lambda a, b: a - b,
    "-": lambda a, b: a - b,
    "times": lambda a, b: a * b,
    "multiplied by": lambda a, b: a * b,
    "x": lambda a, b: a * b,
    "*": lambda a, b: a * b,
    "×": lambda a, b: a * b,
    "divided by": lambda a, b: a / b,
    "over": lambda a, b: a / b,
    "/": lambda a, b: a / b,
    "÷": lambda a, b: a / b,
    "to the power of": lambda a, b: a**b,
    "percent of": lambda a, b: a / 100 * b,
    "% of": lambda a, b: a / 100 * b,
}
_OPERATOR_WORDS = {
    "+": "plus",
    "-": "minus",
    "x": "times",
    "*": "times",
    "×": "times",
    "/": "divided by",
    "÷": "divided by",
}
_ARITHMETIC_PREFIX = re.compile(
    r"^(?:(?:what|how much)(?:'s| is| are)|calculate|compute|work out|tell me|what do you get for)\s+", re.IGNORECASE
)
_OPERATOR_PATTERN = re.compile(
    r"(?:^|(?<=[\s\d]))("
    + "|".join(re.escape(op) for op in sorted(_BINARY_OPERATORS, key=len, reverse=True))
    + r")(?=[\s\d-]|$)"
)
_SQUARE_ROOT = re.compile(r"^(?:the )?square root of (?P<a>" + _NUMBER + r")$")
_POWER_WORD = re.compile(r"^(?P<a>" + _NUMBER + r") (?P<power>squared|cubed)$")
_MAX_RESULT = 1e15


class SkillSet:
    """The ordered local skills. ``clock`` returns the local time (injected in tests)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or (lambda: datetime.now().astimezone())

    def answer(self, text: str) -> SkillReply | None:
        """Return the first skill's reply to ``text``, or None when no skill applies."""
        request = normalise_request(text)
        if not request:
            return None
        for skill in (self._stop, self._repeat, self._time, self._date, self._arithmetic):
            reply = skill(request)
            if reply is not None:
                return reply
        return None

    def _stop(self, request: str) -> SkillReply | None:
        return SkillReply("stop", "", action="stop") if _STOP.match(request) else None

    def _repeat(self, request: str) -> SkillReply | None:
        return SkillReply("repeat", "", action="repeat") if _REPEAT.match(request) else None

    def _time(self, request: str) -> SkillReply | None:
        if not _TIME.match(request):
            return None
        now = self._clock()
        hour = now.hour % 12 or 12
        suffix = "AM" if now.hour < 12 else "PM"
        return SkillReply("time", f"It's {hour}:{now.minute:02d} {suffix}.")

    def _date(self, request: str) -> SkillReply | None:
        if not _DATE.match(request):
            return None
        now = self._clock()
        return SkillReply("date", f"Today is {now:%A}, {now:%B} {now.day}, {now.year}.")

    def _arithmetic(self, request: str) -> SkillReply | None:
        expression = _ARITHMETIC_PREFIX.sub("", request).strip()
        if expression == request and not re.search(r"\d|square root|squared|cubed", request):
            return None
        return _evaluate(expression)


def _evaluate(expression: str) -> SkillReply | None:
    expression = expression.replace("−", "-").strip()
    if match := _SQUARE_ROOT.match(expression):
        value = parse_number(match["a"])
        if value is None:
            return None
        if value < 0:
            return SkillReply("arithmetic", "A negative number has no real square root.")
        return _result(f"The square root of {format_number(value)}", math.sqrt(value))
    if match := _POWER_WORD.match(expression):
        value = parse_number(match["a"])
        if value is None:
            return None
        exponent = 2 if match["power"] == "squared" else 3
        return _result(f"{format_number(value)} {match['power']}", value**exponent)
    # Try every operator position: "one hundred and five minus five" must split at "minus", not "and".
    for match in _OPERATOR_PATTERN.finditer(expression):
        left, right = expression[: match.start()].strip(), expression[match.end() :].strip()
        if left and right and parse_number(left) is not None and parse_number(right) is not None:
            return _evaluate_binary(left, match.group(1), right)
    return None


def _evaluate_binary(left_text: str, operator: str, right_text: str) -> SkillReply | None:
    left, right = parse_number(left_text), parse_number(right_text)
    if left is None or right is None:
        return None
    if operator == "and":
        # "what is two and two" is addition; "a and b" without numbers on both sides never got here.
        operator = "plus"
    spoken = f"{format_number(left)} {_OPERATOR_WORDS.get(operator, operator)} {format_number(right)}"
    try:
        value = _BINARY_OPERATORS[operator](left, right)
    except ZeroDivisionError:
        return SkillReply("arithmetic", "I can't divide by zero.")
    except OverflowError:
        return SkillReply("arithmetic", "That number is too large for me to say.")
    return _result(spoken, value)


def _result(spoken_question: str, value: float | complex) -> SkillReply:
    if isinstance(value, complex) or math.isnan(value):
        return SkillReply("arithmetic", "That has no real answer.")
    if math.isinf(value) or abs(value) >= _MAX_RESULT:
        return SkillReply("arithmetic", "That number is too large for me to say.")
    return SkillReply("arithmetic", f"{spoken_question} is {format_number(value)}.")
