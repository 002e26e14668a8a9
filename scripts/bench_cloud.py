"""Measure what the cloud client adds on top of a bare SDK call, against the fake provider server.

Run from the repository root:

    .venv/bin/python scripts/bench_cloud.py [--requests 300] [--concurrent 200]

Everything runs on 127.0.0.1 against tests/cloud/fake_server.py, started in a
separate process so that it does not compete with the client for the GIL.
The table it prints has three parts. First, the client's added time per
request (p50, p95) over the bare ``openai`` SDK call through the same kind of
pooled HTTP client. Second, the time of a cache hit. Third, a batch of
concurrent requests with its throughput and the TCP connections the server
saw opened. The client runs with its real guards, price table, SQLite ledger
(in a temporary folder, or ``--ledger-dir``) and JSON logging into memory.

The ledger commits each reservation in WAL mode with ``synchronous=NORMAL``,
so the added time depends little on the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx2
import openai
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cloud"))

from fake_server import FakeProviderServer

from jarvis.cloud.budget import BudgetLedger
from jarvis.cloud.client import CloudClient
from jarvis.cloud.config import CloudSettings
from jarvis.cloud.pricing import PriceTable
from jarvis.cloud.providers.openai_adapter import OpenAIProvider
from jarvis.cloud.types import CloudRequest
from jarvis.logging import configure_logging

FAKE_KEY = SecretStr("sk-bench-" + "b" * 24)
POOL_SIZE = 20
MODEL = "gpt-4.1-mini"
QUESTION = "What is the capital of France?"


class ServerProcess:
    """The fake server running in a child process, with its port and counts."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve, args=(sender, self._stop), name="fake-provider-server")
        self._process.start()
        if not receiver.poll(30):
            raise RuntimeError("the fake provider server did not start within 30 s")
        self.port = int(receiver.recv())

    def base_url(self, provider: str) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if provider == "openai" else root

    def connections_opened(self) -> int:
        """Return connections the server accepted so far, leaving out the one this query opens."""
        reply = httpx2.get(f"http://127.0.0.1:{self.port}/_stats", timeout=10)
        return int(reply.json()["connections_opened"]) - 1

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=10)


def _serve(sender: Connection, stop: Any) -> None:
    server = FakeProviderServer()
    sender.send(server.port)
    server.serve_until(stop)


def percentile_ms(samples_s: list[float], share: float) -> float:
    ordered = sorted(samples_s)
    index = min(len(ordered) - 1, round(share * (len(ordered) - 1)))
    return ordered[index] * 1000


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def settings_for(server: ServerProcess, *, cache: bool) -> CloudSettings:
    return CloudSettings(
        fallback_order=("openai",),
        openai={
            "model": MODEL,
            "base_url": server.base_url("openai"),
            "max_connections": POOL_SIZE,
            "requests_per_minute": 100_000,
            "tokens_per_minute": 100_000_000,
        },
        budget={"daily_usd": Decimal(100)},
        cache={"enabled": cache},
        max_concurrency=256,
    )


def make_client(server: ServerProcess, folder: Path, *, cache: bool) -> CloudClient:
    settings = settings_for(server, cache=cache)
    ledger = BudgetLedger(folder / f"spend-{cache}.sqlite3", settings.budget.daily_usd)
    provider = OpenAIProvider(settings.openai, FAKE_KEY)
    return CloudClient(settings, providers={"openai": provider}, prices=PriceTable.load(None), ledger=ledger)


async def measure_added_time(server: ServerProcess, folder: Path, count: int) -> tuple[list[float], list[float]]:
    """Time bare SDK calls and client calls, interleaved so that drift hits both alike."""
    http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE))
    bare = openai.AsyncOpenAI(
        api_key=FAKE_KEY.get_secret_value(), base_url=server.base_url("openai"), max_retries=0, http_client=http
    )
    client = make_client(server, folder, cache=False)

    async def bare_call() -> object:
        return await bare.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": QUESTION}],
            max_completion_tokens=400,
            temperature=0.0,
        )

    async def client_call() -> object:
        return await client.generate(CloudRequest.from_text(QUESTION))

    bare_s: list[float] = []
    client_s: list[float] = []
    async with client:
        for _ in range(20):  # warm up connections, imports and the ledger file
            await bare_call()
            await client_call()
        for _ in range(count):
            bare_s.append(await timed(bare_call))
            client_s.append(await timed(client_call))
    await bare.close()
    await http.aclose()
    return bare_s, client_s


