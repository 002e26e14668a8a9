"""Budget ledger: atomic reservations across coroutines and processes, settlement, crash survival, UTC days."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from jarvis.cloud.budget import BudgetLedger, default_ledger_path
from jarvis.cloud.types import Usage
from jarvis.errors import BudgetExceededError, CloudError, ConfigError

NOON = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)


class SetClock:
    """A UTC wall clock that tests set by hand."""

    def __init__(self, now: dt.datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def ledger_at(path: Path, budget: str = "1.00", clock: SetClock | None = None) -> BudgetLedger:
    return BudgetLedger(path, Decimal(budget), clock=clock or SetClock())


@pytest.fixture
def ledger(tmp_path: Path) -> BudgetLedger:
    opened = ledger_at(tmp_path / "spend.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


# --- single process -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_reserve_within_budget(ledger: BudgetLedger) -> None:
    reservation = await ledger.reserve("anthropic", "claude-haiku-4-5", Decimal("0.40"))
    assert reservation.amount_usd == Decimal("0.40")
    assert reservation.day == NOON.date()
    assert ledger.today().reserved_usd == Decimal("0.40")


@pytest.mark.asyncio
async def test_reserve_over_budget_raises(ledger: BudgetLedger) -> None:
    await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.70"))
    with pytest.raises(BudgetExceededError):
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.40"))


@pytest.mark.asyncio
async def test_exceeded_message_explains(tmp_path: Path) -> None:
    clock = SetClock(dt.datetime(2025, 3, 14, 21, 30, tzinfo=dt.UTC))
    ledger = ledger_at(tmp_path / "spend.sqlite3", clock=clock)
    settled = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.50"))
    await ledger.settle(settled, Usage(input_tokens=10, output_tokens=10), Decimal("0.25"))
    await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.60"))
    with pytest.raises(BudgetExceededError) as caught:
        await ledger.reserve("gemini", "gemini-2.5-flash", Decimal("0.20"))
    message = str(caught.value)
    ledger.close()
    assert "$1.0000" in message  # the budget
    assert "$0.2500 spent" in message
    assert "$0.6000 reserved" in message
    assert "up to $0.2000" in message
    assert "00:00 UTC, in 2 h 30 min" in message
    assert "cloud.budget.daily_usd" in message


@pytest.mark.asyncio
async def test_exceeded_error_is_permanent(ledger: BudgetLedger) -> None:
    with pytest.raises(BudgetExceededError) as caught:
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("2.00"))
    assert caught.value.transient is False


@pytest.mark.asyncio
async def test_exact_budget_is_allowed(ledger: BudgetLedger) -> None:
    await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.60"))
    await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.40"))
    assert ledger.today().remaining_usd == 0


@pytest.mark.asyncio
async def test_zero_budget_rejects_any_cost(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "spend.sqlite3", budget="0")
    with pytest.raises(BudgetExceededError):
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.000001"))
    ledger.close()


@pytest.mark.asyncio
async def test_settle_replaces_reservation(ledger: BudgetLedger) -> None:
    reservation = await ledger.reserve("anthropic", "claude-haiku-4-5", Decimal("0.50"))
    await ledger.settle(reservation, Usage(input_tokens=100, output_tokens=50), Decimal("0.01"))
    today = ledger.today()
    assert today.spent_usd == Decimal("0.01")
    assert today.reserved_usd == 0
    assert today.remaining_usd == Decimal("0.99")


@pytest.mark.asyncio
async def test_settled_cost_keeps_precision(ledger: BudgetLedger) -> None:
    reservation = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01"))
    await ledger.settle(reservation, Usage(input_tokens=3), Decimal("0.0000012"))
    assert ledger.today().spent_usd == Decimal("0.0000012")


@pytest.mark.asyncio
async def test_release_frees_budget(ledger: BudgetLedger) -> None:
    reservation = await ledger.reserve("gemini", "gemini-2.5-flash", Decimal("0.90"))
    await ledger.release(reservation)
    assert ledger.today().reserved_usd == 0
    await ledger.reserve("gemini", "gemini-2.5-flash", Decimal("0.90"))


@pytest.mark.asyncio
async def test_second_settle_is_ignored(ledger: BudgetLedger, cloud_log) -> None:  # type: ignore[no-untyped-def]
    reservation = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.10"))
    await ledger.settle(reservation, Usage(output_tokens=5), Decimal("0.05"))
    await ledger.settle(reservation, Usage(output_tokens=5), Decimal("0.07"))
    assert ledger.today().spent_usd == Decimal("0.05")
    assert "cloud_budget_settle_ignored" in cloud_log.getvalue()


@pytest.mark.asyncio
async def test_release_after_settle_keeps_cost(ledger: BudgetLedger) -> None:
    reservation = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.10"))
    await ledger.settle(reservation, Usage(output_tokens=5), Decimal("0.05"))
    await ledger.release(reservation)
    assert ledger.today().spent_usd == Decimal("0.05")


@pytest.mark.asyncio
async def test_cost_above_reservation_is_logged(ledger: BudgetLedger, cloud_log) -> None:  # type: ignore[no-untyped-def]
    reservation = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.10"))
    await ledger.settle(reservation, Usage(output_tokens=5), Decimal("0.20"))
    assert ledger.today().spent_usd == Decimal("0.20")
    assert "cloud_cost_above_reservation" in cloud_log.getvalue()


@pytest.mark.asyncio
async def test_negative_amount_is_rejected(ledger: BudgetLedger) -> None:
    with pytest.raises(ValueError, match="negative"):
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("-1"))


@pytest.mark.asyncio
async def test_ledger_uses_wal(ledger: BudgetLedger) -> None:
    await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01"))
    with sqlite3.connect(ledger.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.asyncio
async def test_closed_ledger_raises(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "spend.sqlite3")
    ledger.close()
    with pytest.raises(CloudError, match="closed"):
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01"))


@pytest.mark.asyncio
async def test_unusable_folder_names_setting(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file", encoding="utf-8")
    ledger = ledger_at(folder / "spend.sqlite3")
    with pytest.raises(ConfigError, match=r"cloud\.budget\.ledger_path"):
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01"))


@pytest.mark.asyncio
async def test_corrupt_ledger_is_cloud_error(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    ledger = ledger_at(path)
    with pytest.raises(CloudError, match="spend ledger"):
        await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01"))
    ledger.close()


def test_default_path_is_in_state_dir(no_user_config: None, tmp_path: Path) -> None:
    assert default_ledger_path() == tmp_path / "state" / "jarvis" / "spend.sqlite3"


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fifty_concurrent_reservations_stay_in_budget(ledger: BudgetLedger) -> None:
    async def attempt() -> bool:
        try:
            await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.03"))
        except BudgetExceededError:
            return False
        return True

    results = await asyncio.wait_for(asyncio.gather(*(attempt() for _ in range(50))), timeout=30)
    assert sum(results) == 33
    assert ledger.today().reserved_usd == Decimal("0.99")


@pytest.mark.asyncio
async def test_concurrent_reserve_and_settle_stay_in_budget(ledger: BudgetLedger) -> None:
    async def call(index: int) -> bool:
        try:
            reservation = await ledger.reserve("anthropic", "claude-haiku-4-5", Decimal("0.05"))
        except BudgetExceededError:
            return False
        if index % 2:
            await ledger.settle(reservation, Usage(input_tokens=10, output_tokens=10), Decimal("0.02"))
        else:
            await ledger.release(reservation)
        return True

    await asyncio.wait_for(asyncio.gather(*(call(index) for index in range(60))), timeout=30)
    today = ledger.today()
    assert today.reserved_usd == 0
    assert today.spent_usd <= Decimal("1.00")


@pytest.mark.asyncio
async def test_reserve_does_not_block_event_loop(ledger: BudgetLedger) -> None:
    await ledger.release(await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01")))
    blocker = sqlite3.connect(ledger.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        pending = asyncio.create_task(ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01")))
        ticked = asyncio.Event()
        asyncio.get_running_loop().call_soon(ticked.set)
        await asyncio.wait_for(ticked.wait(), timeout=5)
        assert not pending.done()
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    reservation = await asyncio.wait_for(pending, timeout=30)
    assert reservation.amount_usd == Decimal("0.01")


@pytest.mark.asyncio
async def test_cancelled_reserve_gives_booking_back(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    ledger = ledger_at(path)
    await ledger.release(await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.01")))
    pending = asyncio.create_task(ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.50")))
    await asyncio.sleep(0)  # let the task hand the insert to the worker thread
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await asyncio.wait_for(ledger.aclose(), timeout=30)
    with ledger_at(path) as reopened:
        assert reopened.today().reserved_usd == 0


def _reserve_in_process(path: str, budget: str, amount: str, attempts: int, results: multiprocessing.Queue) -> None:
    async def run() -> int:
        ledger = BudgetLedger(Path(path), Decimal(budget), clock=SetClock())
        granted = 0
        for _ in range(attempts):
            try:
                await ledger.reserve("openai", "gpt-4.1-mini", Decimal(amount))
            except BudgetExceededError:
                continue
            granted += 1
        ledger.close()
        return granted

    results.put(asyncio.run(run()))


def _reserve_and_crash(path: str) -> None:
    async def run() -> None:
        ledger = BudgetLedger(Path(path), Decimal("1.00"), clock=SetClock())
        await ledger.reserve("anthropic", "claude-haiku-4-5", Decimal("0.30"))

    asyncio.run(run())
    os._exit(0)  # end without settling or closing, as a crash would


def test_processes_share_budget(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_reserve_in_process, args=(str(path), "1.00", "0.05", 12, results)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    granted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert sum(granted) == 20
    with ledger_at(path) as ledger:
        assert ledger.today().reserved_usd == Decimal("1.00")


def test_crashed_reservation_counts_as_spent(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    worker = multiprocessing.get_context("spawn").Process(target=_reserve_and_crash, args=(str(path),))
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == 0
    with ledger_at(path) as ledger:
        assert ledger.today().reserved_usd == Decimal("0.30")
        assert ledger.today().remaining_usd == Decimal("0.70")
        [row] = ledger.usage_by_day(1)
        assert row.cost_usd == Decimal("0.30")
        assert row.estimated is True


@pytest.mark.asyncio
async def test_reopened_ledger_keeps_spend(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    first = ledger_at(path)
    reservation = await first.reserve("openai", "gpt-4.1-mini", Decimal("0.40"))
    await first.settle(reservation, Usage(input_tokens=5, output_tokens=5), Decimal("0.35"))
    await first.reserve("openai", "gpt-4.1-mini", Decimal("0.20"))  # never settled
    first.close()
    second = ledger_at(path)
    assert second.today().spent_usd == Decimal("0.35")
    assert second.today().reserved_usd == Decimal("0.20")
    with pytest.raises(BudgetExceededError):
        await second.reserve("openai", "gpt-4.1-mini", Decimal("0.50"))
    second.close()


# --- UTC days and reports -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_budget_resets_at_utc_midnight(tmp_path: Path) -> None:
    clock = SetClock(dt.datetime(2025, 3, 14, 23, 59, tzinfo=dt.UTC))
    ledger = ledger_at(tmp_path / "spend.sqlite3", clock=clock)
    await ledger.reserve("openai", "gpt-4.1-mini", Decimal("1.00"))
    clock.now = dt.datetime(2025, 3, 15, 0, 1, tzinfo=dt.UTC)
    reservation = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("1.00"))
    ledger.close()
    assert reservation.day == dt.date(2025, 3, 15)


@pytest.mark.asyncio
async def test_local_time_is_converted_to_utc(tmp_path: Path) -> None:
    berlin_summer = dt.timezone(dt.timedelta(hours=2))
    clock = SetClock(dt.datetime(2025, 6, 15, 1, 0, tzinfo=berlin_summer))  # 23:00 UTC on June 14
    ledger = ledger_at(tmp_path / "spend.sqlite3", clock=clock)
    reservation = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.10"))
    ledger.close()
    assert reservation.day == dt.date(2025, 6, 14)


@pytest.mark.asyncio
async def test_usage_by_day_groups_provider_and_day(tmp_path: Path) -> None:
    clock = SetClock(NOON - dt.timedelta(days=1))
    ledger = ledger_at(tmp_path / "spend.sqlite3", clock=clock)
    yesterday = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.10"))
    await ledger.settle(yesterday, Usage(input_tokens=100, output_tokens=10, cached_tokens=20), Decimal("0.01"))
    clock.now = NOON
    for tokens in (200, 300):
        today = await ledger.reserve("openai", "gpt-4.1-mini", Decimal("0.10"))
        await ledger.settle(today, Usage(input_tokens=tokens, output_tokens=20), Decimal("0.02"))
    estimated = await ledger.reserve("anthropic", "claude-haiku-4-5", Decimal("0.10"))
    await ledger.settle(estimated, Usage(input_tokens=50, output_tokens=5, estimated=True), Decimal("0.03"))
    await ledger.release(await ledger.reserve("gemini", "gemini-2.5-flash", Decimal("0.10")))

    rows = ledger.usage_by_day(7)
    only_today = ledger.usage_by_day(1)
    ledger.close()
    assert [(row.day.isoformat(), row.provider) for row in rows] == [
        ("2025-03-13", "openai"),
        ("2025-03-14", "anthropic"),
        ("2025-03-14", "openai"),
    ]
    openai_today = rows[2]
    assert openai_today.requests == 2
    assert openai_today.input_tokens == 500
    assert openai_today.output_tokens == 40
    assert openai_today.cost_usd == Decimal("0.04")
    assert openai_today.estimated is False
    assert rows[0].cached_tokens == 20
    assert rows[1].estimated is True
    assert len(only_today) == 2


def test_usage_needs_positive_days(ledger: BudgetLedger) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ledger.usage_by_day(0)


def test_today_reports_reset_time(ledger: BudgetLedger) -> None:
    summary = ledger.today()
    assert summary.resets_at == dt.datetime(2025, 3, 15, tzinfo=dt.UTC)
    assert summary.budget_usd == Decimal("1.00")
    assert summary.remaining_usd == Decimal("1.00")
