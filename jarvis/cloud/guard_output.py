"""Make a provider's answer safe and fit to speak, whole or while it streams.

The answer is cut into segments at safe cuts: a whitespace character followed
by a non-whitespace one, where no construct that may contain whitespace is
still open (a tag, a script, style or comment block, a PEM block, a markdown
link's text, or a secret's label such as ``Bearer`` waiting for its value).
Secrets, the canary and URLs contain no whitespace, so a cut can never split
one. Each segment is cleaned on its own, and a small state machine collapses
whitespace across segments.

:meth:`OutputFilter.filter` runs the same :class:`StreamFilter` over the whole
text, so the streamed output equals the filtered whole for every way the text
is split into deltas. A stream holds back at most the open construct plus the
last word.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from urllib.parse import urlsplit

import structlog

from jarvis.cloud.config import GuardSettings
from jarvis.cloud.secret_shapes import SECRET_LABEL_TAIL, remove_secrets
from jarvis.cloud.text_clean import strip_markup

_log = structlog.get_logger(__name__)

_CUT_CANDIDATE = re.compile(r"\s(?=\S)")
_BLOCK_OPENER = re.compile(r"<script\b|<style\b|<!--|<!\[CDATA\[|-----BEGIN ", re.IGNORECASE)
_BLOCK_CLOSERS = {
    "<script": re.compile(r"</script\s*>", re.IGNORECASE),
    "<style": re.compile(r"</style\s*>", re.IGNORECASE),
    "<!--": re.compile(r"-->"),
    "<![cdata[": re.compile(r"\]\]>"),
    "-----begin ": re.compile(r"-----END [A-Z0-9 ]*-----"),
}
_PEM_BLOCK = re.compile(r"-----BEGIN .*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.DOTALL)
_OPEN_TAG = re.compile(r"<[A-Za-z/!?][^<>]{0,520}\Z")
_OPEN_LINK_TEXT = re.compile(r"\[[^\[\]\n]{0,300}\Z")

# A link target may contain one level of balanced brackets, as in Wikipedia URLs.
_LINK_TARGET = r"((?:[^()\s]|\([^()\s]*\))*)"
_MARKDOWN_IMAGE = re.compile(r"!\[[^\[\]\n]{0,300}\]\(" + _LINK_TARGET + r"\)")
_MARKDOWN_LINK = re.compile(r"\[([^\[\]\n]{0,300})\]\(" + _LINK_TARGET + r"\)")
_UNSAFE_SCHEME = re.compile(r"(?i)\b(?:javascript|vbscript):\S*|\bdata:[\w/+.-]+[;,]\S*|\bfile:/\S*")
_BARE_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'()\[\]]+")
_URL_TRAILING_PUNCTUATION = ".,;:!?"
_UNSAFE_TARGET = re.compile(r"(?i)^\s*(?:javascript|vbscript|data|file):")

_EMPHASIS = re.compile(r"\*\*|__|~~|`+|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")
_LINE_MARKER = re.compile(r"(?<=\n)[ \t]*(?:#{1,6}[ \t]+|[-*+•][ \t]+|>[ \t]?)")
_HORIZONTAL_RULE = re.compile(r"(?<=\n)[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*(?=\n|\Z)")


def make_canary() -> str:
    """Return a fresh random token to plant in the system prompt; seeing it in an answer means a prompt leak."""
    return f"cnr{secrets.token_hex(12)}"


class OutputFilter:
    """Apply the output rules of :class:`GuardSettings` to answers, using ``canary`` to detect prompt leaks."""

    def __init__(self, settings: GuardSettings, canary: str) -> None:
        if not canary or any(char.isspace() for char in canary):
            raise ValueError("the canary must be a non-empty token without whitespace; use make_canary()")
        self._settings = settings
        self._canary = re.compile(re.escape(canary), re.IGNORECASE)

    def filter(self, text: str) -> str:
        """Return the whole answer ``text`` cleaned and fit to speak."""
        stream = self.stream_filter()
        return stream.feed(text) + stream.finish()

    def stream_filter(self) -> StreamFilter:
        """Return a filter for one streamed answer."""
        return StreamFilter(self._settings.link_policy, self._canary)


class StreamFilter:
    """Clean one streamed answer delta by delta, holding back text that could still be part of a construct."""

    def __init__(self, link_policy: str, canary: re.Pattern[str]) -> None:
        self._link_policy = link_policy
        self._canary = canary
        self._pending = ""
        self._scan_from = 0
        self._line_start = True
        self._spacer = _WhitespaceCollapser()
        self._finished = False
        self.leaks = 0
        """Times the canary appeared in this answer."""
        self.secrets_removed = 0

    def feed(self, delta: str) -> str:
        """Add ``delta`` and return the text that is safe to emit now."""
        if self._finished:
            raise RuntimeError("feed() called after finish(); use a new stream_filter() for each answer")
        self._pending += _clean_chars(delta)
        emitted: list[str] = []
        while (cut := self._next_cut()) is not None:
            emitted.append(self._emit(self._pending[:cut], final=False))
            self._pending = self._pending[cut:]
            self._scan_from = 0
        return "".join(emitted)

    def finish(self) -> str:
        """Return the rest of the answer once the stream has ended."""
        if self._finished:
            return ""
        self._finished = True
        rest = self._emit(self._pending, final=True) if self._pending else ""
        self._pending = ""
        return rest

    def _next_cut(self) -> int | None:
        """Return the first safe cut in the pending text, or None when every candidate is still open."""
        while (candidate := _CUT_CANDIDATE.search(self._pending, self._scan_from)) is not None:
            cut = candidate.end()
            self._scan_from = cut
            if not _is_open(self._pending[:cut]):
                return cut
        return None

    def _emit(self, segment: str, *, final: bool) -> str:
        cleaned = self._clean_segment(segment, final=final)
        self._line_start = "\n" in segment[len(segment.rstrip()) :]
        return self._spacer.feed(cleaned)

    def _clean_segment(self, segment: str, *, final: bool) -> str:
        # A leading newline or space tells the line-start rules where the segment sits.
        prefix = "\n" if self._line_start else " "
        text = self._remove_leaks(prefix + segment)
        text = _PEM_BLOCK.sub(" ", text)
        text = _MARKDOWN_IMAGE.sub("", text)
        text = _MARKDOWN_LINK.sub(self._replace_link, text)
        text, _ = strip_markup(text)
        if final:
            text = _OPEN_TAG.sub("", text)
        text = self._remove_leaks(text)
        text = _UNSAFE_SCHEME.sub("", text)
        text = _BARE_URL.sub(self._replace_url, text)
        text = _HORIZONTAL_RULE.sub("", text)
        text = _LINE_MARKER.sub("", text)
        text = _EMPHASIS.sub("", text)
        return text[1:] if text.startswith(prefix) else text

    def _remove_leaks(self, text: str) -> str:
        text, leaks = self._canary.subn("", text)
        if leaks:
            if not self.leaks:
                _log.warning("cloud_prompt_leak_detected", detail="the answer repeated the canary token; dropped")
            self.leaks += leaks
        text, removed = remove_secrets(text)
        self.secrets_removed += removed
        if removed:
            _log.warning("cloud_answer_secret_removed", count=removed)
        return text

    def _replace_link(self, match: re.Match[str]) -> str:
        label, target = match.group(1).strip(), match.group(2)
        if _UNSAFE_TARGET.match(target) or self._link_policy == "remove":
            return label
        shown = target if self._link_policy == "keep" else _domain(target)
        if not shown or shown == label:
            return label or shown
        return f"{label} ({shown})" if label else shown

    def _replace_url(self, match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(_URL_TRAILING_PUNCTUATION)
        trailing = url[len(stripped) :]
        if self._link_policy == "remove":
            return trailing
        if self._link_policy == "keep":
            return url
        return _domain(stripped) + trailing


class _WhitespaceCollapser:
    """Collapse whitespace runs across deltas: a run with no newline becomes one space,
    with one newline a newline, with more a blank line. Leading and trailing runs go."""

    def __init__(self) -> None:
        self._started = False
        self._spaces = False
        self._newlines = 0

    def feed(self, text: str) -> str:
        out: list[str] = []
        for run in re.finditer(r"\s+|\S+", text):
            chunk = run.group(0)
            if chunk[0].isspace():
                self._spaces = True
                self._newlines += chunk.count("\n")
                continue
            if self._started and self._spaces:
                out.append(_collapsed_run(self._newlines))
            out.append(chunk)
            self._started = True
            self._spaces = False
            self._newlines = 0
        return "".join(out)


def _collapsed_run(newlines: int) -> str:
    if newlines > 1:
        return "\n\n"
    if newlines == 1:
        return "\n"
    return " "


def _is_open(segment: str) -> bool:
    """Tell whether ``segment`` ends inside a construct that may still continue after whitespace."""
    position = 0
    while (opener := _BLOCK_OPENER.search(segment, position)) is not None:
        closer = _BLOCK_CLOSERS[opener.group(0).lower()].search(segment, opener.end())
        if closer is None:
            return True
        position = closer.end()
    return any(pattern.search(segment) for pattern in (_OPEN_TAG, _OPEN_LINK_TEXT, SECRET_LABEL_TAIL))


def _clean_chars(text: str) -> str:
    """Drop invisible and control characters and apply NFKC one character at a time.

    Working per character keeps the result independent of where deltas split.
    Carriage returns are dropped, so CRLF line ends become LF.
    """
    if text.isascii():
        return "".join(char for char in text if _keep_ascii(char))
    kept: list[str] = []
    for char in text:
        if char.isascii():
            if _keep_ascii(char):
                kept.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Cf", "Cc") or 0xFE00 <= ord(char) <= 0xFE0F or 0xE0100 <= ord(char) <= 0xE01EF:
            continue
        kept.append(unicodedata.normalize("NFKC", char))
    return "".join(kept)


def _keep_ascii(char: str) -> bool:
    return " " <= char < "\x7f" or char in "\t\n"


def _domain(url: str) -> str:
    try:
        host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")