async def measure_cache_hit(server: ServerProcess, folder: Path, count: int) -> list[float]:
    async with make_client(server, folder, cache=True) as client:
        request = CloudRequest.from_text(QUESTION)
        await client.generate(request)
        return [await timed(lambda: client.generate(request)) for _ in range(count)]


async def measure_concurrent(server: ServerProcess, folder: Path, count: int) -> tuple[float, int, int]:
    """Return wall time in seconds, answers received and connections opened for ``count`` requests at once."""
    async with make_client(server, folder, cache=False) as client:
        requests = [CloudRequest.from_text(f"Question number {index}?") for index in range(count)]
        opened_before = await asyncio.to_thread(server.connections_opened)
        started = time.perf_counter()
        results = await client.batch(requests, concurrency=count)
        elapsed_s = time.perf_counter() - started
        answered = sum(1 for result in results if not isinstance(result, Exception))
        opened_after = await asyncio.to_thread(server.connections_opened)
        # The stats query itself opens one connection after the first one.
        return elapsed_s, answered, opened_after - opened_before - 1


def print_table(rows: list[tuple[str, str, str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


async def run(count: int, concurrent: int, ledger_dir: Path | None) -> None:
    configure_logging(level="info", log_format="json", stream=io.StringIO())
    server = ServerProcess()
    try:
        with tempfile.TemporaryDirectory(dir=ledger_dir) as folder_name:
            folder = Path(folder_name)
            bare_s, client_s = await measure_added_time(server, folder, count)
            hit_s = await measure_cache_hit(server, folder, count)
            elapsed_s, answered, opened = await measure_concurrent(server, folder, concurrent)
    finally:
        server.stop()

    added_p50 = percentile_ms(client_s, 0.5) - percentile_ms(bare_s, 0.5)
    added_p95 = percentile_ms(client_s, 0.95) - percentile_ms(bare_s, 0.95)
    rows = [
        ("measure", "value", "target"),
        ("bare SDK call p50 / p95", f"{percentile_ms(bare_s, 0.5):.2f} / {percentile_ms(bare_s, 0.95):.2f} ms", ""),
        ("client call p50 / p95", f"{percentile_ms(client_s, 0.5):.2f} / {percentile_ms(client_s, 0.95):.2f} ms", ""),
        ("added by client p50 / p95", f"{added_p50:.2f} / {added_p95:.2f} ms", "p50 < 2 ms"),
        ("added by client, mean", f"{(statistics.fmean(client_s) - statistics.fmean(bare_s)) * 1000:.2f} ms", ""),
        (
            "cache hit p50 / p95",
            f"{percentile_ms(hit_s, 0.5):.3f} / {percentile_ms(hit_s, 0.95):.3f} ms",
            "p50 < 0.2 ms",
        ),
        (f"{concurrent} concurrent: wall time", f"{elapsed_s:.2f} s ({answered} answered)", ""),
        (f"{concurrent} concurrent: throughput", f"{concurrent / elapsed_s:.0f} requests/s", ""),
        (f"{concurrent} concurrent: connections opened", f"{opened} (pool size {POOL_SIZE})", f"<= {POOL_SIZE}"),
    ]
    print(f"{count} sequential requests per row, fake OpenAI server on 127.0.0.1 in another process")
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300, help="Sequential requests per measurement.")
    parser.add_argument("--concurrent", type=int, default=200, help="Requests sent at once in the batch measurement.")
    parser.add_argument(
        "--ledger-dir", type=Path, default=None, help="Folder for the spend ledger; default: the temp folder."
    )
    arguments = parser.parse_args()
    asyncio.run(run(arguments.requests, arguments.concurrent, arguments.ledger_dir))


if __name__ == "__main__":
    main()
