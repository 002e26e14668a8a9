"""``ask_cloud``, the body of ``jarvis ask --cloud``, against the fake provider server."""

from __future__ import annotations

import io
from pathlib import Path

import fake_server as fs
import pytest
from conftest import FAKE_KEYS, cloud_settings
from fake_server import FakeProviderServer

from jarvis.cloud.ask import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ask_cloud
from jarvis.cloud.keys import KeyStore
from jarvis.config import Settings

REPLY = "Paris is the capital of France."


def settings_for(server: FakeProviderServer, tmp_path: Path, **overrides: object) -> Settings:
    cloud = cloud_settings(server, budget={"ledger_path": tmp_path / "spend.sqlite3"}, **overrides)
    return Settings(cloud=cloud)


def all_keys() -> KeyStore:
    return KeyStore.in_memory(dict(FAKE_KEYS))


@pytest.mark.asyncio
async def test_answer_is_printed(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    out = io.StringIO()

    code = await ask_cloud(
        settings_for(fake_server, tmp_path), "Capital of France?", provider=None, stream=False, out=out, keys=all_keys()
    )

    assert code == EXIT_OK
    assert out.getvalue() == REPLY + "\n"


@pytest.mark.asyncio
async def test_streamed_answer_is_printed(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    out = io.StringIO()

    code = await ask_cloud(
        settings_for(fake_server, tmp_path),
        "Capital of France?",
        provider="gemini",
        stream=True,
        out=out,
        keys=all_keys(),
    )

    assert code == EXIT_OK
    assert out.getvalue() == REPLY + "\n"
    assert len(fake_server.requests_to("gemini")) == 1


@pytest.mark.asyncio
async def test_unknown_provider_is_a_usage_error(
    fake_server: FakeProviderServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await ask_cloud(
        settings_for(fake_server, tmp_path), "Hi", provider="mistral", stream=False, out=io.StringIO(), keys=all_keys()
    )

    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "unknown provider 'mistral'" in err
    assert err.count("\n") == 1


@pytest.mark.asyncio
async def test_missing_key_says_how_to_add_one(
    fake_server: FakeProviderServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await ask_cloud(
        settings_for(fake_server, tmp_path),
        "Hi",
        provider=None,
        stream=False,
        out=io.StringIO(),
        keys=KeyStore.in_memory({}),
    )

    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "jarvis keys set" in err


@pytest.mark.asyncio
async def test_provider_failure_is_one_line(
    fake_server: FakeProviderServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.fail("openai", fs.unauthorized())
    out = io.StringIO()

    code = await ask_cloud(
        settings_for(fake_server, tmp_path), "Hi", provider="openai", stream=False, out=out, keys=all_keys()
    )

    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert out.getvalue() == ""
    assert err.startswith("jarvis: cloud request failed: openai rejected the API key")
    assert err.count("\n") == 1
