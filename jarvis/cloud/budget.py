"""The daily spend ledger that keeps cloud calls within the budget.

Before a call, :meth:`BudgetLedger.reserve` books its worst-case cost; after
it, :meth:`~BudgetLedger.settle` replaces the booking with the real cost, or
:meth:`~BudgetLedger.release` drops it when nothing was sent. The check and the
insert run in one ``BEGIN IMMEDIATE`` transaction of a SQLite file in WAL
mode. So for any mix of coroutines, threads and processes sharing the file,
settled costs plus open reservations of a UTC day stay within the budget.
The one exception is a call that costs more than it reserved, which is
recorded at its real cost and logged.

Reservations survive a crash: a reservation its process never settled stays
booked at its worst case for its day, so money is never lost from the books.
The day's budget is reduced by it until the day ends.

Amounts are stored as whole picodollars (10^-12 USD), rounded up, so sums in
SQL are exact.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TypeVar

import structlog

from jarvis.cloud.types import Usage
from jarvis.config import state_dir
from jarvis.errors import BudgetExceededError, CloudError, ConfigError

_log = structlog.get_logger(__name__)

_T = TypeVar("_T")
_PICO = Decimal(10) ** 12
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS spend (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    created_at TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'settled', 'released')),
    reserved_pusd INTEGER NOT NULL,
    cost_pusd INTEGER,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    estimated INTEGER NOT NULL DEFAULT 0,
    owner_pid INTEGER NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS spend_by_day ON spend (day, state)",
)

_DAY_TOTALS = """
SELECT COALESCE(SUM(CASE WHEN state = 'settled' THEN cost_pusd END), 0),
       COALESCE(SUM(CASE WHEN state = 'reserved' THEN reserved_pusd END), 0)
FROM spend WHERE day = ?
"""

_USAGE = """
SELECT day, provider, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens),
       SUM(CASE WHEN state = 'settled' THEN cost_pusd ELSE reserved_pusd END),
       MAX(CASE WHEN state = 'reserved' OR estimated = 1 THEN 1 ELSE 0 END)
FROM spend WHERE day >= ? AND state != 'released'
GROUP BY day, provider ORDER BY day, provider
"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A booked worst-case cost; settling or releasing it again after the first time is ignored."""

    id: int
    provider: str
    model: str
    amount_usd: Decimal
    day: dt.date


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Spend and tokens of one provider on one UTC day.

    ``estimated`` is true when some cost in the row is a worst-case booking
    (an unsettled reservation) or comes from estimated token counts.
    """

    day: dt.date
    provider: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    estimated: bool


@dataclass(frozen=True, slots=True)
class DaySummary:
    """Today's standing against the budget; ``resets_at`` is the next 00:00 UTC."""

    day: dt.date
    spent_usd: Decimal
    reserved_usd: Decimal
    budget_usd: Decimal
    remaining_usd: Decimal
    resets_at: dt.datetime


