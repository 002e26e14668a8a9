"""One call to one provider: its admission (breaker, rate limit, budget) and its settlement.

Also the small records the client keeps per request and per provider. The
ledger writes that follow a call (settle, release) run in the background, so
the answer is not held up by the ledger's synchronous disk write. The
reservation made before the call already bounds the spend, so a settlement
that lands a little later only lowers the booked amount.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog

from jarvis.cloud.breaker import CircuitBreaker
from jarvis.cloud.budget import Reservation
from jarvis.cloud.limits import RateLimiter
from jarvis.cloud.providers import Provider, ProviderRequest
from jarvis.cloud.types import CloudAnswer, ProviderName, Usage
from jarvis.errors import AllProvidersFailedError, BudgetExceededError, CircuitOpenError, CloudError

if TYPE_CHECKING:
    from jarvis.cloud.client import CloudClient

_log = structlog.get_logger("jarvis.cloud.client")


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request after the input guard, as every provider attempt sends it."""

    sent: ProviderRequest
    """System prompt with the canary, guarded messages with the untrusted parts wrapped."""
    input_tokens: int
    """Estimated input tokens of ``sent``."""


@dataclass(slots=True)
class Route:
    """Everything the client keeps per provider."""

    name: ProviderName
    provider: Provider
    breaker: CircuitBreaker
    limiter: RateLimiter


@dataclass(slots=True)
class RequestLog:
    """Counts and timings for the one log line of a request."""

    stream: bool
    started_s: float = field(default_factory=time.perf_counter)
    attempts: int = 0
    failures: list[str] = field(default_factory=list)
    """``provider:ErrorType`` of every failed attempt, in order."""

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started_s) * 1000, 2)

    def done(self, answer: CloudAnswer) -> None:
        if answer.cached:
            _log.info(
                "cloud_request",
                provider=answer.provider,
                model=answer.model,
                stream=self.stream,
                cache_hit=True,
                latency_ms=self.elapsed_ms(),
            )
            return
        usage = answer.usage
        _log.info(
            "cloud_request",
            provider=answer.provider,
            model=answer.model,
            stream=self.stream,
            cache_hit=False,
            attempts=self.attempts,
            latency_ms=self.elapsed_ms(),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            usage_estimated=usage.estimated,
            cost_usd=str(answer.cost_usd),
            truncated=answer.truncated,
            failed_attempts=self.failures,
        )

    def failed(self, error: CloudError) -> None:
        _log.warning(
            "cloud_request_failed",
            stream=self.stream,
            attempts=self.attempts,
            latency_ms=self.elapsed_ms(),
            error=type(error).__name__,
            failed_attempts=self.failures,
        )


class Attempt:
    """One call to one provider; every method after :meth:`start` is synchronous and cannot be interrupted."""

    def __init__(self, client: CloudClient, route: Route, prepared: PreparedRequest) -> None:
        self._client = client
        self._route = route
        self._prepared = prepared
        self._allowed = False
        self._acquired_tokens = 0
        self._reservation: Reservation | None = None

    async def start(self) -> None:
        """Pass the breaker, the rate limiter and the budget, or raise the error that stops this attempt."""
        route, sent = self._route, self._prepared.sent
        if not route.breaker.allow():
            raise CircuitOpenError(
                f"{route.name} is failing often; skipped until its breaker closes", provider=route.name
            )
        self._allowed = True
        tokens = self._prepared.input_tokens + sent.max_output_tokens
        await route.limiter.acquire(tokens, self._client.settings.rate_limit_wait_s)
        self._acquired_tokens = tokens
        worst_case_usd = self._client.prices.worst_case_usd(
            route.name, route.provider.model, self._prepared.input_tokens, sent.max_output_tokens
        )
        self._reservation = await self._client.ledger.reserve(route.name, route.provider.model, worst_case_usd)

    def succeed(self, usage: Usage) -> Decimal:
        """Settle the real cost, count a success and return the cost in US dollars."""
        cost_usd = self._settle(usage)
        self._route.breaker.record_success()
        return cost_usd

    def fail(self, error: CloudError, billed: Usage | None = None) -> Decimal:
        """Settle ``billed`` usage (or release the reservation), count the failure and return the cost settled."""
        cost_usd = self._settle(billed) if billed is not None else self._release()
        if self._allowed:
            self._route.breaker.record_failure(error)
        return cost_usd

    def abandon(self, billed: Usage | None) -> None:
        """End an attempt the caller cancelled, without counting it for or against the provider."""
        if billed is not None:
            self._settle(billed)
        else:
            self._release()
        if self._allowed:
            self._route.breaker.record_ignored()

    def _settle(self, usage: Usage) -> Decimal:
        cost_usd = self._client.prices.cost_usd(self._route.name, self._route.provider.model, usage)
        if self._reservation is not None:
            self._client._write_ledger_later(self._client.ledger.settle(self._reservation, usage, cost_usd), "settle")
            self._reservation = None
        if self._acquired_tokens:
            self._route.limiter.record(usage.input_tokens + usage.output_tokens - self._acquired_tokens)
            self._acquired_tokens = 0
        return cost_usd

    def _release(self) -> Decimal:
        if self._reservation is not None:
            self._client._write_ledger_later(self._client.ledger.release(self._reservation), "release")
            self._reservation = None
        return Decimal(0)


def combine_failures(causes: list[CloudError]) -> CloudError:
    """Return the error to raise when no provider answered.

    The only cause when one provider was tried, the first budget error when
    every provider ran out of budget, else :class:`AllProvidersFailedError`.
    """
    if len(causes) == 1:
        return causes[0]
    if causes and all(isinstance(cause, BudgetExceededError) for cause in causes):
        return causes[0]
    summary = "; ".join(str(cause) for cause in causes) or "no provider was tried"
    return AllProvidersFailedError(f"every cloud provider failed: {summary}", causes)
