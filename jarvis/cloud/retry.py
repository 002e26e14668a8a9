"""When to send a failed provider request again, and how long to wait first.

Backoff is exponential with full jitter: before retry ``n`` (0 for the first
retry) the wait is drawn uniformly from ``[0, min(max_delay_s, base_delay_s * 2**n)]``,
which spreads clients that failed together. A provider's own ``Retry-After``
wins over the backoff while it is short enough. A longer one ends the attempts
on that provider at once, so the caller can fall back to the next.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jarvis.cloud.config import RetrySettings
from jarvis.errors import (
    BudgetExceededError,
    CircuitOpenError,
    CloudError,
    LocalRateLimitError,
    ProviderError,
    RefusalError,
)

Sleep = Callable[[float], Awaitable[None]]
Uniform = Callable[[float, float], float]


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to send the request to the same provider again, and after what wait."""

    retry: bool
    delay_s: float = 0.0
    reason: str = ""
    """Why the attempts stop (empty when retrying): ``permanent``, ``attempts``, ``retry_after``, ``skip``."""


class RetryPolicy:
    """Retry decisions and waits for one client; ``uniform`` and ``sleep`` are injectable for tests."""

    def __init__(
        self, settings: RetrySettings, *, uniform: Uniform = random.uniform, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.settings = settings
        self._uniform = uniform
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RetryPolicy(max_attempts={self.settings.max_attempts})"

    def backoff_s(self, retry_index: int) -> float:
        """Return the full-jitter wait before retry ``retry_index`` (0 for the first retry)."""
        ceiling_s = min(self.settings.max_delay_s, self.settings.base_delay_s * 2**retry_index)
        return self._uniform(0.0, ceiling_s)

    def decide(self, error: CloudError, attempt: int) -> RetryDecision:
        """Decide what follows failed attempt number ``attempt`` (1 for the first)."""
        if isinstance(error, (RefusalError, BudgetExceededError)) or not error.transient:
            return RetryDecision(retry=False, reason="permanent")
        if isinstance(error, (CircuitOpenError, LocalRateLimitError)):
            # Waiting longer on the same provider would not help: try the next one.
            return RetryDecision(retry=False, reason="skip")
        if attempt >= self.settings.max_attempts:
            return RetryDecision(retry=False, reason="attempts")

        retry_after_s = error.retry_after_s if isinstance(error, ProviderError) else None
        if retry_after_s is None:
            return RetryDecision(retry=True, delay_s=self.backoff_s(attempt - 1))
        if retry_after_s > self.settings.max_retry_after_s:
            return RetryDecision(retry=False, reason="retry_after")
        return RetryDecision(retry=True, delay_s=retry_after_s)

    async def wait(self, delay_s: float) -> None:
        """Sleep for ``delay_s`` with the injected sleep function."""
        await self._sleep(delay_s)
