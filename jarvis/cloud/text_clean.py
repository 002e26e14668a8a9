"""Unicode and markup cleaning shared by the input and output guards.

The order matters: NFKC first (folds full-width and mathematical letters to
ASCII), then invisible characters go, then look-alike letters are folded, so
every later check sees the letters a reader sees.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Characters that render as nothing but can hide or reorder text. Unicode category
# Cf (zero-width, bidi controls, tag characters, soft hyphen) is removed as a whole.
_INVISIBLE_EXTRA = frozenset(
    [
        0x034F,  # combining grapheme joiner
        0x115F, 0x1160, 0x3164, 0xFFA0,  # Hangul fillers
        0x2800,  # braille blank
        0x180B, 0x180C, 0x180D, 0x180F,  # Mongolian variation selectors
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0100, 0xE01F0),  # variation selectors supplement
    ]
)  # fmt: skip

# Cyrillic, Greek and Armenian letters that look like Latin ones (the common
# subset of Unicode's confusables list), plus Latin letters that pass as others.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "і": "i", "ј": "j", "к": "k", "о": "o", "р": "p", "с": "c",
        "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ү": "y",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Һ": "H", "Ӏ": "I", "Ԛ": "Q",
        "Ԝ": "W", "Ү": "Y",
        "α": "a", "ο": "o", "ρ": "p", "ι": "i", "κ": "k", "ν": "v", "υ": "u", "χ": "x", "ε": "e",
        "ϲ": "c", "ϳ": "j", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
        "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
        "օ": "o", "ս": "u", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ı": "i",
    }
)  # fmt: skip
_CONFUSABLE_CHARS = frozenset(chr(code) for code in _CONFUSABLES)

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})

_WORD = re.compile(r"\w+")
_SPACE_RUN = re.compile(r"[ \t]{2,}")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_DIGIT_AND_LETTER = re.compile(r"(?=\w*\d)(?=\w*[^\W\d_])\w+")

_BLOCKS = re.compile(
    r"<script\b.*?(?:</script\s*>|\Z)|<style\b.*?(?:</style\s*>|\Z)|<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]{0,500})?/?>|<![A-Za-z][^<>]{0,500}>|<\?[^<>]{0,500}\?>")
_BREAKING_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|td|th|h[1-6]|table|section|article|blockquote)\b", re.I)


def normalise(text: str) -> tuple[str, int]:
    """Apply NFKC and remove invisible characters; return the text and the count removed."""
    text = unicodedata.normalize("NFKC", text)
    kept = [char for char in text if not _is_invisible(char)]
    removed = len(text) - len(kept)
    return "".join(kept), removed


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or ord(char) in _INVISIBLE_EXTRA


def fold_confusables(text: str) -> tuple[str, int]:
    """Fold look-alike letters to Latin in words that mix them with Latin letters.

    Returns the text and the number of words folded. Words written wholly in
    Cyrillic or Greek stay as they are, so real Russian or Greek text survives.
    The injection check reads :func:`skeleton`, which folds those words too.
    """
    folded_words = 0

    def fold(match: re.Match[str]) -> str:
        nonlocal folded_words
        word = match.group(0)
        if not any(char in _CONFUSABLE_CHARS for char in word):
            return word
        if _ASCII_LETTER.search(word) is not None:
            folded_words += 1
            return word.translate(_CONFUSABLES)
        return word

    return _WORD.sub(fold, text), folded_words


def skeleton(text: str) -> str:
    """Return the lower-case shape of ``text`` that the injection check reads.

    Every look-alike is folded, even in real Cyrillic words, and digits standing
    for letters inside words ("1gn0re") become the letters.
    """
    text = text.translate(_CONFUSABLES)
    text = _DIGIT_AND_LETTER.sub(lambda match: match.group(0).translate(_LEET), text)
    return text.lower()


def remove_controls(text: str) -> tuple[str, int]:
    """Remove control characters except tab and newline; carriage returns become newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    kept = "".join(char for char in text if char in "\t\n" or unicodedata.category(char) != "Cc")
    return kept, len(text) - len(kept)


def strip_markup(text: str) -> tuple[str, int]:
    """Remove script and style blocks, comments and HTML/XML tags; return the text and the count removed.

    Entities are decoded first so that ``&lt;script&gt;`` cannot slip through as
    text and become a tag later. Tags that break a line become a space.
    """
    if "&" in text:
        text = html.unescape(text)
    text, blocks = _BLOCKS.subn(" ", text)
    text, tags = _TAG.subn(lambda match: " " if _BREAKING_TAG.match(match.group(0)) else "", text)
    return text, blocks + tags


def collapse_spaces(text: str) -> str:
    """Collapse runs of spaces and tabs to one space and trim each line's ends."""
    text = _SPACE_RUN.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n"))


def cut_at_word(text: str, max_chars: int) -> str:
    """Return ``text`` cut to at most ``max_chars`` characters, at a word boundary when one is near."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    if boundary >= max_chars * 0.8:
        head = head[:boundary]
    return head.rstrip()
