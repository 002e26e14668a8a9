"""SentenceSplitter and split_sentences: where streamed answer text is cut for speech."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.errors import ConfigError
from jarvis.sentences import SentenceSplitter, split_sentences


def _stream(text: str, step: int, first_chunk_min_chars: int | None = None) -> list[str]:
    splitter = SentenceSplitter(first_chunk_min_chars=first_chunk_min_chars)
    pieces: list[str] = []
    for index in range(0, len(text), step):
        pieces += splitter.feed(text[index : index + step])
    return pieces + splitter.flush()


def _normalised(text: str) -> str:
    return " ".join(text.split())


_CASES = [
    ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
    ("One. Two. Three.", ["One.", "Two.", "Three."]),
    ("Wow!! Really?! Yes.", ["Wow!!", "Really?!", "Yes."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("(It works.) Next one.", ["(It works.)", "Next one."]),
    ("**Note.** Next one.", ["**Note.**", "Next one."]),
    ("Pi is 3.14 today. Next.", ["Pi is 3.14 today.", "Next."]),
    ("It costs $5.99 now. Next.", ["It costs $5.99 now.", "Next."]),
    ("Version 1.2.3 is out. Next.", ["Version 1.2.3 is out.", "Next."]),
    ("Dr. Smith and Mr. Jones met. Next.", ["Dr. Smith and Mr. Jones met.", "Next."]),
    ("Mrs. Lee and Ms. Kim and Prof. Wu came.", ["Mrs. Lee and Ms. Kim and Prof. Wu came."]),
    ("Use fruit, e.g. apples. Next.", ["Use fruit, e.g. apples.", "Next."]),
    ("Use fruit, i.e. Apples. Next.", ["Use fruit, i.e. Apples.", "Next."]),
    ("Cats vs. Dogs is old. Next.", ["Cats vs. Dogs is old.", "Next."]),
    ("Visit St. Louis now. Next.", ["Visit St. Louis now.", "Next."]),
    ("It is approx. Ten. Next.", ["It is approx. Ten.", "Next."]),
    ("Meet at 5 p.m. tomorrow. Next.", ["Meet at 5 p.m. tomorrow.", "Next."]),
    ("Meet at 5 p.m. Then leave.", ["Meet at 5 p.m.", "Then leave."]),
    ("Apples, pears, etc. and more. Next.", ["Apples, pears, etc. and more.", "Next."]),
    ("Apples, pears, etc. Then more.", ["Apples, pears, etc.", "Then more."]),
    ("Read No. 5 now. I said no. Then left.", ["Read No. 5 now.", "I said no.", "Then left."]),
    ("Born Dec. 4 in 1990. Next.", ["Born Dec. 4 in 1990.", "Next."]),
    ("It was in the U.S. Then we left.", ["It was in the U.S.", "Then we left."]),
    ("The U.S. economy grew. Next.", ["The U.S. economy grew.", "Next."]),
    ("J. R. R. Tolkien wrote it. Next.", ["J. R. R. Tolkien wrote it.", "Next."]),
    ("Wait... what happened? Done... Really.", ["Wait... what happened?", "Done...", "Really."]),
    ("Wait\u2026 what? Done\u2026 Yes.", ["Wait\u2026 what?", "Done\u2026", "Yes."]),
    ("Visit example.com. Or https://x.org/a.b now.", ["Visit example.com.", "Or https://x.org/a.b now."]),
    ("Mail me@example.com. Thanks.", ["Mail me@example.com.", "Thanks."]),
    ("Ends lowercase. then continues.", ["Ends lowercase. then continues."]),
    ("It happened in 2026. Then more.", ["It happened in 2026.", "Then more."]),
    ("Steps:\n1. Install it.\n2. Run it.", ["Steps:", "1. Install it.", "2. Run it."]),
    ("1. First item\n2. Second item", ["1. First item", "2. Second item"]),
    ("Steps: 1. Do this. 2. Do that.", ["Steps: 1.", "Do this.", "2. Do that."]),
    ("I have 3. Then more.", ["I have 3.", "Then more."]),
    ("- one\n- two\n\n## Heading\nText", ["- one", "- two", "## Heading", "Text"]),
    ("Para one\n\n\nPara two", ["Para one", "Para two"]),
    ("| a | b |\n|---|---|\n| 1 | 2 |", ["| a | b |", "|---|---|", "| 1 | 2 |"]),
    ("No punctuation at the end", ["No punctuation at the end"]),
    ("  leading and trailing  ", ["leading and trailing"]),
    ("", []),
    ("   \n\n  ", []),
]


@pytest.mark.parametrize(("text", "sentences"), _CASES, ids=[text[:40] for text, _ in _CASES])
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(("text", "sentences"), _CASES, ids=[text[:40] for text, _ in _CASES])
def test_streaming_by_character_matches_whole_text(text: str, sentences: list[str]) -> None:
    assert _stream(text, 1) == sentences


_CODE_CASES = [
    (
        "Here:\n```python\nprint('a. b')\n\nx = 1\n```\nAfter code.",
        ["Here:", "```python\nprint('a. b')\n\nx = 1\n```", "After code."],
    ),
    ("~~~\ncode. More!\n~~~\nDone.", ["~~~\ncode. More!\n~~~", "Done."]),
    ("````\n```\ninner\n```\n````\nDone.", ["````\n```\ninner\n```\n````", "Done."]),
    ("```\nnever closed. Really!", ["```\nnever closed. Really!"]),
    ("Inline ``` fence ``` stays. Next.", ["Inline ``` fence ``` stays.", "Next."]),
    ("`code` at start. Next.", ["`code` at start.", "Next."]),
]


@pytest.mark.parametrize(("text", "sentences"), _CODE_CASES, ids=[text[:30] for text, _ in _CODE_CASES])
def test_code_fence_is_one_piece(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(("text", "sentences"), _CODE_CASES, ids=[text[:30] for text, _ in _CODE_CASES])
def test_code_fence_streamed_is_one_piece(text: str, sentences: list[str]) -> None:
    assert _stream(text, 1) == sentences


def test_full_stop_waits_for_next_character() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Pi is 3.") == []
    assert splitter.feed("14 now. ") == []
    assert splitter.feed("Next") == ["Pi is 3.14 now."]
    assert splitter.flush() == ["Next"]


def test_exclamation_is_returned_at_next_space() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Great!") == []
    assert splitter.feed(" ") == ["Great!"]


def test_line_break_is_returned_at_once() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("A heading\n") == ["A heading"]


def test_abbreviation_waits_for_next_word() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Ask Dr. ") == []
    assert splitter.feed("Smith today. ") == []
    assert splitter.feed("Then") == ["Ask Dr. Smith today."]


def test_flush_resets_for_next_stream() -> None:
    splitter = SentenceSplitter(first_chunk_min_chars=5)
    splitter.feed("First answer, with a clause. Tail")
    splitter.flush()
    assert splitter.feed("Second answer, again. ") == ["Second answer,"]
    assert splitter.flush() == ["again."]


def test_long_sentence_is_cut_at_last_comma() -> None:
    text = ("word " * 10 + "clause, ") * 6 + "end."
    pieces = split_sentences(text, max_chars=100)
    assert all(len(piece) <= 100 for piece in pieces)
    assert all(piece.endswith((",", ".")) for piece in pieces)
    assert _normalised(" ".join(pieces)) == _normalised(text)


def test_long_sentence_without_commas_is_cut_at_space() -> None:
    text = "word " * 60
    pieces = split_sentences(text, max_chars=50)
    assert all(len(piece) <= 50 for piece in pieces)
    assert len(pieces) == 6


def test_semicolon_and_dash_are_clause_ends() -> None:
    text = "a" * 30 + "; " + "b" * 30 + " \u2014 " + "c" * 30
    assert split_sentences(text, max_chars=40) == ["a" * 30 + ";", "b" * 30 + " \u2014", "c" * 30]


def test_word_longer_than_limit_is_not_cut() -> None:
    token = "x" * 80
    assert split_sentences(f"{token} tail", max_chars=20) == [token, "tail"]


def test_short_sentences_ignore_limit() -> None:
    assert split_sentences("Short, sentence. Another, one.", max_chars=200) == ["Short, sentence.", "Another, one."]


def test_first_chunk_is_off_by_default() -> None:
    assert split_sentences("Well, that is a good question, and long. Next.") == [
        "Well, that is a good question, and long.",
        "Next.",
    ]


def test_first_chunk_ends_at_comma_after_min_chars() -> None:
    text = "Well, that is a good question, and the answer is long. Next one, too."
    assert _stream(text, 3, first_chunk_min_chars=10) == [
        "Well, that is a good question,",
        "and the answer is long.",
        "Next one, too.",
    ]


def test_first_chunk_ignores_comma_before_min_chars() -> None:
    assert _stream("Well, yes. Next, then.", 1, first_chunk_min_chars=20) == ["Well, yes.", "Next, then."]


def test_first_chunk_ignores_thousands_comma() -> None:
    assert _stream("It costs 3,000 dollars, sadly. Next.", 1, first_chunk_min_chars=5) == [
        "It costs 3,000 dollars,",
        "sadly.",
        "Next.",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_chars": 0}, "max_chars"),
        ({"max_chars": -5}, "max_chars"),
        ({"first_chunk_min_chars": 0}, "first_chunk_min_chars"),
    ],
)
def test_invalid_options_are_rejected(options: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SentenceSplitter(**options)


_PIECES = st.sampled_from(
    [
        *"aB z1. .!?,;:\n\t\"')(*_`~\u2026\u2014",
        "Dr. ",
        "e.g. ",
        "3.14",
        "1. ",
        "\n```\n",
        "```",
        "~~~",
        "p.m. ",
        "etc. ",
        "No. 5",
        "J. ",
        "https://x.org/a. ",
        "...",
        "  ",
        "\n\n",
        "word ",
        "Word ",
    ]
)


def _split_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({cut for cut in cuts if 0 < cut < len(text)})
    bounds = [0, *points, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_PIECES, max_size=60).map("".join),
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    st.integers(min_value=1, max_value=120),
    st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
)
def test_any_deltas_give_same_sentences(text: str, cuts: list[int], max_chars: int, first: int | None) -> None:
    whole = SentenceSplitter(max_chars=max_chars, first_chunk_min_chars=first)
    expected = whole.feed(text) + whole.flush()
    splitter = SentenceSplitter(max_chars=max_chars, first_chunk_min_chars=first)
    pieces: list[str] = []
    for delta in _split_at(text, cuts):
        pieces += splitter.feed(delta)
    pieces += splitter.flush()
    assert pieces == expected
    assert _normalised(" ".join(pieces)) == _normalised(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=80))
def test_pieces_keep_all_text(text: str, step: int) -> None:
    pieces = _stream(text, step)
    assert _normalised(" ".join(pieces)) == _normalised(text)
    assert all(piece and piece == piece.strip() for piece in pieces)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["word ", "a, ", "b; ", "xxxxxxxxxxxx", " ", "."]), max_size=80).map("".join))
def test_pieces_respect_limit_unless_one_word(text: str) -> None:
    for piece in split_sentences(text, max_chars=30):
        assert len(piece) <= 30 or not any(ch.isspace() for ch in piece)
