"""The interface every provider adapter implements, and the messages it exchanges."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from jarvis.cloud.types import Message, ProviderName, Usage

CHARS_PER_TOKEN = 4
"""Rough characters per token of English text, used only where a provider reports no usage."""

MESSAGE_OVERHEAD_TOKENS = 4
"""Estimated tokens each message adds for its role and separators."""


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One call to one provider, already guarded and ready to send."""

    system: str
    messages: tuple[Message, ...]
    max_output_tokens: int
    temperature: float


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """A whole answer from a provider, before the output filter."""

    text: str
    usage: Usage
    stop_reason: str
    """The provider's own word for why generation stopped (e.g. ``end_turn``, ``stop``, ``STOP``)."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a stream that finished with the provider's final marker."""

    usage: Usage
    stop_reason: str


StreamEvent = TextDelta | StreamEnd


class Provider(Protocol):
    """An adapter that turns :class:`ProviderRequest` into one provider's API calls.

    Implementations raise only :class:`jarvis.errors.CloudError` subclasses:
    every SDK and transport error is translated where it is caught.
    """

    @property
    def name(self) -> ProviderName: ...

    @property
    def model(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        """Send ``request`` and return the whole answer."""
        ...

    def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        """Send ``request`` and yield text deltas, then one :class:`StreamEnd`.

        A stream that breaks, carries an error event or ends without the
        provider's final marker raises :class:`jarvis.errors.StreamInterruptedError`.
        """
        ...

    async def aclose(self) -> None:
        """Close the connection pool; the adapter cannot be used afterwards."""
        ...


def estimate_tokens(text: str) -> int:
    """Estimate the token count of ``text`` from its length (never below 1 for non-empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_input_tokens(system: str, messages: tuple[Message, ...]) -> int:
    """Estimate the input tokens of a request: its text plus a per-message overhead."""
    text_tokens = estimate_tokens(system) + sum(estimate_tokens(message.content) for message in messages)
    return text_tokens + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)


def estimated_usage(request: ProviderRequest, output_text: str) -> Usage:
    """Build a usage estimate for a reply that came without token counts."""
    return Usage(
        input_tokens=estimate_input_tokens(request.system, request.messages),
        output_tokens=max(1, estimate_tokens(output_text)),
        estimated=True,
    )
