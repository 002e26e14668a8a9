"""Retry decisions and full-jitter backoff, with injected randomness and sleep."""

from __future__ import annotations

import pytest

from jarvis.cloud.config import RetrySettings
from jarvis.cloud.retry import RetryPolicy
from jarvis.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CircuitOpenError,
    LocalRateLimitError,
    MalformedReplyError,
    ProviderUnavailableError,
    RateLimitedError,
    RefusalError,
    StreamInterruptedError,
)

SETTINGS = RetrySettings(max_attempts=4, base_delay_s=0.5, max_delay_s=3.0, max_retry_after_s=10.0)


class UniformRecorder:
    """Stands in for random.uniform: records each range and returns a chosen share of it."""

    def __init__(self, share: float = 1.0) -> None:
        self.share = share
        self.ranges: list[tuple[float, float]] = []

    def __call__(self, low: float, high: float) -> float:
        self.ranges.append((low, high))
        return low + (high - low) * self.share


def policy(uniform: UniformRecorder | None = None, settings: RetrySettings = SETTINGS) -> RetryPolicy:
    return RetryPolicy(settings, uniform=uniform or UniformRecorder())


def test_backoff_doubles_up_to_the_cap() -> None:
    uniform = UniformRecorder()
    retry = policy(uniform)

    delays = [retry.backoff_s(index) for index in range(5)]

    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_draws_from_zero() -> None:
    uniform = UniformRecorder(share=0.5)

    delay = policy(uniform).backoff_s(2)

    assert uniform.ranges == [(0.0, 2.0)]
    assert delay == 1.0


def test_transient_error_is_retried_with_backoff() -> None:
    uniform = UniformRecorder(share=0.25)

    decision = policy(uniform).decide(ProviderUnavailableError("down"), attempt=2)

    assert decision.retry
    assert decision.delay_s == 0.25
    assert uniform.ranges == [(0.0, 1.0)]


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailableError("down"),
        RateLimitedError("busy"),
        StreamInterruptedError("cut"),
        MalformedReplyError("garbled"),
    ],
)
def test_each_transient_kind_is_retried(error: Exception) -> None:
    assert policy().decide(error, attempt=1).retry  # type: ignore[arg-type]


def test_attempts_run_out() -> None:
    decision = policy().decide(ProviderUnavailableError("down"), attempt=SETTINGS.max_attempts)

    assert not decision.retry
    assert decision.reason == "attempts"


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad"),
        AuthenticationError("key"),
        RefusalError("no"),
        BudgetExceededError("spent"),
        RateLimitedError("quota", transient=False),
    ],
)
def test_never_retried(error: Exception) -> None:
    decision = policy().decide(error, attempt=1)  # type: ignore[arg-type]

    assert not decision.retry
    assert decision.reason == "permanent"


@pytest.mark.parametrize("error", [CircuitOpenError("open"), LocalRateLimitError("full")])
def test_skip_to_next_provider(error: Exception) -> None:
    decision = policy().decide(error, attempt=1)  # type: ignore[arg-type]

    assert not decision.retry
    assert decision.reason == "skip"


def test_short_retry_after_is_honoured() -> None:
    uniform = UniformRecorder()

    decision = policy(uniform).decide(RateLimitedError("busy", retry_after_s=4.5), attempt=1)

    assert decision.retry
    assert decision.delay_s == 4.5
    assert uniform.ranges == []


def test_retry_after_at_limit_is_honoured() -> None:
    decision = policy().decide(RateLimitedError("busy", retry_after_s=10.0), attempt=1)

    assert decision.retry
    assert decision.delay_s == 10.0


def test_long_retry_after_gives_up_at_once() -> None:
    decision = policy().decide(RateLimitedError("busy", retry_after_s=10.5), attempt=1)

    assert not decision.retry
    assert decision.reason == "retry_after"


def test_retry_after_counts_against_attempts() -> None:
    decision = policy().decide(RateLimitedError("busy", retry_after_s=1.0), attempt=SETTINGS.max_attempts)

    assert not decision.retry


def test_single_attempt_setting_never_retries() -> None:
    settings = RetrySettings(max_attempts=1)

    assert not policy(settings=settings).decide(ProviderUnavailableError("down"), attempt=1).retry


@pytest.mark.asyncio
async def test_wait_uses_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    retry = RetryPolicy(SETTINGS, sleep=sleep)
    await retry.wait(1.25)

    assert slept == [1.25]
