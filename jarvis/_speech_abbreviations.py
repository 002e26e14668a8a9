"""Expand common abbreviations so that they are read as words.

An abbreviation that can end a sentence ("etc.", "Inc.", "U.S.") keeps its
dot when the text ends there or a capital letter follows. It loses the dot
when lowercase text, a digit or other punctuation follows, so that the dot
does not become a false sentence end.
"""

from __future__ import annotations

import re

# The abbreviation's own dot, consumed only when the sentence clearly goes on.
_DOT = r"(?:\.(?=\s*[a-z0-9,;:!?)\]]))?"
_STREET_WORDS = {"St": "Street", "Dr": "Drive", "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard", "Ln": "Lane"}

_ADDRESS = re.compile(
    rf"(?P<address>\b\d+[A-Za-z]?\s+(?:[A-Z][A-Za-z]*\s+){{1,3}})(?P<abbr>{'|'.join(_STREET_WORDS)})\b{_DOT}"
)
_DOTTED_ACRONYM = re.compile(rf"(?<![\w.])(?P<body>[A-Za-z](?:\.[A-Za-z])+)(?![A-Za-z0-9]){_DOT}")

_ABBREVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"\b[Ee]\.\s?g\.(?=[\s,:;)]|$)", "for example"),
        (r"\b[Ii]\.\s?e\.(?=[\s,:;)]|$)", "that is"),
        (rf"\betc\b{_DOT}", "et cetera"),
        (r"\b[Vv]s\b\.?", "versus"),
        (r"\b[Aa]pprox\b\.?", "approximately"),
        (r"\bca\.(?=\s*\d)", "circa"),
        (r"\bcf\.", "compare"),
        (r"\bincl\.", "including"),
        (r"\bexcl\.", "excluding"),
        (r"\b(?:a\.k\.a\.|aka\b)", "also known as"),
        (r"\bw/o\b", "without"),
        (r"\bw/(?=\s)", "with"),
        (r"\bPh\.\s?D\b\.?", "P h D"),
        (r"\bSt\b\.?(?=\s+[A-Z])", "Saint"),
        (rf"\bSt\b{_DOT}", "Street"),
        (r"\bDr\b\.?", "Doctor"),
        (r"\bMrs\b\.?", "Missus"),
        (r"\bMr\b\.?", "Mister"),
        (r"\bMs\b\.?", "Miz"),
        (r"\bProf\b\.?", "Professor"),
        (r"\bMt\b\.?(?=\s+[A-Z])", "Mount"),
        (rf"\bJr\b{_DOT}", "Junior"),
        (rf"\bSr\b{_DOT}", "Senior"),
        (rf"\bInc\b{_DOT}", "Incorporated"),
        (rf"\bLtd\b{_DOT}", "Limited"),
        (rf"\bCorp\b{_DOT}", "Corporation"),
        (r"\b[Nn]o\.\s?(?=\d)", "number "),
        (r"\b[Nn]os\.\s?(?=\d)", "numbers "),
        (r"\b[Ff]ig\.\s?(?=\d)", "figure "),
        (r"\b[Vv]ol\.\s?(?=\d)", "volume "),
        (r"\bpp\.\s?(?=\d)", "pages "),
        (r"\bp\.\s?(?=\d)", "page "),
    )
)


def expand_abbreviations(text: str) -> str:
    """Replace the abbreviations in ``text`` with the words they stand for."""
    text = _ADDRESS.sub(lambda match: match["address"] + _STREET_WORDS[match["abbr"]], text)
    for pattern, words in _ABBREVIATIONS:
        text = pattern.sub(words, text)
    return _DOTTED_ACRONYM.sub(lambda match: match["body"].replace(".", " "), text)
