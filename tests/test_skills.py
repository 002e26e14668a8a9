"""Local skills answer time, date, arithmetic, stop and repeat exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jarvis.brain.skills import SkillSet, normalise_request

FIXED = datetime(2026, 12, 4, 15, 7, tzinfo=timezone(timedelta(hours=1)))


@pytest.fixture
def skills() -> SkillSet:
    return SkillSet(clock=lambda: FIXED)


@pytest.mark.parametrize(
    "request_text",
    [
        "What time is it?",
        "what's the time",
        "Tell me the time.",
        "Jarvis, what time is it",
        "what is the time now",
        "Can you tell me the time?",
        "the time please",
    ],
)
def test_time_requests_answered(skills: SkillSet, request_text: str) -> None:
    reply = skills.answer(request_text)
    assert reply is not None, request_text
    assert reply.skill == "time"
    assert reply.text == "It's 3:07 PM."


def test_time_morning_and_midnight() -> None:
    morning = SkillSet(clock=lambda: FIXED.replace(hour=9, minute=0)).answer("what time is it")
    midnight = SkillSet(clock=lambda: FIXED.replace(hour=0, minute=30)).answer("what time is it")
    assert morning is not None
    assert morning.text == "It's 9:00 AM."
    assert midnight is not None
    assert midnight.text == "It's 12:30 AM."


@pytest.mark.parametrize(
    "request_text", ["What's the date?", "what day is it", "What is today's date?", "today's date"]
)
def test_date_requests_answered(skills: SkillSet, request_text: str) -> None:
    reply = skills.answer(request_text)
    assert reply is not None, request_text
    assert reply.skill == "date"
    assert reply.text == "Today is Friday, December 4, 2026."


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("What is 12 times 7?", "12 times 7 is 84."),
        ("what is twelve times seven", "12 times 7 is 84."),
        ("What's 2 plus 2?", "2 plus 2 is 4."),
        ("what is two and two", "2 plus 2 is 4."),
        ("How much is 100 divided by 8?", "100 divided by 8 is 12.5."),
        ("calculate 3.5 minus 10", "3.5 minus 10 is -6.5."),
        ("What is 15 percent of 80?", "15 percent of 80 is 12."),
        ("What is 2 to the power of 10?", "2 to the power of 10 is 1024."),
        ("what is the square root of 81", "The square root of 81 is 9."),
        ("what is 9 squared", "9 squared is 81."),
        ("What is 6 x 7?", "6 times 7 is 42."),
        ("What is 1,200 + 34?", "1200 plus 34 is 1234."),
        ("what's one hundred and five minus five", "105 minus 5 is 100."),
        ("what is minus three times four", "-3 times 4 is -12."),
        ("What is 7 × 6?", "7 times 6 is 42."),
        ("What is 1 divided by 3?", "1 divided by 3 is 0.3333."),
    ],
)
def test_arithmetic_is_exact(skills: SkillSet, request_text: str, expected: str) -> None:
    reply = skills.answer(request_text)
    assert reply is not None, request_text
    assert reply.skill == "arithmetic"
    assert reply.text == expected


def test_division_by_zero_explained(skills: SkillSet) -> None:
    reply = skills.answer("what is 5 divided by 0")
    assert reply is not None
    assert reply.text == "I can't divide by zero."


def test_huge_result_not_read_out(skills: SkillSet) -> None:
    reply = skills.answer("what is 10 to the power of 400")
    assert reply is not None
    assert "too large" in reply.text


def test_negative_square_root_explained(skills: SkillSet) -> None:
    reply = skills.answer("what is the square root of -4")
    assert reply is not None
    assert "no real square root" in reply.text


@pytest.mark.parametrize("request_text", ["Stop.", "cancel", "never mind", "Jarvis, stop!", "be quiet"])
def test_stop_requests(skills: SkillSet, request_text: str) -> None:
    reply = skills.answer(request_text)
    assert reply is not None, request_text
    assert reply.action == "stop"
    assert reply.text == ""


@pytest.mark.parametrize(
    "request_text", ["Repeat that.", "say that again", "what did you say", "Could you repeat that?"]
)
def test_repeat_requests(skills: SkillSet, request_text: str) -> None:
    reply = skills.answer(request_text)
    assert reply is not None, request_text
    assert reply.action == "repeat"


@pytest.mark.parametrize(
    "request_text",
    [
        "Who wrote Hamlet?",
        "what is the capital of France",
        "Tell me a joke.",
        "what time does the shop open",
        "stop the music in the kitchen",
        "what is love",
        "",
        "   ",
        "What is the date of the next full moon?",
    ],
)
def test_other_requests_left_to_the_model(skills: SkillSet, request_text: str) -> None:
    assert skills.answer(request_text) is None


def test_normalise_request_trims_punctuation() -> None:
    assert normalise_request("  What time is it?!  ") == "what time is it"
    assert normalise_request("It’s   fine.") == "it's fine"