class BudgetLedger:
    """Daily spend ledger in a SQLite file shared by every JARVIS process.

    Async methods run SQLite in a worker thread. :meth:`usage_by_day`,
    :meth:`today` and :meth:`close` block, so call them outside the event loop
    or only where a short block is acceptable (the command line).
    """

    def __init__(self, path: Path, daily_usd: Decimal, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        if daily_usd < 0:
            raise ConfigError("cloud.budget.daily_usd must be 0 or more")
        self._path = path
        self._budget_pusd = _to_pusd(daily_usd)
        self._budget_usd = daily_usd
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self._in_flight: set[asyncio.Future[Reservation]] = set()
        self._orphan_tasks: set[asyncio.Future[None]] = set()

    @property
    def path(self) -> Path:
        """Ledger file."""
        return self._path

    async def reserve(self, provider: str, model: str, amount_usd: Decimal) -> Reservation:
        """Book ``amount_usd`` for a call about to be sent.

        Raises:
            BudgetExceededError: the booking would take today's spend over the
                budget; the message gives spent, reserved, budget, the reset
                time and how to raise the budget.
            CloudError: the ledger file cannot be read or written.
        """
        if amount_usd < 0:
            raise ValueError("a reservation amount cannot be negative")
        work = asyncio.ensure_future(asyncio.to_thread(self._locked, self._reserve, provider, model, amount_usd))
        self._in_flight.add(work)
        work.add_done_callback(self._in_flight.discard)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # The insert may still complete in the worker thread; give that booking back.
            work.add_done_callback(self._release_orphan)
            raise

    async def settle(self, reservation: Reservation, usage: Usage, cost_usd: Decimal) -> None:
        """Replace ``reservation`` with the real cost and token counts of the call."""
        if cost_usd > reservation.amount_usd:
            _log.warning(
                "cloud_cost_above_reservation",
                provider=reservation.provider,
                model=reservation.model,
                reserved_usd=str(reservation.amount_usd),
                cost_usd=str(cost_usd),
            )
        await asyncio.to_thread(self._locked, self._settle, reservation, usage, cost_usd)

    async def release(self, reservation: Reservation) -> None:
        """Drop ``reservation`` because the call was not billed."""
        await asyncio.to_thread(self._locked, self._release, reservation)

    def today(self) -> DaySummary:
        """Return today's spend, open reservations and remaining budget."""
        return self._locked(self._today)

    def usage_by_day(self, days: int) -> list[UsageRow]:
        """Return spend and tokens per UTC day and provider for the last ``days`` days, today included."""
        if days < 1:
            raise ValueError("days must be at least 1")
        return self._locked(self._usage_by_day, days)

    async def aclose(self) -> None:
        """Wait for reservations still being written and for cancelled callers' bookings to be released, then close."""
        while self._in_flight or self._orphan_tasks:
            await asyncio.gather(*self._in_flight, *self._orphan_tasks, return_exceptions=True)
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Close the ledger file; later calls raise CloudError.

        A reservation whose caller was cancelled and whose release is still
        pending stays booked; :meth:`aclose` waits for those releases.
        """
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> BudgetLedger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Everything below runs in a worker thread, or in the caller's thread for the blocking methods.

    def _locked(self, operation: Callable[..., _T], *args: object) -> _T:
        with self._lock:
            if self._closed:
                raise CloudError(f"the spend ledger {self._path} is closed")
            try:
                return operation(self._connect(), *args)
            except sqlite3.Error as err:
                raise CloudError(
                    f"cannot read or write the spend ledger {self._path}: {err}; check that the file is writable "
                    "or set cloud.budget.ledger_path"
                ) from err

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as err:
            raise ConfigError(
                f"cannot create the folder of the spend ledger {self._path}: {err.strerror}; "
                "set cloud.budget.ledger_path to a writable file"
            ) from err
        connection = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CloudError(f"the spend ledger {self._path} cannot use WAL mode (got {mode})")
            # WAL with NORMAL sync keeps every committed reservation across a crash of
            # the process; only a power loss or OS crash can drop the last few commits.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _reserve(self, connection: sqlite3.Connection, provider: str, model: str, amount_usd: Decimal) -> Reservation:
        now = self._clock().astimezone(dt.UTC)
        day = now.date()
        amount_pusd = _to_pusd(amount_usd)
        connection.execute("BEGIN IMMEDIATE")
        try:
            spent_pusd, reserved_pusd = connection.execute(_DAY_TOTALS, (day.isoformat(),)).fetchone()
            if spent_pusd + reserved_pusd + amount_pusd > self._budget_pusd:
                connection.execute("ROLLBACK")
                raise self._exceeded(now, spent_pusd, reserved_pusd, amount_usd)
            cursor = connection.execute(
                "INSERT INTO spend (day, created_at, provider, model, state, reserved_pusd, owner_pid) "
                "VALUES (?, ?, ?, ?, 'reserved', ?, ?)",
                (day.isoformat(), now.isoformat(), provider, model, amount_pusd, os.getpid()),
            )
            connection.execute("COMMIT")
        except sqlite3.Error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        reservation_id = cursor.lastrowid
        if reservation_id is None:  # pragma: no cover - SQLite always sets it after an INSERT
            raise CloudError("the spend ledger returned no id for a new reservation")
        return Reservation(reservation_id, provider, model, amount_usd, day)

    def _exceeded(
        self, now: dt.datetime, spent_pusd: int, reserved_pusd: int, amount_usd: Decimal
    ) -> BudgetExceededError:
        resets_at = _next_midnight(now)
        hours, minutes = divmod(int((resets_at - now).total_seconds()) // 60, 60)
        return BudgetExceededError(
            f"the daily cloud budget of {_usd(self._budget_usd)} would be exceeded: {_usd(_from_pusd(spent_pusd))} "
            f"spent and {_usd(_from_pusd(reserved_pusd))} reserved by requests in flight today (UTC), and this "
            f"request may cost up to {_usd(amount_usd)}. The budget resets at 00:00 UTC, in {hours} h {minutes} min. "
            "To allow more, raise cloud.budget.daily_usd in the config file or JARVIS_CLOUD__BUDGET__DAILY_USD",
            transient=False,
        )

    def _settle(
        self, connection: sqlite3.Connection, reservation: Reservation, usage: Usage, cost_usd: Decimal
    ) -> None:
        cursor = connection.execute(
            "UPDATE spend SET state = 'settled', cost_pusd = ?, input_tokens = ?, output_tokens = ?, "
            "cached_tokens = ?, estimated = ? WHERE id = ? AND state = 'reserved'",
            (
                _to_pusd(max(cost_usd, Decimal(0))),
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_tokens,
                int(usage.estimated),
                reservation.id,
            ),
        )
        if cursor.rowcount == 0:
            _log.warning("cloud_budget_settle_ignored", reservation_id=reservation.id, reason="not open")

    def _release(self, connection: sqlite3.Connection, reservation: Reservation) -> None:
        cursor = connection.execute(
            "UPDATE spend SET state = 'released' WHERE id = ? AND state = 'reserved'", (reservation.id,)
        )
        if cursor.rowcount == 0:
            _log.warning("cloud_budget_release_ignored", reservation_id=reservation.id, reason="not open")

    def _today(self, connection: sqlite3.Connection) -> DaySummary:
        now = self._clock().astimezone(dt.UTC)
        spent_pusd, reserved_pusd = connection.execute(_DAY_TOTALS, (now.date().isoformat(),)).fetchone()
        remaining_pusd = max(self._budget_pusd - spent_pusd - reserved_pusd, 0)
        return DaySummary(
            day=now.date(),
            spent_usd=_from_pusd(spent_pusd),
            reserved_usd=_from_pusd(reserved_pusd),
            budget_usd=self._budget_usd,
            remaining_usd=_from_pusd(remaining_pusd),
            resets_at=_next_midnight(now),
        )

    def _usage_by_day(self, connection: sqlite3.Connection, days: int) -> list[UsageRow]:
        first_day = self._clock().astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
        rows = connection.execute(_USAGE, (first_day.isoformat(),)).fetchall()
        return [
            UsageRow(
                day=dt.date.fromisoformat(day),
                provider=provider,
                requests=requests,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cached_tokens=cached_tokens,
                cost_usd=_from_pusd(cost_pusd),
                estimated=bool(estimated),
            )
            for day, provider, requests, input_tokens, output_tokens, cached_tokens, cost_pusd, estimated in rows
        ]

    def _release_orphan(self, work: asyncio.Future[Reservation]) -> None:
        if work.cancelled() or work.exception() is not None:
            return
        task = asyncio.ensure_future(self.release(work.result()))
        self._orphan_tasks.add(task)
        task.add_done_callback(self._orphan_tasks.discard)


def default_ledger_path() -> Path:
    """Return the ledger file in the platform's state directory."""
    return state_dir() / "spend.sqlite3"


def _to_pusd(amount_usd: Decimal) -> int:
    return int((amount_usd * _PICO).to_integral_value(rounding=ROUND_CEILING))


def _from_pusd(amount_pusd: int) -> Decimal:
    return Decimal(amount_pusd) / _PICO


def _next_midnight(now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)


def _usd(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"
