"""Adapters that speak each provider's API through its official SDK."""

from __future__ import annotations

from pydantic import SecretStr

from jarvis.cloud.config import ProviderSettings
from jarvis.cloud.providers.base import Provider, ProviderReply, ProviderRequest, StreamEnd, StreamEvent, TextDelta
from jarvis.cloud.types import ProviderName

__all__ = ["Provider", "ProviderReply", "ProviderRequest", "StreamEnd", "StreamEvent", "TextDelta", "build_provider"]


def build_provider(name: ProviderName, settings: ProviderSettings, key: SecretStr) -> Provider:
    """Create the adapter for ``name``; its SDK is imported only when it is first needed."""
    if name == "anthropic":
        from jarvis.cloud.providers.anthropic_adapter import AnthropicProvider

        return AnthropicProvider(settings, key)
    if name == "openai":
        from jarvis.cloud.providers.openai_adapter import OpenAIProvider

        return OpenAIProvider(settings, key)
    from jarvis.cloud.providers.gemini_adapter import GeminiProvider

    return GeminiProvider(settings, key)
