"""The circuit breaker state machine, advanced by a fake clock."""

from __future__ import annotations

from conftest import FakeClock

from jarvis.cloud.breaker import BreakerState, CircuitBreaker
from jarvis.cloud.config import BreakerSettings
from jarvis.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    LocalRateLimitError,
    ProviderUnavailableError,
    RefusalError,
)

SETTINGS = BreakerSettings(failure_ratio=0.5, min_requests=4, window_s=60.0, open_s=30.0)
DOWN = ProviderUnavailableError("down")


def breaker(clock: FakeClock | None = None) -> tuple[CircuitBreaker, FakeClock]:
    clock = clock or FakeClock()
    return CircuitBreaker(SETTINGS, clock), clock


def trip(subject: CircuitBreaker) -> None:
    for _ in range(SETTINGS.min_requests):
        assert subject.allow()
        subject.record_failure(DOWN)


def test_starts_closed() -> None:
    subject, _ = breaker()

    assert subject.state is BreakerState.CLOSED
    assert subject.allow()


def test_few_failures_keep_it_closed() -> None:
    subject, _ = breaker()

    for _ in range(SETTINGS.min_requests - 1):
        subject.record_failure(DOWN)

    assert subject.state is BreakerState.CLOSED


def test_failure_ratio_opens_it() -> None:
    subject, _ = breaker()

    subject.record_success()
    subject.record_success()
    subject.record_failure(DOWN)
    assert subject.state is BreakerState.CLOSED
    subject.record_failure(DOWN)

    assert subject.state is BreakerState.OPEN
    assert not subject.allow()


def test_ratio_below_threshold_stays_closed() -> None:
    subject, _ = breaker()

    for _ in range(3):
        subject.record_success()
    subject.record_failure(DOWN)

    assert subject.state is BreakerState.CLOSED


def test_old_outcomes_leave_the_window() -> None:
    subject, clock = breaker()

    for _ in range(3):
        subject.record_failure(DOWN)
    clock.advance(SETTINGS.window_s + 1)
    subject.record_failure(DOWN)

    assert subject.state is BreakerState.CLOSED


def test_authentication_error_opens_at_once() -> None:
    subject, _ = breaker()

    subject.record_failure(AuthenticationError("bad key"))

    assert subject.state is BreakerState.OPEN


def test_refusal_does_not_count() -> None:
    subject, _ = breaker()

    for _ in range(10):
        subject.record_failure(RefusalError("no"))

    assert subject.state is BreakerState.CLOSED


def test_local_errors_do_not_count() -> None:
    subject, _ = breaker()

    for _ in range(5):
        subject.record_failure(BudgetExceededError("spent"))
        subject.record_failure(LocalRateLimitError("full"))

    assert subject.state is BreakerState.CLOSED


def test_rejected_requests_count() -> None:
    subject, _ = breaker()

    for _ in range(SETTINGS.min_requests):
        subject.record_failure(BadRequestError("bad"))

    assert subject.state is BreakerState.OPEN


def test_open_until_open_time_passes() -> None:
    subject, clock = breaker()
    trip(subject)

    clock.advance(SETTINGS.open_s - 0.1)

    assert subject.state is BreakerState.OPEN
    assert not subject.allow()


def test_half_open_lets_one_probe_through() -> None:
    subject, clock = breaker()
    trip(subject)
    clock.advance(SETTINGS.open_s)

    first = subject.allow()
    second = subject.allow()

    assert subject.state is BreakerState.HALF_OPEN
    assert first
    assert not second


def test_probe_success_closes_it() -> None:
    subject, clock = breaker()
    trip(subject)
    clock.advance(SETTINGS.open_s)
    subject.allow()

    subject.record_success()

    assert subject.state is BreakerState.CLOSED
    assert subject.allow()


def test_probe_failure_opens_it_again() -> None:
    subject, clock = breaker()
    trip(subject)
    clock.advance(SETTINGS.open_s)
    subject.allow()

    subject.record_failure(DOWN)

    assert subject.state is BreakerState.OPEN
    clock.advance(SETTINGS.open_s - 0.1)
    assert not subject.allow()


def test_ignored_probe_frees_the_slot() -> None:
    subject, clock = breaker()
    trip(subject)
    clock.advance(SETTINGS.open_s)
    subject.allow()

    subject.record_ignored()

    assert subject.state is BreakerState.HALF_OPEN
    assert subject.allow()


def test_closed_again_forgets_old_failures() -> None:
    subject, clock = breaker()
    trip(subject)
    clock.advance(SETTINGS.open_s)
    subject.allow()
    subject.record_success()

    for _ in range(SETTINGS.min_requests - 1):
        subject.record_failure(DOWN)

    assert subject.state is BreakerState.CLOSED


def test_repr_shows_state() -> None:
    subject, _ = breaker()

    assert repr(subject) == "CircuitBreaker(state=closed)"
