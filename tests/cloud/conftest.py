"""Fixtures of the cloud tests: the fake provider server, fake keys, settings and clients.

Every cloud test also has its log lines, standard logging records and
printed output searched for the fake keys when it ends. A test whose output
contains one fails in teardown.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fake_server import FakeProviderServer
from pydantic import SecretStr

from jarvis.cloud.budget import BudgetLedger, DaySummary
from jarvis.cloud.client import CloudClient
from jarvis.cloud.config import CloudSettings, ProviderSettings
from jarvis.cloud.pricing import PriceTable
from jarvis.cloud.providers import Provider, build_provider
from jarvis.cloud.types import PROVIDER_NAMES, ProviderName
from jarvis.logging import configure_logging

FAKE_KEYS: dict[ProviderName, SecretStr] = {
    "anthropic": SecretStr("sk-ant-test-" + "x" * 24),
    "openai": SecretStr("sk-test-" + "y" * 24),
    "gemini": SecretStr("AIza-test-" + "z" * 30),
}
KEY_HEADERS: dict[ProviderName, tuple[str, ...]] = {
    "anthropic": ("x-api-key", "authorization"),
    "openai": ("authorization",),
    "gemini": ("x-goog-api-key",),
}


def key_fragments() -> list[str]:
    """Strings whose presence in any output means a fake key leaked: each whole key and its random-looking tail."""
    fragments = []
    for key in FAKE_KEYS.values():
        plain = key.get_secret_value()
        fragments += [plain, plain[-20:]]
    return fragments


def find_key_leaks(*texts: str) -> list[str]:
    """Return the key fragments found in ``texts``."""
    return [fragment for fragment in key_fragments() for text in texts if fragment in text]


class FakeClock:
    """Monotonic seconds that move only when a test advances them."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


class RecordedSleep:
    """A sleep that returns at once and records each requested delay."""

    def __init__(self) -> None:
        self.delays_s: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays_s.append(seconds)


@pytest.fixture(autouse=True)
def cloud_log(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Capture structlog lines in a buffer for the test, then search every output for the fake keys."""
    buffer = io.StringIO()
    configure_logging(level="debug", log_format="json", stream=buffer)
    caplog.set_level(logging.DEBUG)
    yield buffer
    captured = capsys.readouterr()
    leaks = find_key_leaks(buffer.getvalue(), captured.out, captured.err, caplog.text)
    assert not leaks, "a fake API key appeared in the test's logs or output"


@pytest.fixture
def fake_server() -> Iterator[FakeProviderServer]:
    server = FakeProviderServer().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


def provider_settings(server: FakeProviderServer, name: ProviderName, **overrides: Any) -> ProviderSettings:
    model = CloudSettings().model_dump()[name]["model"]
    values: dict[str, Any] = {"model": model, "base_url": server.base_url(name), "timeout_s": 5.0, **overrides}
    return ProviderSettings(**values)


def cloud_settings(server: FakeProviderServer, **overrides: Any) -> CloudSettings:
    """Settings aimed at the fake server, with fast retries; ``overrides`` replace top-level sections."""
    values: dict[str, Any] = {name: provider_settings(server, name) for name in PROVIDER_NAMES}
    values["retry"] = {"max_attempts": 3, "base_delay_s": 0.25, "max_delay_s": 2.0, "max_retry_after_s": 5.0}
    values["budget"] = {"daily_usd": Decimal("5.00")}
    values.update(overrides)
    return CloudSettings(**values)


ClientFactory = Callable[..., Awaitable[CloudClient]]


async def settled_today(client: CloudClient) -> DaySummary:
    """Close ``client``, which waits for its ledger writes, and return today's totals from its ledger file."""
    await client.aclose()

    def read() -> DaySummary:
        with BudgetLedger(client.ledger.path, client.settings.budget.daily_usd) as ledger:
            return ledger.today()

    return await asyncio.to_thread(read)


@pytest_asyncio.fixture
async def make_client(
    fake_server: FakeProviderServer, tmp_path: Path, clock: FakeClock, sleep: RecordedSleep
) -> AsyncIterator[ClientFactory]:
    """Build clients with the real adapters against the fake server; each is closed at the end of the test."""
    clients: list[CloudClient] = []

    async def build(
        settings: CloudSettings | None = None,
        *,
        providers: tuple[ProviderName, ...] = PROVIDER_NAMES,
        wrap: Callable[[Provider], Provider] | None = None,
    ) -> CloudClient:
        settings = settings or cloud_settings(fake_server)
        adapters = {name: build_provider(name, getattr(settings, name), FAKE_KEYS[name]) for name in providers}
        if wrap is not None:
            adapters = {name: wrap(adapter) for name, adapter in adapters.items()}
        ledger = BudgetLedger(tmp_path / f"spend-{len(clients)}.sqlite3", settings.budget.daily_usd)
        client = CloudClient(
            settings,
            providers=adapters,
            prices=PriceTable.load(None),
            ledger=ledger,
            clock=clock,
            sleep=sleep,
            uniform=lambda low, high: high,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()
