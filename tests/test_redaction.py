"""Secrets are removed from text and log events by field name and by value shape."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from jarvis.logging import configure_logging
from jarvis.redaction import REDACTED, redact_event, redact_text

FAKE_ANTHROPIC = "sk-ant-api03-" + "A" * 40
FAKE_OPENAI = "sk-proj-" + "b" * 40
FAKE_GOOGLE = "AIza" + "C" * 35


@pytest.mark.parametrize("secret", [FAKE_ANTHROPIC, FAKE_OPENAI, FAKE_GOOGLE, "sk-" + "d" * 48])
def test_key_shapes_removed_from_text(secret: str) -> None:
    text = f"request failed with key {secret} at 12:00"
    cleaned = redact_text(text)
    assert secret not in cleaned
    assert REDACTED in cleaned
    assert cleaned.startswith("request failed with key")


def test_bearer_token_removed() -> None:
    cleaned = redact_text("Authorization: Bearer abcdefghijklmnop.qrstuv")
    assert "abcdefghijklmnop" not in cleaned


def test_header_style_key_removed() -> None:
    cleaned = redact_text('{"x-api-key": "plainvalue123456"}')
    assert "plainvalue123456" not in cleaned


def test_ordinary_text_kept() -> None:
    text = "The skeleton key opened 3 doors; task-list item sk-8 done."
    assert redact_text(text) == text


def test_event_fields_redacted_by_name() -> None:
    event = {"event": "x", "api_key": "whatever", "Authorization": "Basic abc", "password": "hunter2", "tokens": 12}
    redacted = redact_event(None, "info", event)
    assert redacted["api_key"] == REDACTED
    assert redacted["Authorization"] == REDACTED
    assert redacted["password"] == REDACTED
    assert redacted["tokens"] == 12


def test_event_nested_values_redacted_by_shape() -> None:
    event = {"event": "x", "detail": {"headers": [f"Bearer {FAKE_OPENAI}"], "note": FAKE_GOOGLE}}
    redacted = redact_event(None, "info", event)
    assert FAKE_OPENAI not in json.dumps(redacted)
    assert FAKE_GOOGLE not in json.dumps(redacted)


def test_log_lines_never_carry_keys_or_frame_locals() -> None:
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    log = structlog.get_logger("test")
    secret_local = FAKE_ANTHROPIC  # noqa: F841 - a frame local that must not be logged
    try:
        raise RuntimeError(f"upstream said {FAKE_OPENAI}")
    except RuntimeError:
        log.exception("call_failed", api_key=FAKE_ANTHROPIC, url=f"https://x.invalid/?key={FAKE_GOOGLE}")
    line = stream.getvalue()
    record = json.loads(line)
    assert record["event"] == "call_failed"
    assert "RuntimeError" in record["error"]
    for secret in (FAKE_ANTHROPIC, FAKE_OPENAI, FAKE_GOOGLE):
        assert secret not in line


@pytest.mark.parametrize("name", ["first_token_s", "max_tokens", "input_tokens", "token_count", "latency_ms"])
def test_measurement_fields_not_redacted(name: str) -> None:
    assert redact_event(None, "info", {name: 12})[name] == 12


@pytest.mark.parametrize("name", ["access_token", "refresh_token", "session_token", "client_secret", "OPENAI_API_KEY"])
def test_secret_field_names_redacted(name: str) -> None:
    assert redact_event(None, "info", {name: "value"})[name] == REDACTED
