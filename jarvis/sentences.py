"""Split streamed answer text into sentences so that speech can start early.

A sentence ends at ``.``, ``!``, ``?`` or an ellipsis followed by whitespace,
and at every line break. A full stop is not a sentence end after a known
abbreviation (``Dr.``, ``e.g.``, ``vs.``), after a single-letter initial
(``J. R. R. Tolkien``), after a numbered list marker at the start of a line
(``1. ``), or when the next word starts in lowercase. Dots inside decimals,
URLs and e-mail addresses are never followed by whitespace, so they never
end a sentence. A fenced code block is returned whole, as one piece, so that
the speech step can replace it.

NOTE: an indented code block (four spaces, no fence) is split line by line
like prose, so its lines reach the speech step one at a time.

Deciding whether a full stop ends a sentence needs the next non-space
character, so a sentence ending in "." is returned one token late. A
sentence ending in "!" or "?" is returned as soon as a space follows.

The split does not depend on how the text is cut into deltas: feeding
the whole text at once or one character at a time returns the same pieces.
"""

from __future__ import annotations

import functools
import re

from jarvis.errors import ConfigError

__all__ = ["DEFAULT_MAX_CHARS", "SentenceSplitter", "split_sentences"]

DEFAULT_MAX_CHARS = 200

_CLOSERS = "\"'\u201d\u2019)\\]*_"
_CANDIDATE = re.compile(
    rf"(?P<newline>\n)|(?P<terminal>[.!?\u2026]+[{_CLOSERS}]*)|(?P<clause>(?:[,;:]|\s\u2014)[{_CLOSERS}]*)"
)
_CLAUSE_END = re.compile(rf"(?:[,;:]|\s\u2014)[{_CLOSERS}]*(?=\s)")
_WHITESPACE_RUN = re.compile(r"\s")
_NOT_SPACE = re.compile(r"\S")
_LEADING_OPENERS = "\"'\u201c\u2018([*_"
_FENCE_START = re.compile(r"`{3,}|~{3,}")
_DOTTED_ACRONYM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")

