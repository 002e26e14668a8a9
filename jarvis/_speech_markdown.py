"""Turn Markdown into plain lines of prose for speech.

Block syntax (headings, lists, quotes, tables, rules, code) is handled line
by line; every block line ends up as its own sentence. Inline syntax
(emphasis, code spans, links, images, HTML tags) is unwrapped to its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CODE_BLOCK_PHRASE = "I've skipped a code block here."

# A fenced block runs to its closing fence. An unclosed fence runs to the end
# of the text, because a streamed chunk may stop inside a block.
_FENCED_CODE = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[^\n]*(?:\n.*?^[ \t]{0,3}(?P=fence)[`~]*[ \t]*(?:\n|\Z)|\n.*\Z|\Z)",
    re.MULTILINE | re.DOTALL,
)
_INDENTED_CODE = re.compile(r"(?<=\n\n)(?:(?: {4}|\t)[^\n]*(?:\n|\Z)|[ \t]*\n(?=(?: {4}|\t)))+")
_REPEATED_CODE_PHRASE = re.compile(rf"(?:{re.escape(CODE_BLOCK_PHRASE)}\s*){{2,}}")

_HORIZONTAL_RULE = re.compile(r"^ {0,3}([-*_=])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_DIVIDER = re.compile(r"\|?(?::?-+:?\|)*:?-+:?\|?")  # matched against the line without spaces or tabs
_SPACES_AND_TABS = re.compile(r"[ \t]+")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")  # a pipe that is not escaped
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
_QUOTE_MARKER = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+\u2022\u25e6\u2023]|\d{1,3}[.)]|[a-z]\))[ \t]+(?:\[[ xX]\][ \t]+)?")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]+\S+.*$")

# Link texts exclude "[" so that a line full of brackets is scanned in linear time.
_IMAGE = re.compile(r"!\[[^\[\]\n]*\](?:\([^()\n]*\)|\[[^\[\]\n]*\])")
_INLINE_LINK = re.compile(r"\[([^\[\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_REFERENCE_LINK = re.compile(r"\[([^\[\]\n]+)\]\[[^\[\]\n]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]\n]+\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+|[^>\s@]+@[^>\s@]+)>")
_CODE_SPAN = re.compile(r"(?<!`)(`{1,3})(?!`)(.+?)(?<!`)\1(?!`)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])")
_STRIKETHROUGH = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_LINE_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_ESCAPED_CHAR = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")

_SENTENCE_END = re.compile(r"[.!?:;\u2026][\"')\]\u201d\u2019*_]*$")
_STARTS_LOWERCASE = re.compile(r"^[ \t]*[a-z]")


def markdown_to_prose(text: str) -> str:
    """Return ``text`` without Markdown syntax, one sentence-ended line per block line."""
    text = _FENCED_CODE.sub(f"\n\n{CODE_BLOCK_PHRASE}\n\n", text)
    text = _INDENTED_CODE.sub(f"{CODE_BLOCK_PHRASE}\n\n", text)
    text = _REPEATED_CODE_PHRASE.sub(f"{CODE_BLOCK_PHRASE}\n\n", text)
    text = _LINE_BREAK_TAG.sub("\n", text)

    lines: list[_Line] = []
    for raw in text.split("\n"):
        line = _block_line(raw)
        if line is not None:
            lines.append(_Line(_inline(line.text).strip(), line.plain))
    return "\n".join(_end_sentences(lines))


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of text; ``plain`` is false for headings, list items and table rows."""

    text: str
    plain: bool


def _block_line(line: str) -> _Line | None:
    """Strip the block syntax of one line; ``None`` marks a line that is not read at all."""
    if _HORIZONTAL_RULE.match(line) or _TABLE_DIVIDER.fullmatch(_SPACES_AND_TABS.sub("", line)):
        return None
    if _LINK_DEFINITION.match(line):
        return None
    heading = _HEADING.match(line)
    if heading:
        return _Line(heading.group("text"), plain=False)
    line = _QUOTE_MARKER.sub("", line)
    if _TABLE_ROW.match(line):
        return _Line(_table_row(line), plain=False)
    unmarked = _LIST_MARKER.sub("", line)
    return _Line(unmarked, plain=unmarked == line)


def _table_row(line: str) -> str:
    cells = [cell.strip() for cell in _CELL_SEPARATOR.split(line)]
    return ", ".join(cell for cell in cells if cell)


def _inline(line: str) -> str:
    line = _IMAGE.sub("", line)
    line = _INLINE_LINK.sub(r"\1", line)
    line = _REFERENCE_LINK.sub(r"\1", line)
    line = _FOOTNOTE_REF.sub("", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _CODE_SPAN.sub(lambda match: match.group(2).strip(), line)
    line = _HTML_TAG.sub("", line)
    line = _STRIKETHROUGH.sub(r"\1", line)
    for _ in range(2):  # twice, for emphasis nested in strong text
        line = _STRONG.sub(r"\2", line)
        line = _EMPHASIS_STAR.sub(r"\1", line)
        line = _EMPHASIS_UNDERSCORE.sub(r"\1", line)
    return _ESCAPED_CHAR.sub(r"\1", line)


def _end_sentences(lines: list[_Line]) -> list[str]:
    """End each line with sentence punctuation unless a plain line wraps into a lowercase plain line."""
    ended: list[str] = []
    for index, line in enumerate(lines):
        text = line.text
        following = lines[index + 1] if index + 1 < len(lines) else None
        wraps = (
            line.plain
            and following is not None
            and following.plain
            and _STARTS_LOWERCASE.match(following.text) is not None
        )
        if text and not wraps and not _SENTENCE_END.search(text):
            text += "."
        ended.append(text)
    return ended
