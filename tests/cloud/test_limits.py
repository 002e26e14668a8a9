"""Local rate limiter: sliding window of requests and tokens with an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from jarvis.cloud.limits import RateLimiter
from jarvis.errors import LocalRateLimitError


class ManualClock:
    """Seconds that move only when advanced, by a test or by :class:`AdvancingSleep`."""

    def __init__(self) -> None:
        self.now_s = 500.0

    def __call__(self) -> float:
        return self.now_s


class AdvancingSleep:
    """A sleep that moves the clock forward by the delay at once and records it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.delays_s: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays_s.append(seconds)
        self.clock.now_s += seconds
        await asyncio.sleep(0)


def limiter(requests: int = 3, tokens: int = 1000) -> tuple[RateLimiter, ManualClock, AdvancingSleep]:
    clock = ManualClock()
    sleep = AdvancingSleep(clock)
    return RateLimiter(requests, tokens, clock=clock, sleep=sleep), clock, sleep


@pytest.mark.asyncio
async def test_requests_under_limit_do_not_wait() -> None:
    rate, _, sleep = limiter(requests=3)
    for _ in range(3):
        await rate.acquire(10, max_wait_s=0)
    assert sleep.delays_s == []


@pytest.mark.asyncio
async def test_request_over_limit_raises_without_wait() -> None:
    rate, _, _ = limiter(requests=2)
    await rate.acquire(10, max_wait_s=0)
    await rate.acquire(10, max_wait_s=0)
    with pytest.raises(LocalRateLimitError, match=r"retry in 60\.0 s"):
        await rate.acquire(10, max_wait_s=5)


@pytest.mark.asyncio
async def test_request_waits_when_allowed() -> None:
    rate, clock, sleep = limiter(requests=1)
    await rate.acquire(10, max_wait_s=0)
    clock.now_s += 50
    await rate.acquire(10, max_wait_s=15)
    assert sleep.delays_s == [pytest.approx(10.0)]


@pytest.mark.asyncio
async def test_window_slides() -> None:
    rate, clock, _ = limiter(requests=2)
    await rate.acquire(10, max_wait_s=0)
    clock.now_s += 30
    await rate.acquire(10, max_wait_s=0)
    clock.now_s += 30  # the first request leaves the window
    await rate.acquire(10, max_wait_s=0)
    with pytest.raises(LocalRateLimitError):
        await rate.acquire(10, max_wait_s=0)


@pytest.mark.asyncio
async def test_token_limit_applies() -> None:
    rate, _, _ = limiter(requests=100, tokens=1000)
    await rate.acquire(600, max_wait_s=0)
    with pytest.raises(LocalRateLimitError, match="tokens per minute"):
        await rate.acquire(500, max_wait_s=0)


@pytest.mark.asyncio
async def test_token_wait_frees_enough_tokens() -> None:
    rate, clock, sleep = limiter(requests=100, tokens=1000)
    await rate.acquire(300, max_wait_s=0)
    clock.now_s += 10
    await rate.acquire(600, max_wait_s=0)
    clock.now_s += 10
    await rate.acquire(400, max_wait_s=60)  # needs the first 300 gone: at +60 from the start
    assert sleep.delays_s == [pytest.approx(40.0)]


@pytest.mark.asyncio
async def test_oversized_request_is_permanent_error() -> None:
    rate, _, _ = limiter(tokens=1000)
    with pytest.raises(LocalRateLimitError) as caught:
        await rate.acquire(1001, max_wait_s=600)
    assert caught.value.transient is False
    assert "shorten the request" in str(caught.value)


@pytest.mark.asyncio
async def test_wait_error_is_transient() -> None:
    rate, _, _ = limiter(requests=1)
    await rate.acquire(1, max_wait_s=0)
    with pytest.raises(LocalRateLimitError) as caught:
        await rate.acquire(1, max_wait_s=0)
    assert caught.value.transient is True


@pytest.mark.asyncio
async def test_record_adds_extra_usage() -> None:
    rate, _, _ = limiter(requests=100, tokens=1000)
    await rate.acquire(100, max_wait_s=0)
    rate.record(800)  # the call used 900 tokens, 800 more than estimated
    with pytest.raises(LocalRateLimitError):
        await rate.acquire(200, max_wait_s=0)


@pytest.mark.asyncio
async def test_record_refunds_overestimate() -> None:
    rate, _, _ = limiter(requests=100, tokens=1000)
    await rate.acquire(900, max_wait_s=0)
    rate.record(-800)  # the call used only 100 tokens
    await rate.acquire(800, max_wait_s=0)


@pytest.mark.asyncio
async def test_refund_never_goes_below_zero() -> None:
    rate, _, _ = limiter(requests=100, tokens=1000)
    await rate.acquire(100, max_wait_s=0)
    rate.record(-5000)
    with pytest.raises(LocalRateLimitError):
        await rate.acquire(1001, max_wait_s=0)
    await rate.acquire(1000, max_wait_s=0)


@pytest.mark.asyncio
async def test_concurrent_waiters_respect_limit() -> None:
    rate, clock, _ = limiter(requests=5, tokens=100_000)
    grant_times: list[float] = []

    async def one() -> None:
        await rate.acquire(1, max_wait_s=300)
        grant_times.append(clock.now_s)

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(12))), timeout=5)
    assert len(grant_times) == 12
    for start in grant_times:
        in_window = [t for t in grant_times if start <= t < start + 60]
        assert len(in_window) <= 5


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0, 100)
