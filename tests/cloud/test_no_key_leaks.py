"""No fake key may appear in logs, printed output, error messages, tracebacks or reprs.

Besides the scenarios here, every cloud test's captured output is searched for
the fake keys when it ends (see the autouse fixture in conftest.py).
"""

from __future__ import annotations

import io
import logging
import traceback
from pathlib import Path

import fake_server as fs
import pytest
from conftest import FAKE_KEYS, ClientFactory, cloud_settings, find_key_leaks, key_fragments
from fake_server import FakeProviderServer

from jarvis.cloud.ask import ask_cloud
from jarvis.cloud.keys import KeyStore
from jarvis.cloud.types import CloudRequest
from jarvis.config import Settings
from jarvis.errors import CloudError

QUESTION = CloudRequest.from_text("What is the capital of France?")


def error_texts(error: BaseException) -> list[str]:
    """The message, repr and full formatted traceback (with its chain of causes) of ``error``."""
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def test_scanner_finds_a_planted_key() -> None:
    planted = f"header x-api-key: {FAKE_KEYS['openai'].get_secret_value()}"

    assert find_key_leaks(planted)
    assert not find_key_leaks("header x-api-key: [REDACTED]")


def test_fragments_cover_every_key() -> None:
    fragments = key_fragments()

    for key in FAKE_KEYS.values():
        assert key.get_secret_value() in fragments


@pytest.mark.asyncio
async def test_failures_leak_no_key(
    make_client: ClientFactory,
    fake_server: FakeProviderServer,
    cloud_log: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client()
    fake_server.fail("anthropic", fs.unauthorized(), fs.drop_mid_stream(after_chunks=0), fs.malformed_json())
    fake_server.fail("openai", fs.insufficient_quota("openai"), fs.error_event(after_chunks=0), fs.status(500))
    fake_server.fail("gemini", fs.status(403), fs.no_final_marker(after_chunks=0), fs.status(400))
    texts: list[str] = []

    for pinned in ("anthropic", "openai", "gemini"):
        with pytest.raises(CloudError) as caught:
            await client.generate(QUESTION, provider=pinned)
        texts += error_texts(caught.value)
    client = await make_client(cloud_settings(fake_server, retry={"max_attempts": 1}))
    for _ in range(2):
        with pytest.raises(CloudError) as caught:
            async for _text in client.stream(CloudRequest.from_text("Stream something.")):
                pass
        texts += error_texts(caught.value)

    assert len(texts) == 15
    assert not find_key_leaks(*texts)
    assert not find_key_leaks(cloud_log.getvalue(), caplog.text)


@pytest.mark.asyncio
async def test_echoed_key_stays_out_of_errors(make_client: ClientFactory, fake_server: FakeProviderServer) -> None:
    echoed = FAKE_KEYS["anthropic"].get_secret_value()
    body = {"type": "error", "error": {"type": echoed, "message": f"bad key {echoed}"}}
    client = await make_client(providers=("anthropic",))
    fake_server.fail("anthropic", fs.status(401, body=body))

    with pytest.raises(CloudError) as caught:
        await client.generate(QUESTION)

    assert not find_key_leaks(str(caught.value), repr(caught.value))


@pytest.mark.asyncio
async def test_reprs_hold_no_key(make_client: ClientFactory, fake_server: FakeProviderServer) -> None:
    client = await make_client()
    keys = KeyStore.in_memory(dict(FAKE_KEYS))
    stream = client.stream(QUESTION)
    async for _ in stream:
        pass

    texts = [repr(client), repr(keys), repr(stream), repr(stream.answer), repr(cloud_settings(fake_server))]
    texts += [repr(route.provider) for route in client._routes.values()]
    texts += [str(FAKE_KEYS), repr(FAKE_KEYS)]

    assert not find_key_leaks(*texts)


@pytest.mark.asyncio
async def test_ask_output_holds_no_key(
    fake_server: FakeProviderServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(cloud=cloud_settings(fake_server, budget={"ledger_path": tmp_path / "spend.sqlite3"}))
    keys = KeyStore.in_memory(dict(FAKE_KEYS))
    fake_server.fail("openai", fs.unauthorized())
    out = io.StringIO()

    await ask_cloud(settings, "Hello?", provider="openai", stream=False, out=out, keys=keys)
    await ask_cloud(settings, "Hello?", provider="anthropic", stream=True, out=out, keys=keys)

    captured = capsys.readouterr()
    assert "openai rejected the API key" in captured.err
    assert not find_key_leaks(out.getvalue(), captured.out, captured.err, caplog.text)
