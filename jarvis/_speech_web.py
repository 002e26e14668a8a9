"""Read web and e-mail addresses aloud.

A URL is read as its host name only ("https://www.example.com/a?b=1" ->
"example dot com"): the scheme, path and query are noise when heard. Bare
host names are recognised only for a short list of common top-level domains,
so that file names such as "setup.py" stay untouched.
"""

from __future__ import annotations

import re

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    rf"(?<![\w.+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}})@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,24}})"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_COMMON_TLDS = "com|org|net|io|dev|ai|app|edu|gov|co|uk|de|fr|info|me|tv|us|ca|eu"
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@./-])(?:{_LABEL}\.)+(?:{_COMMON_TLDS})(?:/[^\s<>\"'`]*)?(?![\w-])",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = re.compile(r"[.,;:!?)\]}'\"]+$")
_LOCAL_PART_SPLIT = re.compile(r"([._%+-])")
_SCHEME = re.compile(r"^[A-Za-z]+://")
_PATH_START = re.compile(r"[/?#]")
_LOCAL_PART_SEPARATORS = {".": "dot", "_": "underscore", "-": "dash", "+": "plus", "%": "percent"}


def speak_web_addresses(text: str) -> str:
    """Replace e-mail addresses and URLs in ``text`` with words."""
    text = _EMAIL.sub(_speak_email, text)
    text = _URL.sub(_speak_url, text)
    return _BARE_DOMAIN.sub(_speak_url, text)


def host_words(host: str) -> str:
    """Read a host name: "docs.python.org" -> "docs dot python dot org"."""
    labels = [label for label in host.split(".") if label]
    return " dot ".join(labels)


def _speak_email(match: re.Match[str]) -> str:
    pieces = _LOCAL_PART_SPLIT.split(match["local"])
    local = " ".join(_LOCAL_PART_SEPARATORS.get(piece, piece) for piece in pieces if piece)
    return f"{local} at {host_words(match['domain'])}"


def _speak_url(match: re.Match[str]) -> str:
    url = match.group()
    trailing = _TRAILING_PUNCTUATION.search(url)
    kept_tail = ""
    if trailing and not _closes_bracket_inside(url, trailing.group()):
        url, kept_tail = url[: trailing.start()], trailing.group()
    host = _host_of(url)
    spoken = host_words(host) if host else "a link"
    return spoken + kept_tail


def _closes_bracket_inside(url: str, tail: str) -> bool:
    """Tell whether a trailing ")" belongs to the URL, as in Wikipedia links."""
    return tail == ")" and url.count("(") >= url.count(")")


def _host_of(url: str) -> str:
    rest = _SCHEME.sub("", url)
    authority = _PATH_START.split(rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2].partition(":")[0]
    if host.lower().startswith("www."):
        host = host[4:]
    return host
