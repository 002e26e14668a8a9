"""``jarvis ask --cloud``: one question to the cloud client, the answer printed."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from jarvis.cloud.client import CloudClient
from jarvis.cloud.keys import KeyStore
from jarvis.cloud.types import PROVIDER_NAMES, CloudRequest, ProviderName
from jarvis.config import Settings, state_dir
from jarvis.errors import CloudError, ConfigError, InputRejectedError, MissingKeyError

EXIT_OK = 0
EXIT_FAILED = 1
"""No answer came back: every provider tried failed, declined, or the budget was used up."""
EXIT_USAGE = 2
"""The request could not be sent as given (unknown provider, missing key, invalid settings or input)."""


async def ask_cloud(
    settings: Settings,
    text: str,
    *,
    provider: str | None,
    stream: bool,
    out: TextIO,
    keys: KeyStore | None = None,
) -> int:
    """Send ``text`` to the cloud, write the answer to ``out`` and return the exit code.

    Failures are reported as one line on stderr. ``keys`` defaults to the
    environment and the system keyring.
    """
    pinned = _provider_name(provider)
    if provider is not None and pinned is None:
        _fail(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDER_NAMES)}")
        return EXIT_USAGE
    try:
        # Reading the keyring and the price table blocks, so it runs in a worker thread.
        client = await asyncio.to_thread(
            CloudClient.from_settings, settings.cloud, keys=keys or KeyStore.from_environment(), state_dir=state_dir()
        )
    except (CloudError, ConfigError) as err:
        _fail(str(err))
        return EXIT_USAGE

    request = CloudRequest.from_text(text)
    async with client:
        try:
            if stream:
                await _write_stream(client, request, pinned, out)
            else:
                answer = await client.generate(request, provider=pinned)
                out.write(answer.text + "\n")
        except CloudError as err:
            _fail(str(err))
            return _exit_code(err)
        except ConfigError as err:
            _fail(str(err))
            return EXIT_USAGE
    return EXIT_OK


async def _write_stream(client: CloudClient, request: CloudRequest, provider: ProviderName | None, out: TextIO) -> None:
    wrote_text = False
    async with client.stream(request, provider=provider) as answer_stream:
        async for delta in answer_stream:
            out.write(delta)
            out.flush()
            wrote_text = True
    if wrote_text:
        out.write("\n")


def _provider_name(name: str | None) -> ProviderName | None:
    for known in PROVIDER_NAMES:
        if name == known:
            return known
    return None


def _exit_code(error: CloudError) -> int:
    return EXIT_USAGE if isinstance(error, (InputRejectedError, MissingKeyError)) else EXIT_FAILED


def _fail(message: str) -> None:
    first_line = message.splitlines()[0] if message else "unknown error"
    sys.stderr.write(f"jarvis: cloud request failed: {first_line}\n")
