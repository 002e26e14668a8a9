"""Anthropic Messages API through the official ``anthropic`` SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, NoReturn

import anthropic
from anthropic.types import Message as AnthropicMessage
from anthropic.types import MessageParam
from pydantic import SecretStr

from jarvis.cloud.config import ProviderSettings
from jarvis.cloud.providers import _translate
from jarvis.cloud.providers._http import make_http_client
from jarvis.cloud.providers.base import (
    ProviderReply,
    ProviderRequest,
    StreamEnd,
    StreamEvent,
    TextDelta,
    estimated_usage,
)
from jarvis.cloud.types import ProviderName, Usage
from jarvis.errors import CloudError, RefusalError


class AnthropicProvider:
    """Adapter for Claude models; SDK retries are off so the client's retry loop is the only one."""

    name: ProviderName = "anthropic"

    def __init__(self, settings: ProviderSettings, key: SecretStr) -> None:
        self._settings = settings
        self._http = make_http_client(settings)
        # base_url None lets the SDK read ANTHROPIC_BASE_URL, then use its default.
        self._client = anthropic.AsyncAnthropic(
            api_key=key.get_secret_value(),
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=0,
            http_client=self._http,
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def model(self) -> str:
        return self._settings.model

    @property
    def base_url(self) -> str:
        """The API base URL in use: from settings, else the SDK's environment variable, else its default."""
        return str(self._client.base_url)

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        try:
            message = await self._client.messages.create(**self._arguments(request))
        except (anthropic.AnthropicError, ValueError) as err:
            _raise_translated(err)
        if not isinstance(message, AnthropicMessage):
            raise _translate.malformed_reply(self.name, "the body is not a message object")
        if message.stop_reason == "refusal":
            raise RefusalError("anthropic declined to answer this request", provider=self.name)
        try:
            text = "".join(block.text for block in message.content if block.type == "text")
            usage = _usage(message.usage)
        except (AttributeError, TypeError) as err:
            raise _translate.malformed_reply(self.name, "the message lacks content or usage") from err
        return ProviderReply(
            text=text,
            usage=usage if usage.input_tokens or usage.output_tokens else estimated_usage(request, text),
            stop_reason=message.stop_reason or "",
        )

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        try:
            events = await self._client.messages.create(**self._arguments(request), stream=True)
        except (anthropic.AnthropicError, ValueError) as err:
            _raise_translated(err)

        state = _StreamState()
        try:
            async with events:
                async for event in events:
                    text = state.apply(event)
                    if text:
                        yield TextDelta(text)
        except anthropic.APIStatusError as err:
            # An `event: error` inside a 200 stream arrives as a status error.
            raise _translate.interrupted(self.name, "error event", code=_error_type(err.body)) from err
        except anthropic.APIConnectionError as err:
            raise _translate.interrupted(self.name, "the connection dropped") from err
        except (anthropic.AnthropicError, ValueError) as err:
            raise _translate.interrupted(self.name, type(err).__name__) from err

        if not state.stopped:
            raise _translate.interrupted(self.name, "the stream ended without message_stop")
        usage = state.usage()
        yield StreamEnd(
            usage=usage if usage.input_tokens or usage.output_tokens else estimated_usage(request, state.text),
            stop_reason=state.stop_reason,
        )

    async def aclose(self) -> None:
        await self._client.close()
        await self._http.aclose()

    def _arguments(self, request: ProviderRequest) -> dict[str, Any]:
        # The Messages API of anthropic 2.17 has no temperature parameter, so the setting does not apply here.
        messages: list[MessageParam] = []
        for message in request.messages:
            if message.role == "user":
                messages.append({"role": "user", "content": message.content})
            else:
                messages.append({"role": "assistant", "content": message.content})
        return {
            "model": self.model,
            "max_tokens": request.max_output_tokens,
            "messages": messages,
            "system": request.system or anthropic.omit,
        }


class _StreamState:
    """Text, usage and markers gathered from the raw Messages stream events."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.input_tokens = 0
        self.cached_tokens = 0
        self.output_tokens = 0
        self.stop_reason = ""
        self.stopped = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def apply(self, event: Any) -> str:
        """Fold one event into the state and return the text it carries (often empty)."""
        kind = getattr(event, "type", None)
        if kind == "message_start":
            usage = _usage(event.message.usage)
            self.input_tokens, self.cached_tokens = usage.input_tokens, usage.cached_tokens
            self.output_tokens = usage.output_tokens
        elif kind == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
            self.parts.append(event.delta.text)
            return str(event.delta.text)
        elif kind == "message_delta":
            self._apply_message_delta(event)
        elif kind == "message_stop":
            self.stopped = True
        return ""

    def _apply_message_delta(self, event: Any) -> None:
        self.stop_reason = event.delta.stop_reason or self.stop_reason
        if self.stop_reason == "refusal":
            raise RefusalError("anthropic declined to answer this request", provider="anthropic")
        # Counts in message_delta are cumulative totals, not increments.
        self.output_tokens = event.usage.output_tokens or self.output_tokens
        if event.usage.input_tokens is not None:
            cache_read = event.usage.cache_read_input_tokens or 0
            cache_write = event.usage.cache_creation_input_tokens or 0
            self.input_tokens = event.usage.input_tokens + cache_read + cache_write
            self.cached_tokens = cache_read

    def usage(self) -> Usage:
        return Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens, cached_tokens=self.cached_tokens)


def _usage(usage: Any) -> Usage:
    """Convert Anthropic usage; its ``input_tokens`` leaves out cache reads and writes, so they are added."""
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    return Usage(
        input_tokens=usage.input_tokens + cache_read + cache_write,
        output_tokens=usage.output_tokens,
        cached_tokens=cache_read,
    )


def _error_type(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return _translate.safe_code(error.get("type"))
    return None


def _raise_translated(err: Exception) -> NoReturn:
    """Raise the :class:`CloudError` matching an SDK or decoding error from before the reply body."""
    translated: CloudError
    if isinstance(err, anthropic.APIStatusError):
        translated = _translate.error_for_status(
            "anthropic",
            err.status_code,
            code=_error_type(err.body),
            retry_after_s=_translate.parse_retry_after_s(err.response.headers),
        )
    elif isinstance(err, anthropic.APITimeoutError):
        translated = _translate.timeout_error("anthropic")
    elif isinstance(err, anthropic.APIConnectionError):
        translated = _translate.connection_error("anthropic")
    else:
        translated = _translate.malformed_reply("anthropic", type(err).__name__)
    raise translated from err
