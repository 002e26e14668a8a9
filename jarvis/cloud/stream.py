"""A streamed cloud answer: filtered text deltas, then the final :class:`CloudAnswer`.

An error before any text was handed to the caller is retried or falls back to
the next provider as for a whole answer. After text was handed on, the answer
is never restarted elsewhere, because the caller may already be speaking it:
it ends with a short spoken notice and ``truncated=True``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Self

from jarvis.cloud.attempt import Attempt, PreparedRequest, RequestLog, Route, combine_failures
from jarvis.cloud.guard_output import StreamFilter
from jarvis.cloud.providers import StreamEnd
from jarvis.cloud.providers.base import estimate_tokens
from jarvis.cloud.types import CloudAnswer, CloudRequest, ProviderName, Usage
from jarvis.errors import CloudError, RefusalError, StreamInterruptedError

if TYPE_CHECKING:
    from jarvis.cloud.client import CloudClient

CUT_OFF_NOTICE = " Sorry, my answer was cut off."
REFUSED_NOTICE = " Sorry, I can't continue with that answer."


class CloudStream:
    """One streamed answer: ``async for text in stream`` yields filtered text; ``answer`` is set at the end.

    Iterate it once. Leaving the loop early closes the provider's stream and
    settles what it used when :meth:`aclose` is called or the ``async with``
    block ends.
    """

    def __init__(self, client: CloudClient, request: CloudRequest, provider: ProviderName | None) -> None:
        self._client = client
        self._request = request
        self._provider = provider
        self._deltas: AsyncGenerator[str, None] | None = None
        self._answer: CloudAnswer | None = None

    def __repr__(self) -> str:
        return f"CloudStream(finished={self._answer is not None})"

    @property
    def answer(self) -> CloudAnswer:
        """The final answer; available once iteration has ended without an error."""
        if self._answer is None:
            raise CloudError("the streamed answer is not finished; iterate the stream to its end first")
        return self._answer

    def __aiter__(self) -> AsyncIterator[str]:
        if self._deltas is not None:
            raise CloudError("a cloud stream can be iterated only once; start a new one with CloudClient.stream()")
        self._deltas = self._run()
        return self._deltas

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the stream early and settle what it used."""
        if self._deltas is not None:
            await self._deltas.aclose()

    async def _run(self) -> AsyncGenerator[str, None]:
        client = self._client
        log = RequestLog(stream=True)
        try:
            client._ensure_open()
            routes = client._select_routes(self._provider)
            cache_key = client._cache_key(self._request, routes)
            cached = client._cache_get(cache_key)
            if cached is not None:
                self._answer = cached
                log.done(cached)
                if cached.text:
                    yield cached.text
                return

            prepared = client._prepare(self._request)
            causes: list[CloudError] = []
            for route in routes:
                route_stream = _RouteStream(client, route, prepared, log)
                # Closing explicitly settles the attempt at once when the caller stops early.
                async with contextlib.aclosing(route_stream.run()) as texts:
                    async for text in texts:
                        yield text
                if route_stream.answer is not None:
                    self._answer = route_stream.answer
                    client._cache_put(cache_key, route_stream.answer)
                    log.done(route_stream.answer)
                    return
                if route_stream.error is not None:
                    causes.append(route_stream.error)
            raise combine_failures(causes)
        except CloudError as err:
            log.failed(err)
            raise


class _RouteStream:
    """Streams from one provider with retries; sets ``answer`` on success or ``error`` for a fallback."""

    def __init__(self, client: CloudClient, route: Route, prepared: PreparedRequest, log: RequestLog) -> None:
        self._client = client
        self._route = route
        self._prepared = prepared
        self._log = log
        self.answer: CloudAnswer | None = None
        self.error: CloudError | None = None
        self._handed_on: list[str] = []
        self._received: list[str] = []

    async def run(self) -> AsyncGenerator[str, None]:
        client, route = self._client, self._route
        attempt = 0
        while self.answer is None:
            attempt += 1
            self._log.attempts += 1
            self._received = []
            call = Attempt(client, route, self._prepared)
            text_filter = client._output_filter.stream_filter()
            end: StreamEnd | None = None
            try:
                await call.start()
                async with contextlib.aclosing(route.provider.stream(self._prepared.sent)) as events:
                    async for event in events:
                        if isinstance(event, StreamEnd):
                            end = event
                            continue
                        self._received.append(event.text)
                        safe = text_filter.feed(event.text)
                        if safe:
                            self._handed_on.append(safe)
                            yield safe
                if end is None:
                    raise StreamInterruptedError(f"{route.name} stream ended without usage", provider=route.name)
            except CloudError as err:
                # A stream that started was billed for its input at least; an HTTP error before it was not.
                started = bool(self._handed_on) or isinstance(err, (StreamInterruptedError, RefusalError))
                billed = self._billed_usage() if started else None
                cost_usd = call.fail(err, billed=billed)
                self._log.failures.append(f"{route.name}:{type(err).__name__}")
                if billed is not None and self._handed_on:
                    for text in self._finish_cut_short(text_filter, err, billed, cost_usd):
                        yield text
                    return
                if isinstance(err, RefusalError):
                    raise
                if not await client._backoff(route, err, attempt):
                    self.error = err
                    return
                continue
            except BaseException:
                call.abandon(billed=self._billed_usage() if self._received else None)
                raise

            # Settle before the last yield, which may be the point where the caller stops.
            tail = text_filter.finish()
            if tail:
                self._handed_on.append(tail)
            self.answer = CloudAnswer(
                text="".join(self._handed_on),
                provider=route.name,
                model=route.provider.model,
                usage=end.usage,
                cost_usd=call.succeed(end.usage),
            )
            if tail:
                yield tail

    def _finish_cut_short(
        self, text_filter: StreamFilter, error: CloudError, billed: Usage, cost_usd: Decimal
    ) -> list[str]:
        """End an answer that broke after text was handed on: flush, add a notice, mark it truncated."""
        notice = REFUSED_NOTICE if isinstance(error, RefusalError) else CUT_OFF_NOTICE
        texts = [text for text in (text_filter.finish(), notice) if text]
        self._handed_on.extend(texts)
        self.answer = CloudAnswer(
            text="".join(self._handed_on),
            provider=self._route.name,
            model=self._route.provider.model,
            usage=billed,
            cost_usd=cost_usd,
            truncated=True,
        )
        return texts

    def _billed_usage(self) -> Usage:
        """Estimate what a broken stream used: the whole input and the text received so far."""
        received = "".join(self._received)
        return Usage(
            input_tokens=self._prepared.input_tokens,
            output_tokens=max(1, estimate_tokens(received)),
            estimated=True,
        )
