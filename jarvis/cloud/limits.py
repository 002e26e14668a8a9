"""Our own requests-per-minute and tokens-per-minute limit for one provider.

A sliding window over the last 60 seconds: each granted request is an event
carrying its token estimate. A request is granted when, counting it, the window
contains at most ``requests_per_minute`` events and ``tokens_per_minute`` tokens.
Waiters are not served in arrival order; a waiter re-checks after its computed
wait and may lose the slot to a newer request.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jarvis.errors import LocalRateLimitError

WINDOW_S = 60.0


@dataclass(slots=True)
class _Event:
    at_s: float
    tokens: int


class RateLimiter:
    """Sliding-window limiter; ``clock`` returns seconds and ``sleep`` waits, both injectable for tests."""

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute < 1 or tokens_per_minute < 1:
            raise ValueError("requests_per_minute and tokens_per_minute must be at least 1")
        self._max_requests = requests_per_minute
        self._max_tokens = tokens_per_minute
        self._clock = clock
        self._sleep = sleep
        self._events: deque[_Event] = deque()
        self._tokens_in_window = 0

    async def acquire(self, tokens: int, max_wait_s: float) -> None:
        """Count a request of ``tokens`` estimated tokens, waiting up to ``max_wait_s`` seconds for room.

        Raises:
            LocalRateLimitError: the request would have to wait longer than
                ``max_wait_s``, or it alone exceeds the tokens-per-minute limit.
                The message gives the time to wait before a retry.
        """
        tokens = max(tokens, 0)
        if tokens > self._max_tokens:
            raise LocalRateLimitError(
                f"the request needs about {tokens} tokens, more than the limit of {self._max_tokens} tokens "
                "per minute; shorten the request or raise tokens_per_minute in the provider's cloud settings",
                transient=False,
            )
        deadline_s = self._clock() + max_wait_s
        while True:
            now_s = self._clock()
            wait_s = self._wait_needed(now_s, tokens)
            if wait_s <= 0:
                self._events.append(_Event(now_s, tokens))
                self._tokens_in_window += tokens
                return
            if now_s + wait_s > deadline_s:
                raise LocalRateLimitError(
                    f"local rate limit reached ({self._max_requests} requests and {self._max_tokens} tokens per "
                    f"minute); retry in {wait_s:.1f} s"
                )
            await self._sleep(wait_s)

    def record(self, tokens: int) -> None:
        """Correct the window with real usage: ``tokens`` is real minus estimated tokens of a finished request.

        A positive difference is counted now. A negative one is taken back from
        the newest events, never below zero per event.
        """
        if tokens > 0:
            self._events.append(_Event(self._clock(), tokens))
            self._tokens_in_window += tokens
            return
        refund = -tokens
        for event in reversed(self._events):
            if refund == 0:
                break
            taken = min(event.tokens, refund)
            event.tokens -= taken
            self._tokens_in_window -= taken
            refund -= taken

    def _wait_needed(self, now_s: float, tokens: int) -> float:
        """Return how long from ``now_s`` until a request of ``tokens`` fits the window; 0 if it fits now."""
        self._expire(now_s)
        wait_s = 0.0
        if len(self._events) >= self._max_requests:
            oldest_to_leave = self._events[len(self._events) - self._max_requests]
            wait_s = oldest_to_leave.at_s + WINDOW_S - now_s
        excess = self._tokens_in_window + tokens - self._max_tokens
        if excess > 0:
            freed = 0
            for event in self._events:
                freed += event.tokens
                if freed >= excess:
                    wait_s = max(wait_s, event.at_s + WINDOW_S - now_s)
                    break
        return max(wait_s, 0.0)

    def _expire(self, now_s: float) -> None:
        while self._events and self._events[0].at_s + WINDOW_S <= now_s:
            self._tokens_in_window -= self._events.popleft().tokens
