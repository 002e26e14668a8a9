"""A circuit breaker per provider: a pure state machine advanced by an injected clock.

Closed: requests pass and their outcomes are counted in a sliding window.
When the window holds at least ``min_requests`` outcomes and the share of
failures reaches ``failure_ratio``, or an authentication error arrives, the
breaker opens. Open: requests are skipped for ``open_s`` seconds. Then it is
half-open: one probe request passes; its success closes the breaker and its
failure opens it again. Refusals, local limits and cancelled requests are not
counted at all.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable

from jarvis.cloud.config import BreakerSettings
from jarvis.errors import AuthenticationError, CloudError, ProviderError

Clock = Callable[[], float]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def counts_as_failure(error: CloudError) -> bool:
    """Tell whether ``error`` says something about the provider's health.

    Provider errors do (including a rejected key); refusals, the local rate limit,
    the budget and the input guard do not.
    """
    return isinstance(error, ProviderError)


class CircuitBreaker:
    """Breaker for one provider; ``clock`` returns monotonic seconds."""

    def __init__(self, settings: BreakerSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._outcomes: deque[tuple[float, bool]] = deque()
        """(time in clock seconds, failed) of recent requests while closed."""
        self._opened_at = 0.0
        self._probe_in_flight = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value})"

    @property
    def state(self) -> BreakerState:
        """The current state, moving from open to half-open once ``open_s`` has passed."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._settings.open_s:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        return self._state

    def allow(self) -> bool:
        """Tell whether a request may be sent now; in half-open state only one probe is let through.

        Every allowed request must be followed by exactly one of
        :meth:`record_success`, :meth:`record_failure` or :meth:`record_ignored`.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        """Count a successful request."""
        if self.state is BreakerState.HALF_OPEN:
            self._close()
            return
        self._add_outcome(failed=False)

    def record_failure(self, error: CloudError) -> None:
        """Count a failed request, unless ``error`` says nothing about the provider's health."""
        if not counts_as_failure(error):
            self.record_ignored()
            return
        state = self.state
        if state is BreakerState.HALF_OPEN or isinstance(error, AuthenticationError):
            self._open()
            return
        if state is BreakerState.CLOSED:
            self._add_outcome(failed=True)
            if self._window_tripped():
                self._open()

    def record_ignored(self) -> None:
        """End an allowed request without counting it (refusal, cancellation, local limit)."""
        if self.state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False

    def _add_outcome(self, *, failed: bool) -> None:
        now = self._clock()
        self._outcomes.append((now, failed))
        horizon = now - self._settings.window_s
        while self._outcomes and self._outcomes[0][0] <= horizon:
            self._outcomes.popleft()

    def _window_tripped(self) -> bool:
        total = len(self._outcomes)
        if total < self._settings.min_requests:
            return False
        failures = sum(1 for _, failed in self._outcomes if failed)
        return failures / total >= self._settings.failure_ratio

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_in_flight = False
        self._outcomes.clear()

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._probe_in_flight = False
        self._outcomes.clear()
