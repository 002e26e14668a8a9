"""The keys and usage sub-commands: parsing, hidden prompt, status without keys, usage table."""

from __future__ import annotations

import argparse
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from jarvis.cloud.budget import BudgetLedger
from jarvis.cloud.commands import add_commands, keys_delete, keys_set, keys_status, show_usage
from jarvis.cloud.keys import KeyStore
from jarvis.cloud.types import Usage
from jarvis.config import Settings
from jarvis.errors import ConfigError

FAKE_KEY = "sk-ant-cmdtest-" + "r" * 24
NOW = dt.datetime(2025, 5, 2, 15, 0, tzinfo=dt.UTC)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="jarvis")
    add_commands(root.add_subparsers(dest="command", required=True))
    return root


class Prompt:
    """A hidden-input prompt that returns a set answer and records the prompt text."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answer


def run_set(store: KeyStore, answer: str) -> tuple[int, str, Prompt]:
    prompt, out = Prompt(answer), io.StringIO()
    code = keys_set(
        parser().parse_args(["keys", "set", "anthropic"]), Settings(), read_secret=prompt, store=store, out=out
    )
    return code, out.getvalue(), prompt


# --- parsing ------------------------------------------------------------------------------------


def test_keys_set_parses_provider() -> None:
    args = parser().parse_args(["keys", "set", "openai"])
    assert args.provider == "openai"
    assert args.handler is keys_set


def test_keys_set_rejects_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["keys", "set", "acme"])
    assert "invalid choice" in capsys.readouterr().err


def test_keys_needs_action() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["keys"])


def test_usage_days_default() -> None:
    args = parser().parse_args(["usage"])
    assert args.days == 7
    assert args.handler is show_usage


@pytest.mark.parametrize("days", ["0", "-3", "many", "99999"])
def test_usage_rejects_bad_days(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["usage", "--days", days])
    assert "days" in capsys.readouterr().err


# --- keys ---------------------------------------------------------------------------------------


def test_set_stores_prompted_key() -> None:
    store = KeyStore.in_memory()
    code, output, prompt = run_set(store, FAKE_KEY)
    stored = store.get("anthropic")
    assert code == 0
    assert stored is not None
    assert stored.get_secret_value() == FAKE_KEY
    assert "hidden" in prompt.prompts[0]
    assert FAKE_KEY not in output


def test_set_refuses_empty_input(capsys: pytest.CaptureFixture[str]) -> None:
    store = KeyStore.in_memory()
    code, _, _ = run_set(store, "   ")
    assert code == 2
    assert store.get("anthropic") is None
    assert "no key entered" in capsys.readouterr().err


def test_set_treats_end_of_input_as_empty() -> None:
    def closed(prompt: str) -> str:
        raise EOFError

    store = KeyStore.in_memory()
    args = parser().parse_args(["keys", "set", "anthropic"])
    assert keys_set(args, Settings(), read_secret=closed, store=store, out=io.StringIO()) == 2


def test_set_warns_when_environment_overrides() -> None:
    store = KeyStore.in_memory(environ={"ANTHROPIC_API_KEY": "sk-ant-cmdtest-env" + "e" * 20})
    _, output, _ = run_set(store, FAKE_KEY)
    assert "ANTHROPIC_API_KEY is set" in output


def test_set_error_does_not_echo_key() -> None:
    with pytest.raises(ConfigError) as caught:
        run_set(KeyStore.in_memory(), FAKE_KEY[:8] + " " + FAKE_KEY[8:])
    assert FAKE_KEY[8:] not in str(caught.value)


def test_delete_removes_key() -> None:
    store = KeyStore.in_memory({"openai": SecretStr("sk-cmdtest-" + "o" * 24)})
    out = io.StringIO()
    code = keys_delete(parser().parse_args(["keys", "delete", "openai"]), Settings(), store=store, out=out)
    assert code == 0
    assert store.get("openai") is None
    assert "Deleted the openai key" in out.getvalue()


def test_delete_of_missing_key_exits_one() -> None:
    out = io.StringIO()
    code = keys_delete(
        parser().parse_args(["keys", "delete", "gemini"]), Settings(), store=KeyStore.in_memory(), out=out
    )
    assert code == 1
    assert "No gemini key" in out.getvalue()


def test_status_lists_sources_without_keys() -> None:
    env_key = "sk-cmdtest-env" + "n" * 24
    store = KeyStore.in_memory({"anthropic": FAKE_KEY}, environ={"OPENAI_API_KEY": env_key})
    out = io.StringIO()
    code = keys_status(parser().parse_args(["keys", "status"]), Settings(), store=store, out=out, check_keyring=False)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].split() == ["PROVIDER", "KEY", "FROM"]
    assert lines[1].split() == ["anthropic", "keyring"]
    assert lines[2].split() == ["openai", "environment", "(OPENAI_API_KEY)"]
    assert lines[3].split() == ["gemini", "missing"]
    assert FAKE_KEY not in out.getvalue()
    assert env_key not in out.getvalue()


# --- usage --------------------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> BudgetLedger:
    opened = BudgetLedger(tmp_path / "spend.sqlite3", Decimal("1.00"), clock=lambda: NOW)
    yield opened  # type: ignore[misc]
    opened.close()


async def spend(ledger: BudgetLedger, provider: str, model: str, cost: str, usage: Usage) -> None:
    reservation = await ledger.reserve(provider, model, Decimal("0.10"))
    await ledger.settle(reservation, usage, Decimal(cost))


@pytest.mark.asyncio
async def test_usage_prints_aligned_table(ledger: BudgetLedger) -> None:
    await spend(
        ledger, "openai", "gpt-4.1-mini", "0.0123", Usage(input_tokens=1200, output_tokens=80, cached_tokens=100)
    )
    await spend(ledger, "anthropic", "claude-haiku-4-5", "0.002", Usage(input_tokens=90, output_tokens=9))
    out = io.StringIO()
    code = show_usage(parser().parse_args(["usage", "--days", "3"]), Settings(), ledger=ledger, out=out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].split() == ["DAY", "(UTC)", "PROVIDER", "REQUESTS", "INPUT", "CACHED", "OUTPUT", "COST", "(USD)"]
    assert lines[1].split() == ["2025-05-02", "anthropic", "1", "90", "0", "9", "$0.0020"]
    assert lines[2].split() == ["2025-05-02", "openai", "1", "1200", "100", "80", "$0.0123"]
    assert lines[3].split() == ["total", "2", "1290", "100", "89", "$0.0143"]
    assert lines[0].index("PROVIDER") == lines[1].index("anthropic") == lines[2].index("openai")
    # Costs are right-aligned, followed by one column for the estimate mark.
    assert len(lines[0]) == lines[1].index("$0.0020") + len("$0.0020 ") == lines[2].index("$0.0123") + len("$0.0123 ")


@pytest.mark.asyncio
async def test_usage_reports_remaining_budget(ledger: BudgetLedger) -> None:
    await spend(ledger, "openai", "gpt-4.1-mini", "0.25", Usage(input_tokens=10, output_tokens=10))
    await ledger.reserve("gemini", "gemini-2.5-flash", Decimal("0.05"))
    out = io.StringIO()
    show_usage(parser().parse_args(["usage"]), Settings(), ledger=ledger, out=out)
    text = out.getvalue()
    assert "spent $0.2500" in text
    assert "reserved $0.0500" in text
    assert "budget $1.0000" in text
    assert "remaining $0.7000" in text
    assert "00:00 UTC" in text


@pytest.mark.asyncio
async def test_usage_marks_estimated_rows(ledger: BudgetLedger) -> None:
    await ledger.reserve("gemini", "gemini-2.5-flash", Decimal("0.05"))
    out = io.StringIO()
    show_usage(parser().parse_args(["usage"]), Settings(), ledger=ledger, out=out)
    assert "$0.0500*" in out.getvalue()
    assert "worst-case" in out.getvalue()


def test_usage_without_ledger_file(tmp_path: Path) -> None:
    path = tmp_path / "none" / "spend.sqlite3"
    settings = Settings(cloud={"budget": {"ledger_path": path}})  # type: ignore[arg-type]
    out = io.StringIO()
    code = show_usage(parser().parse_args(["usage"]), settings, out=out)
    assert code == 0
    assert "No cloud usage recorded yet" in out.getvalue()
    assert not path.exists()


@pytest.mark.asyncio
async def test_usage_opens_configured_ledger(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    writer = BudgetLedger(path, Decimal("2.00"))
    await spend(writer, "openai", "gpt-4.1-mini", "0.5", Usage(input_tokens=10, output_tokens=10))
    writer.close()
    settings = Settings(cloud={"budget": {"ledger_path": path, "daily_usd": "2.00"}})  # type: ignore[arg-type]
    out = io.StringIO()
    show_usage(parser().parse_args(["usage", "--days", "1"]), settings, out=out)
    assert "$0.5000" in out.getvalue()
    assert "remaining $1.5000" in out.getvalue()


def test_usage_with_empty_ledger(ledger: BudgetLedger) -> None:
    out = io.StringIO()
    show_usage(parser().parse_args(["usage"]), Settings(), ledger=ledger, out=out)
    assert "No cloud usage in the last 7 day(s)." in out.getvalue()


def test_keys_set_without_secure_keyring_asks_nothing(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """With no secure keyring the user is told before typing a key that could not be stored."""
    import argparse

    from jarvis.cloud import commands
    from jarvis.config import Settings

    def fail_prompt(_prompt: str) -> str:
        raise AssertionError("the key prompt must not be shown")

    monkeypatch.setattr(commands, "secure_backends", list)
    assert commands.keys_set(argparse.Namespace(provider="openai"), Settings(), read_secret=fail_prompt) == 1
    assert "no secure keyring" in capsys.readouterr().err
