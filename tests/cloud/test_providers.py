"""The three adapters, run through their real SDKs against the fake provider server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from email.utils import formatdate

import fake_server as fs
import pytest
import pytest_asyncio
from conftest import FAKE_KEYS, KEY_HEADERS, provider_settings
from fake_server import FakeProviderServer

from jarvis.cloud.providers import Provider, ProviderRequest, StreamEnd, TextDelta, build_provider
from jarvis.cloud.providers._translate import parse_retry_after_s
from jarvis.cloud.providers.gemini_adapter import quota_exhausted
from jarvis.cloud.types import PROVIDER_NAMES, Message, ProviderName, Usage
from jarvis.errors import (
    AuthenticationError,
    BadRequestError,
    CloudError,
    MalformedReplyError,
    ProviderUnavailableError,
    RateLimitedError,
    RefusalError,
    StreamInterruptedError,
)

REQUEST = ProviderRequest(
    system="Answer briefly.",
    messages=(Message("user", "What is the capital of France?"),),
    max_output_tokens=64,
    temperature=0.0,
)
REPLY = "Paris is the capital of France."

all_providers = pytest.mark.parametrize("name", PROVIDER_NAMES)


@pytest_asyncio.fixture
async def adapters(fake_server: FakeProviderServer) -> AsyncIterator[dict[ProviderName, Provider]]:
    built: dict[ProviderName, Provider] = {
        name: build_provider(name, provider_settings(fake_server, name), FAKE_KEYS[name]) for name in PROVIDER_NAMES
    }
    yield built
    for adapter in built.values():
        await adapter.aclose()


async def collect(adapter: Provider) -> tuple[str, StreamEnd | None]:
    parts: list[str] = []
    end = None
    async for event in adapter.stream(REQUEST):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            end = event
    return "".join(parts), end


async def generate_error(adapter: Provider) -> CloudError:
    with pytest.raises(CloudError) as caught:
        await adapter.generate(REQUEST)
    return caught.value


async def stream_error(adapter: Provider) -> CloudError:
    with pytest.raises(CloudError) as caught:
        await collect(adapter)
    return caught.value


@all_providers
@pytest.mark.asyncio
async def test_generate_returns_text_and_usage(adapters: dict[ProviderName, Provider], name: ProviderName) -> None:
    reply = await adapters[name].generate(REQUEST)

    assert reply.text == REPLY
    assert reply.usage == Usage(input_tokens=fs.INPUT_TOKENS, output_tokens=6, cached_tokens=fs.CACHED_TOKENS)


@all_providers
@pytest.mark.asyncio
async def test_stream_yields_deltas_then_usage(adapters: dict[ProviderName, Provider], name: ProviderName) -> None:
    text, end = await collect(adapters[name])

    assert text == REPLY
    assert end is not None
    assert end.usage.output_tokens == 6
    assert end.usage.input_tokens == fs.INPUT_TOKENS
    assert not end.usage.estimated


@pytest.mark.asyncio
async def test_openai_stream_requests_usage(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer
) -> None:
    await collect(adapters["openai"])

    body = json.loads(fake_server.requests_to("openai")[0].body)
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.asyncio
async def test_request_carries_system_model_and_cap(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer
) -> None:
    for adapter in adapters.values():
        await adapter.generate(REQUEST)

    anthropic = json.loads(fake_server.requests_to("anthropic")[0].body)
    openai = json.loads(fake_server.requests_to("openai")[0].body)
    gemini = json.loads(fake_server.requests_to("gemini")[0].body)
    assert anthropic["system"] == "Answer briefly."
    assert anthropic["max_tokens"] == 64
    assert openai["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert openai["max_completion_tokens"] == 64
    assert gemini["systemInstruction"]["parts"][0]["text"] == "Answer briefly."
    assert gemini["generationConfig"]["maxOutputTokens"] == 64
    assert fake_server.requests_to("gemini")[0].path.endswith("/models/gemini-2.5-flash:generateContent")


@all_providers
@pytest.mark.asyncio
async def test_key_travels_only_in_headers(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    await adapters[name].generate(REQUEST)
    await collect(adapters[name])

    key = FAKE_KEYS[name].get_secret_value()
    for recorded in fake_server.requests_to(name):
        headers = {header.lower(): value for header, value in recorded.headers.items()}
        in_key_header = [header for header in KEY_HEADERS[name] if key in headers.get(header, "")]
        other_headers = [
            header for header, value in headers.items() if key in value and header not in KEY_HEADERS[name]
        ]
        assert in_key_header
        assert not other_headers
        assert key not in recorded.path
        assert key.encode() not in recorded.body


@all_providers
@pytest.mark.asyncio
async def test_connection_is_reused(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    for _ in range(4):
        await adapters[name].generate(REQUEST)
        await collect(adapters[name])

    assert len(fake_server.requests_to(name)) == 8
    assert fake_server.connections_opened == 1


@all_providers
@pytest.mark.asyncio
async def test_sdk_does_not_retry(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.status(503), fs.status(503))

    await generate_error(adapters[name])

    assert len(fake_server.requests_to(name)) == 1


STATUS_CASES = [
    (500, ProviderUnavailableError, True),
    (503, ProviderUnavailableError, True),
    (408, ProviderUnavailableError, True),
    (409, ProviderUnavailableError, True),
    (429, RateLimitedError, True),
    (400, BadRequestError, False),
    (404, BadRequestError, False),
    (422, BadRequestError, False),
    (401, AuthenticationError, False),
    (403, AuthenticationError, False),
]


@all_providers
@pytest.mark.parametrize(("code", "expected", "transient"), STATUS_CASES)
@pytest.mark.asyncio
async def test_status_is_translated(
    adapters: dict[ProviderName, Provider],
    fake_server: FakeProviderServer,
    name: ProviderName,
    code: int,
    expected: type[CloudError],
    transient: bool,
) -> None:
    fake_server.fail(name, fs.status(code))

    error = await generate_error(adapters[name])

    assert type(error) is expected
    assert error.transient is transient
    assert getattr(error, "status", None) == code
    assert error.provider == name


@pytest.mark.asyncio
async def test_anthropic_overloaded_is_transient(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer
) -> None:
    fake_server.fail("anthropic", fs.status(529))

    error = await generate_error(adapters["anthropic"])

    assert isinstance(error, ProviderUnavailableError)
    assert error.transient


@all_providers
@pytest.mark.asyncio
async def test_retry_after_ms_is_read(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.rate_limited(retry_after_ms="1500", retry_after="9"))

    error = await generate_error(adapters[name])

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s == 1.5


@all_providers
@pytest.mark.asyncio
async def test_retry_after_seconds_is_read(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.rate_limited(retry_after="7"))

    error = await generate_error(adapters[name])

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s == 7.0


@all_providers
@pytest.mark.asyncio
async def test_retry_after_date_is_read(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.rate_limited(retry_after=formatdate(time.time() + 30, usegmt=True)))

    error = await generate_error(adapters[name])

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s is not None
    assert 20 <= error.retry_after_s <= 31


@pytest.mark.asyncio
async def test_openai_quota_429_is_permanent(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer
) -> None:
    fake_server.fail("openai", fs.insufficient_quota("openai"))

    error = await generate_error(adapters["openai"])

    assert isinstance(error, RateLimitedError)
    assert not error.transient


@pytest.mark.asyncio
async def test_gemini_daily_quota_is_permanent(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer
) -> None:
    fake_server.fail("gemini", fs.insufficient_quota("gemini"))

    error = await generate_error(adapters["gemini"])

    assert isinstance(error, RateLimitedError)
    assert not error.transient


@pytest.mark.asyncio
async def test_gemini_minute_quota_is_transient(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer
) -> None:
    fake_server.fail("gemini", fs.gemini_rate_limit_per_minute(retry_delay="3s"))

    error = await generate_error(adapters["gemini"])

    assert isinstance(error, RateLimitedError)
    assert error.transient
    assert error.retry_after_s == 3.0


@all_providers
@pytest.mark.asyncio
async def test_malformed_json_is_transient(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.malformed_json())

    error = await generate_error(adapters[name])

    assert isinstance(error, MalformedReplyError)
    assert error.transient


@all_providers
@pytest.mark.asyncio
async def test_slow_reply_times_out(fake_server: FakeProviderServer, name: ProviderName) -> None:
    adapter = build_provider(name, provider_settings(fake_server, name, timeout_s=0.2), FAKE_KEYS[name])
    fake_server.fail(name, fs.slow(1.0))
    try:
        error = await generate_error(adapter)
    finally:
        await adapter.aclose()

    assert isinstance(error, ProviderUnavailableError)
    assert error.transient


@all_providers
@pytest.mark.asyncio
async def test_refused_connection_is_transient(name: ProviderName) -> None:
    from conftest import cloud_settings  # noqa: F401 - keeps the import order of the fixtures module

    settings = provider_settings(FakeProviderServer(), name).model_copy(update={"base_url": "http://127.0.0.1:9"})
    adapter = build_provider(name, settings, FAKE_KEYS[name])
    try:
        error = await generate_error(adapter)
    finally:
        await adapter.aclose()

    assert isinstance(error, ProviderUnavailableError)
    assert error.transient


STREAM_FAULTS = [
    pytest.param(fs.error_event(), id="error-event"),
    pytest.param(fs.drop_mid_stream(), id="dropped-connection"),
    pytest.param(fs.no_final_marker(), id="no-final-marker"),
    pytest.param(fs.empty_chunk(), id="empty-chunk"),
]


@all_providers
@pytest.mark.parametrize("fault", STREAM_FAULTS)
@pytest.mark.asyncio
async def test_broken_stream_is_interrupted(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName, fault: fs.Fault
) -> None:
    fake_server.fail(name, fault)

    error = await stream_error(adapters[name])

    assert isinstance(error, StreamInterruptedError)
    assert error.transient
    assert error.provider == name


@all_providers
@pytest.mark.asyncio
async def test_safety_block_is_refusal(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.safety_block(), fs.safety_block())

    whole = await generate_error(adapters[name])
    streamed = await stream_error(adapters[name])

    assert isinstance(whole, RefusalError)
    assert isinstance(streamed, RefusalError)
    assert not whole.transient


@pytest.mark.parametrize("name", ["openai", "gemini"])
@pytest.mark.asyncio
async def test_missing_usage_is_estimated(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.no_usage(), fs.no_usage())

    reply = await adapters[name].generate(REQUEST)
    _, end = await collect(adapters[name])

    assert reply.usage.estimated
    assert reply.usage.input_tokens > 0
    assert reply.usage.output_tokens > 0
    assert end is not None
    assert end.usage.estimated
    assert end.usage.output_tokens > 0


@all_providers
def test_config_base_url_beats_environment(
    fake_server: FakeProviderServer, name: ProviderName, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL", "gemini": "GOOGLE_GEMINI_BASE_URL"}[
        name
    ]
    monkeypatch.setenv(variable, "http://127.0.0.1:9/from-environment")

    adapter = build_provider(name, provider_settings(fake_server, name), FAKE_KEYS[name])

    assert adapter.base_url.rstrip("/") == fake_server.base_url(name)


@all_providers
@pytest.mark.asyncio
async def test_environment_base_url_is_used(
    fake_server: FakeProviderServer, name: ProviderName, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL", "gemini": "GOOGLE_GEMINI_BASE_URL"}[
        name
    ]
    monkeypatch.setenv(variable, fake_server.base_url(name))
    adapter = build_provider(name, provider_settings(fake_server, name, base_url=None), FAKE_KEYS[name])
    try:
        reply = await adapter.generate(REQUEST)
    finally:
        await adapter.aclose()

    assert reply.text == REPLY
    assert len(fake_server.requests_to(name)) == 1


@all_providers
def test_sdk_default_base_url_without_settings(
    fake_server: FakeProviderServer, name: ProviderName, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    expected = {
        "anthropic": "https://api.anthropic.com",
        "openai": "https://api.openai.com/v1",
        "gemini": "https://generativelanguage.googleapis.com",
    }[name]

    adapter = build_provider(name, provider_settings(fake_server, name, base_url=None), FAKE_KEYS[name])

    assert adapter.base_url.rstrip("/") == expected


@all_providers
def test_repr_names_model_not_key(fake_server: FakeProviderServer, name: ProviderName) -> None:
    adapter = build_provider(name, provider_settings(fake_server, name), FAKE_KEYS[name])

    text = repr(adapter)

    assert provider_settings(fake_server, name).model in text
    assert FAKE_KEYS[name].get_secret_value() not in text


def test_retry_after_ms_wins_over_seconds() -> None:
    assert parse_retry_after_s({"retry-after-ms": "250", "Retry-After": "4"}) == 0.25


def test_retry_after_seconds() -> None:
    assert parse_retry_after_s({"Retry-After": "12"}) == 12.0


def test_retry_after_date_in_past_is_zero() -> None:
    assert parse_retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_retry_after_date_ahead() -> None:
    now_s = 1_700_000_000.0
    header = formatdate(now_s + 42, usegmt=True)

    assert parse_retry_after_s({"Retry-After": header}, now_s=now_s) == 42.0


@pytest.mark.parametrize("value", ["soon", "-3", "nan", ""])
def test_retry_after_unreadable_is_ignored(value: str) -> None:
    assert parse_retry_after_s({"Retry-After": value}) is None


def test_retry_after_absent() -> None:
    assert parse_retry_after_s({}) is None
    assert parse_retry_after_s(None) is None


def test_gemini_quota_by_billing_reason() -> None:
    error = {
        "status": "RESOURCE_EXHAUSTED",
        "message": "quota",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BILLING_DISABLED"}],
    }

    assert quota_exhausted(error)


def test_gemini_quota_structure_beats_wording() -> None:
    error = {
        "status": "RESOURCE_EXHAUSTED",
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "RequestsPerMinute"}]}
        ],
    }

    assert not quota_exhausted(error)


def test_gemini_quota_wording_without_details() -> None:
    billing = {"status": "RESOURCE_EXHAUSTED", "message": "Check your plan and billing details."}
    plain = {"status": "RESOURCE_EXHAUSTED", "message": "Too many requests."}

    assert quota_exhausted(billing)
    assert not quota_exhausted(plain)


def test_gemini_quota_needs_resource_exhausted() -> None:
    assert not quota_exhausted({"status": "UNAVAILABLE", "message": "billing"})


@all_providers
@pytest.mark.asyncio
async def test_stream_status_error_is_translated(
    adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer, name: ProviderName
) -> None:
    fake_server.fail(name, fs.status(429, headers={"Retry-After": "2"}), fs.status(401))

    limited = await stream_error(adapters[name])
    rejected = await stream_error(adapters[name])

    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after_s == 2.0
    assert isinstance(rejected, AuthenticationError)


@pytest.mark.asyncio
async def test_zero_usage_is_estimated(adapters: dict[ProviderName, Provider], fake_server: FakeProviderServer) -> None:
    fake_server.fail("openai", fs.zero_usage(), fs.zero_usage())

    reply = await adapters["openai"].generate(REQUEST)
    _, end = await collect(adapters["openai"])

    assert reply.usage.estimated
    assert reply.usage.output_tokens > 0
    assert end is not None
    assert end.usage.estimated
