"""Turn an answer into plain English that a neural TTS voice can read aloud.

Piper reads characters literally, so :func:`make_speakable` rewrites
everything a listener would otherwise hear as noise:

- Markdown is unwrapped; code blocks become "I've skipped a code block here."
- A web address is read as its host name ("docs dot python dot org"); the
  scheme, path and query are dropped because they are noise when heard.
  An e-mail address is read as "name at example dot com".
- Emoji and pictographs are removed; symbols become words ("&" -> "and").
- Numbers, money, dates, times, units and common abbreviations are spelled.
  Slash dates are read as US month/day/year unless the first number cannot
  be a month; ``jarvis._speech_dates`` lists the date and time rules.

The result is one line with collapsed whitespace that ends with sentence
punctuation, or "" when nothing speakable is left.
"""

from __future__ import annotations

import html
import re
import unicodedata

from jarvis._speech_abbreviations import expand_abbreviations
from jarvis._speech_dates import speak_dates_and_times
from jarvis._speech_markdown import markdown_to_prose
from jarvis._speech_quantities import speak_quantities
from jarvis._speech_symbols import speak_symbols
from jarvis._speech_web import speak_web_addresses

__all__ = ["make_speakable"]

_INVISIBLE = re.compile("[\u200b\u200c\u2060\ufeff\u00ad]")
_LINE_SEPARATORS = re.compile("\r\n?|[\u2028\u2029\x85]")
_ODD_SPACE = re.compile(r"[^\S\n\t ]")  # no-break, thin, ideographic and other spaces
_DEGREE_SIGNS = (("℃", "°C"), ("℉", "°F"), ("º", "°"))
_DEGREE_SPACE = re.compile(r"°\s+(?=[CF]\b)")

# Emoji, pictographs, dingbats, shapes, box drawing, keycaps and their modifiers.
_PICTOGRAPHS = re.compile(
    "[\U0001f000-\U0001faff\U0001fc00-\U0001ffff\u2300-\u23ff\u2500-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\u3030\u303d\u3297\u3299\ufe00-\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
# Unicode categories never worth reading: other symbols, private use,
# unassigned, surrogates, and control and format characters.
_DROPPED_CATEGORIES = frozenset({"So", "Co", "Cn", "Cs", "Cc", "Cf"})

_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<!\s)\s+(?=[,.;:!?)\]](?!\w))")
_SPACE_AFTER_OPENING = re.compile(r"(?<=[(\[])\s+")
_COMMA_BEFORE_WORD = re.compile(r",(?=[^\W\d_])")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,.;:]*\s*\)|\[\s*\]|\"\s*\"")
_PUNCTUATION_RUN = re.compile(r"[.!?,;:\u2026](?:\s*[.!?,;:\u2026])+")
_LEADING_PUNCTUATION = re.compile(r"^[\s.!?,;:)\]]+")
_TERMINAL = re.compile(r"[.!?][\"')\]]*$")
_TRAILING_SOFT_PUNCTUATION = re.compile(r"[,;:\-\s]+$")
_WHITESPACE = re.compile(r"\s+")
_HAS_WORD = re.compile(r"[^\W_]")


def make_speakable(text: str) -> str:
    """Return ``text`` as plain speakable English, or "" when nothing speakable remains.

    The rules are listed in the module docstring. No ``str`` input makes it
    raise, which a property test over arbitrary text checks.
    """
    text = _normalise(text)
    text = markdown_to_prose(text)
    text = speak_web_addresses(text)
    text = _PICTOGRAPHS.sub(" ", text)
    text = speak_dates_and_times(text)
    text = expand_abbreviations(text)
    text = speak_quantities(text)
    text = speak_symbols(text)
    return _tidy(text)


def _normalise(text: str) -> str:
    text = _LINE_SEPARATORS.sub("\n", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _ODD_SPACE.sub(" ", text)
    for glyph, replacement in _DEGREE_SIGNS:
        text = text.replace(glyph, replacement)
    return _DEGREE_SPACE.sub("°", text)


def _tidy(text: str) -> str:
    """Drop unreadable characters, collapse whitespace and punctuation, and end the sentence."""
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES or ch in "\n\t")
    text = _EMPTY_BRACKETS.sub(" ", text)
    text = _WHITESPACE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    text = _SPACE_AFTER_OPENING.sub("", text)
    text = _COMMA_BEFORE_WORD.sub(", ", text)
    text = _PUNCTUATION_RUN.sub(_merge_punctuation, text)
    text = _LEADING_PUNCTUATION.sub("", text).strip()
    if not _HAS_WORD.search(text):
        return ""
    if not _TERMINAL.search(text):
        text = _TRAILING_SOFT_PUNCTUATION.sub("", text) + "."
    return text


def _merge_punctuation(match: re.Match[str]) -> str:
    """Reduce a run of punctuation to the strongest mark: "?!" -> "?", ",." -> ".", "...." -> "..."."""
    marks = match.group().replace(" ", "")
    if "?" in marks:
        return "?"
    if "!" in marks:
        return "!"
    if marks.count(".") >= 3 or "\u2026" in marks:
        return "..."
    if "." in marks:
        return "."
    return marks[-1] if marks[-1] in ";:" else ","
