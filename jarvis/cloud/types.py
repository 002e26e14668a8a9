"""Small frozen messages shared by every part of the cloud client."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

ProviderName = Literal["anthropic", "openai", "gemini"]
PROVIDER_NAMES: tuple[ProviderName, ...] = ("anthropic", "openai", "gemini")


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn sent to a provider."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class CloudRequest:
    """What the caller asks of the cloud tier.

    ``untrusted`` holds text from outside the user (files, web pages, tool
    results); it is always wrapped and marked as data before sending.
    """

    messages: tuple[Message, ...]
    system: str = ""
    max_output_tokens: int | None = None
    temperature: float | None = None
    untrusted: tuple[tuple[str, str], ...] = ()
    """Pairs of (source name, text)."""

    @classmethod
    def from_text(cls, text: str, **kwargs: object) -> CloudRequest:
        return cls(messages=(Message("user", text),), **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call; ``estimated`` is true when the provider reported none."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class CloudAnswer:
    """A filtered answer with what it used and cost."""

    text: str
    provider: ProviderName
    model: str
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    cached: bool = False
    truncated: bool = False
    """True when a stream broke after text was already handed on."""
