"""The ``jarvis keys`` and ``jarvis usage`` sub-commands.

Each handler takes the parsed arguments and the loaded settings and returns
the process exit code. Keys are read from a hidden prompt and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TextIO

from pydantic import SecretStr

from jarvis.cloud.budget import BudgetLedger, UsageRow, default_ledger_path
from jarvis.cloud.keys import ENV_VARS, KeyStore, no_secure_keyring_message, secure_backends
from jarvis.cloud.types import PROVIDER_NAMES
from jarvis.config import Settings

ReadSecret = Callable[[str], str]

_MAX_DAYS = 3660


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys set|delete|status`` and ``usage`` on the top-level sub-command parser."""
    keys = subparsers.add_parser("keys", help="store, delete or list cloud provider API keys")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    set_key = actions.add_parser("set", help="store a provider's API key in the system keyring (prompted, hidden)")
    set_key.add_argument("provider", choices=PROVIDER_NAMES, help="provider whose key to store")
    set_key.set_defaults(handler=keys_set)

    delete_key = actions.add_parser("delete", help="delete a provider's API key from the system keyring")
    delete_key.add_argument("provider", choices=PROVIDER_NAMES, help="provider whose key to delete")
    delete_key.set_defaults(handler=keys_delete)

    status = actions.add_parser("status", help="show which providers have a key and where it comes from")
    status.set_defaults(handler=keys_status)

    usage = subparsers.add_parser("usage", help="show cloud spend and tokens per provider and UTC day")
    usage.add_argument(
        "--days",
        type=_day_count,
        default=7,
        help=f"number of UTC days shown, today included (1 to {_MAX_DAYS}; default 7)",
    )
    usage.set_defaults(handler=show_usage)


def keys_set(
    args: argparse.Namespace,
    settings: Settings,
    *,
    read_secret: ReadSecret = getpass.getpass,
    store: KeyStore | None = None,
    out: TextIO | None = None,
) -> int:
    """Prompt for a key without echo and store it in the keyring."""
    out = out or sys.stdout
    if store is None and not secure_backends():
        # Say so before the user types a key that could not be stored.
        print(f"jarvis: {no_secure_keyring_message()}", file=sys.stderr)
        return 1
    store = store or KeyStore.from_environment()
    provider: str = args.provider
    try:
        entered = read_secret(f"API key for {provider} (input hidden): ")
    except EOFError:
        entered = ""
    if not entered.strip():
        print(f"jarvis: no key entered; nothing stored for {provider}", file=sys.stderr)
        return 2
    store.set(provider, SecretStr(entered))
    print(f"Stored the {provider} key in the system keyring.", file=out)
    if store.status()[provider] == "environment":
        print(f"Note: {ENV_VARS[provider]} is set in this environment and takes precedence over the keyring.", file=out)
    return 0


def keys_delete(
    args: argparse.Namespace, settings: Settings, *, store: KeyStore | None = None, out: TextIO | None = None
) -> int:
    """Delete a provider's key from the keyring; exit code 1 when none was stored."""
    out = out or sys.stdout
    store = store or KeyStore.from_environment()
    provider: str = args.provider
    if not store.delete(provider):
        print(f"No {provider} key is stored in the system keyring.", file=out)
        return 1
    print(f"Deleted the {provider} key from the system keyring.", file=out)
    return 0


def keys_status(
    args: argparse.Namespace,
    settings: Settings,
    *,
    store: KeyStore | None = None,
    out: TextIO | None = None,
    check_keyring: bool = True,
) -> int:
    """Print where each provider's key comes from; never the key."""
    out = out or sys.stdout
    store = store or KeyStore.from_environment()
    rows = []
    for provider, source in store.status().items():
        shown = f"environment ({ENV_VARS[provider]})" if source == "environment" else source
        rows.append((provider, shown))
    _print_table(("PROVIDER", "KEY FROM"), rows, right_aligned=(), out=out)
    if check_keyring and not secure_backends():
        print(f"\nNote: {no_secure_keyring_message()}", file=out)
    return 0


def show_usage(
    args: argparse.Namespace, settings: Settings, *, ledger: BudgetLedger | None = None, out: TextIO | None = None
) -> int:
    """Print spend and tokens per provider and UTC day, then today's remaining budget."""
    out = out or sys.stdout
    budget = settings.cloud.budget
    if ledger is None:
        path = budget.ledger_path or default_ledger_path()
        if not path.is_file():
            print(f"No cloud usage recorded yet (no ledger at {path}).", file=out)
            print(f"Daily budget: {_usd(budget.daily_usd)}, resets at 00:00 UTC.", file=out)
            return 0
        with BudgetLedger(path, budget.daily_usd) as opened:
            return _print_usage(opened, args.days, out)
    return _print_usage(ledger, args.days, out)


def _print_usage(ledger: BudgetLedger, days: int, out: TextIO) -> int:
    rows = ledger.usage_by_day(days)
    summary = ledger.today()
    if rows:
        _print_table(
            ("DAY (UTC)", "PROVIDER", "REQUESTS", "INPUT", "CACHED", "OUTPUT", "COST (USD)"),
            [_usage_cells(row) for row in rows] + [_total_cells(rows)],
            right_aligned=(2, 3, 4, 5, 6),
            out=out,
        )
        if any(row.estimated for row in rows):
            print("* includes worst-case amounts of unsettled requests or estimated token counts", file=out)
    else:
        print(f"No cloud usage in the last {days} day(s).", file=out)
    print(
        f"\nToday ({summary.day.isoformat()} UTC): spent {_usd(summary.spent_usd)}, "
        f"reserved {_usd(summary.reserved_usd)}, budget {_usd(summary.budget_usd)}, "
        f"remaining {_usd(summary.remaining_usd)}. The budget resets at 00:00 UTC; "
        "raise it with cloud.budget.daily_usd.",
        file=out,
    )
    return 0


def _usage_cells(row: UsageRow) -> tuple[str, ...]:
    return (
        row.day.isoformat(),
        row.provider,
        str(row.requests),
        str(row.input_tokens),
        str(row.cached_tokens),
        str(row.output_tokens),
        _usd(row.cost_usd) + ("*" if row.estimated else " "),
    )


def _total_cells(rows: Sequence[UsageRow]) -> tuple[str, ...]:
    return (
        "total",
        "",
        str(sum(row.requests for row in rows)),
        str(sum(row.input_tokens for row in rows)),
        str(sum(row.cached_tokens for row in rows)),
        str(sum(row.output_tokens for row in rows)),
        _usd(sum((row.cost_usd for row in rows), Decimal(0))) + ("*" if any(row.estimated for row in rows) else " "),
    )


def _print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right_aligned: Sequence[int], out: TextIO
) -> None:
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(len(header))]
    for line in [header, *rows]:
        cells = [
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)


def _usd(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"


def _day_count(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of days") from None
    if not 1 <= days <= _MAX_DAYS:
        raise argparse.ArgumentTypeError(f"days must be between 1 and {_MAX_DAYS}, got {days}")
    return days