# Abbreviations whose full stop never ends a sentence (compared in lowercase, without the dot).
_NEVER_END = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "st",
        "mt",
        "vs",
        "e.g",
        "i.e",
        "cf",
        "approx",
        "ca",
        "fig",
        "figs",
        "vol",
        "pp",
        "sgt",
        "capt",
        "col",
        "gen",
        "lt",
        "rev",
        "hon",
    ]
)
# Abbreviations that end a sentence only when a capital letter or other
# non-alphanumeric character follows: "etc. Then" but "etc. and", "Jan. 5".
_END_BEFORE_CAPITAL = frozenset(
    [
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "jr",
        "sr",
        "a.m",
        "p.m",
        "no",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)


class SentenceSplitter:
    """Split a stream of text deltas into sentences.

    ``max_chars`` is the maximum length of a piece. A longer sentence is cut
    at the last comma, semicolon, colon or dash within that length, or else
    at the last space, so that speech can start before the sentence ends.
    A single word longer than ``max_chars`` is not cut.

    ``first_chunk_min_chars`` (default ``None``, off) lets the very first
    piece end at a comma, semicolon, colon or dash once it is at least that
    many characters long, which shortens the time to the first audio.

    Raises :class:`~jarvis.errors.ConfigError` when either limit is below 1.
    """

    def __init__(self, *, max_chars: int = DEFAULT_MAX_CHARS, first_chunk_min_chars: int | None = None) -> None:
        if max_chars < 1:
            raise ConfigError(f"max_chars must be at least 1 character, got {max_chars}")
        if first_chunk_min_chars is not None and first_chunk_min_chars < 1:
            raise ConfigError(
                f"first_chunk_min_chars must be at least 1 character, got {first_chunk_min_chars}; "
                "use None to turn early first pieces off"
            )
        self._max_chars = max_chars
        self._first_chunk_min_chars = first_chunk_min_chars
        self._reset()

    def _reset(self) -> None:
        self._buffer = ""
        self._buffer_at_line_start = True
        self._returned_any = False
        # Where the next search for a closing fence or for a space after an
        # overlong word resumes, so that a long block is not rescanned on every delta.
        self._resume_at = 0

    def feed(self, delta: str) -> list[str]:
        """Add ``delta`` and return the sentences that are now complete."""
        self._buffer += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """Return everything still held, as sentences, and get ready for a new stream."""
        pieces = self._drain(final=True)
        rest = self._buffer.strip()
        if rest:
            pieces.append(rest)
        self._reset()
        return pieces

    def _drain(self, *, final: bool) -> list[str]:
        pieces: list[str] = []
        while (cut := self._next_cut(final)) is not None:
            piece = self._buffer[:cut].strip()
            self._buffer_at_line_start = self._at_line_start(cut)
            self._buffer = self._buffer[cut:]
            self._resume_at = 0
            if piece:
                pieces.append(piece)
                self._returned_any = True
        return pieces

    def _at_line_start(self, index: int) -> bool:
        """Tell whether only spaces or tabs stand between a line break and ``index``."""
        cursor = index - 1
        while cursor >= 0 and self._buffer[cursor] in " \t":
            cursor -= 1
        return self._buffer_at_line_start if cursor < 0 else self._buffer[cursor] == "\n"

    def _next_cut(self, final: bool) -> int | None:
        """Return the end of the next complete piece, or ``None`` until more text arrives."""
        start_match = _NOT_SPACE.search(self._buffer)
        if start_match is None:
            return None
        start = start_match.start()
        if self._at_line_start(start):
            fence = _FENCE_START.match(self._buffer, start)
            if fence is not None:
                return self._fence_end(fence, final)
            if not final and self._fence_may_start(start):
                return None

        limit = start + self._max_chars
        for match in _CANDIDATE.finditer(self._buffer, start, limit + 1):
            if match.end() > limit:
                break
            decision = self._decide(match, start, final)
            if decision is None:
                return None
            if decision:
                return match.start() if match["newline"] else match.end()
        else:
            if len(self._buffer) <= limit:
                return None
        return self._forced_cut(start, limit)

    def _decide(self, match: re.Match[str], start: int, final: bool) -> bool | None:
        """Tell whether ``match`` ends a piece; ``None`` means the text after it is still missing."""
        if match["newline"]:
            return True
        if match["clause"]:
            if self._returned_any or self._first_chunk_min_chars is None:
                return False
            if match.end() - start < self._first_chunk_min_chars:
                return False
        end = match.end()
        if end == len(self._buffer):
            # At the very end of the text only a sentence mark ends a piece.
            return bool(match["terminal"]) if final else None
        if not self._buffer[end].isspace():
            return False
        if match["clause"]:
            return True
        return self._ends_sentence(match, start, final)

    def _ends_sentence(self, match: re.Match[str], start: int, final: bool) -> bool | None:
        marks = match["terminal"].rstrip(_CLOSERS)
        if "!" in marks or "?" in marks:
            return True
        following = _NOT_SPACE.search(self._buffer, match.end())
        if following is None:
            return True if final or "\n" in self._buffer[match.end() :] else None
        if "\n" in self._buffer[match.end() : following.start()]:
            return True
        next_char = following.group()
        if len(marks) > 1 or "\u2026" in marks:
            return not next_char.islower()
        token_start = self._buffer.rfind(" ", 0, match.start()) + 1
        token_start = max(token_start, self._buffer.rfind("\n", 0, match.start()) + 1)
        token = self._buffer[token_start : match.start()]
        may_be_list_marker = token_start == start or self._at_line_start(token_start)
        return _full_stop_ends_sentence(token, next_char, may_be_list_marker)

    def _fence_may_start(self, start: int) -> bool:
        """Tell whether the buffer ends in one or two backticks or tildes that may grow into a fence."""
        head = self._buffer[start:]
        return len(head) < 3 and set(head) in ({"`"}, {"~"})

    def _fence_end(self, fence: re.Match[str], final: bool) -> int | None:
        """Return the end of the closing fence line, or ``None`` while the block is still open."""
        opening_end = self._buffer.find("\n", fence.end())
        if opening_end < 0:
            return None
        for match in _closing_fence(fence.group()).finditer(self._buffer, max(opening_end, self._resume_at)):
            if match.end() < len(self._buffer) or final:
                return match.end()
        # Every complete line before the last line break has been checked.
        self._resume_at = self._buffer.rfind("\n")
        return None

    def _forced_cut(self, start: int, limit: int) -> int | None:
        """Cut a sentence longer than ``max_chars`` at its last clause end or space within the limit.

        A first word longer than the limit is cut at the first space after it,
        or not at all while no space has arrived.
        """
        window = self._buffer[start : limit + 1]
        clause_ends = [match.end() for match in _CLAUSE_END.finditer(window)]
        if clause_ends:
            return start + clause_ends[-1]
        spaces = [match.start() for match in _WHITESPACE_RUN.finditer(window, 1)]
        if spaces:
            return start + spaces[-1]
        after = _WHITESPACE_RUN.search(self._buffer, max(limit, self._resume_at))
        if after is None:
            self._resume_at = len(self._buffer)
            return None
        return after.start()


@functools.lru_cache(maxsize=16)
def _closing_fence(opening: str) -> re.Pattern[str]:
    """Return a pattern for a line that closes a block opened by ``opening`` (same character, as long or longer)."""
    return re.compile(rf"\n[ \t]{{0,3}}{re.escape(opening[0])}{{{len(opening)},}}[ \t]*(?=\n|\Z)")


def _full_stop_ends_sentence(token: str, next_char: str, may_be_list_marker: bool) -> bool:
    """Tell whether a full stop after ``token`` ends a sentence, given the next non-space character.

    ``may_be_list_marker`` is true when ``token`` starts a line or a piece, where "1." numbers a list item.
    """
    core = token.lstrip(_LEADING_OPENERS)
    lowered = core.lower()
    if may_be_list_marker and core.isdigit() and len(core) <= 3:
        return False
    if len(core) == 1 and core.isalpha():
        return False
    if lowered in _NEVER_END:
        return False
    if lowered == "no":
        return not next_char.isdigit()
    if lowered in _END_BEFORE_CAPITAL or _DOTTED_ACRONYM.match(core):
        return not (next_char.islower() or next_char.isdigit())
    return not next_char.islower()


def split_sentences(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Split a whole text into sentences by the same rules as :class:`SentenceSplitter`."""
    splitter = SentenceSplitter(max_chars=max_chars)
    return splitter.feed(text) + splitter.flush()
