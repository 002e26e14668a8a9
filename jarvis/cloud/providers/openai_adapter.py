"""OpenAI Chat Completions API through the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, NoReturn

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
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

QUOTA_ERROR_CODE = "insufficient_quota"
"""Error code of a 429 that reports an exhausted balance or spend limit, not a rate limit."""

REFUSAL_FINISH_REASON = "content_filter"


class OpenAIProvider:
    """Adapter for OpenAI (and compatible) chat models; SDK retries are off."""

    name: ProviderName = "openai"

    def __init__(self, settings: ProviderSettings, key: SecretStr) -> None:
        self._settings = settings
        self._http = make_http_client(settings)
        # base_url None lets the SDK read OPENAI_BASE_URL, then use its default.
        self._client = openai.AsyncOpenAI(
            api_key=key.get_secret_value(),
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=0,
            http_client=self._http,
        )

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def model(self) -> str:
        return self._settings.model

    @property
    def base_url(self) -> str:
        """The API base URL in use: from settings, else the SDK's environment variable, else its default."""
        return str(self._client.base_url)

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        try:
            completion = await self._client.chat.completions.create(**self._arguments(request))
        except (openai.OpenAIError, ValueError) as err:
            _raise_translated(err)
        if not isinstance(completion, ChatCompletion) or not completion.choices:
            raise _translate.malformed_reply(self.name, "the body is not a chat completion")

        choice = completion.choices[0]
        if choice.finish_reason == REFUSAL_FINISH_REASON or choice.message.refusal:
            raise RefusalError("openai declined to answer this request", provider=self.name)
        text = choice.message.content or ""
        usage = _usage(completion.usage) or estimated_usage(request, text)
        return ProviderReply(text=text, usage=usage, stop_reason=choice.finish_reason or "")

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        try:
            chunks = await self._client.chat.completions.create(
                **self._arguments(request), stream=True, stream_options={"include_usage": True}
            )
        except (openai.OpenAIError, ValueError) as err:
            _raise_translated(err)

        parts: list[str] = []
        finish_reason: str | None = None
        usage: Usage | None = None
        try:
            async with chunks:
                async for chunk in chunks:
                    usage = _usage(chunk.usage) or usage
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.finish_reason == REFUSAL_FINISH_REASON or choice.delta.refusal:
                        raise RefusalError("openai declined to answer this request", provider=self.name)
                    finish_reason = choice.finish_reason or finish_reason
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                        yield TextDelta(choice.delta.content)
        except openai.APIConnectionError as err:
            raise _translate.interrupted(self.name, "the connection dropped") from err
        except openai.APIError as err:
            # An {"error": ...} object inside the stream arrives as a bare APIError.
            raise _translate.interrupted(self.name, "error object", code=_translate.safe_code(err.code)) from err
        except (openai.OpenAIError, ValueError) as err:
            raise _translate.interrupted(self.name, type(err).__name__) from err

        # NOTE: the SDK hides the [DONE] line, so a finish_reason is the marker checked here.
        # A stream cut after its last choice but before [DONE] therefore counts as complete.
        if finish_reason is None:
            raise _translate.interrupted(self.name, "the stream ended without a finish_reason")
        yield StreamEnd(usage=usage or estimated_usage(request, "".join(parts)), stop_reason=finish_reason)

    async def aclose(self) -> None:
        await self._client.close()
        await self._http.aclose()

    def _arguments(self, request: ProviderRequest) -> dict[str, Any]:
        messages: list[ChatCompletionMessageParam] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        for message in request.messages:
            if message.role == "user":
                messages.append({"role": "user", "content": message.content})
            else:
                messages.append({"role": "assistant", "content": message.content})
        return {
            "model": self.model,
            "messages": messages,
            "max_completion_tokens": request.max_output_tokens,
            "temperature": request.temperature,
        }


def _usage(usage: Any) -> Usage | None:
    """Convert reported usage; None when there is none or it is all zero, so that it gets estimated instead."""
    if usage is None or not (usage.prompt_tokens or usage.completion_tokens):
        return None
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens, cached_tokens=cached)


def _raise_translated(err: Exception) -> NoReturn:
    """Raise the :class:`CloudError` matching an SDK or decoding error from before the reply body."""
    translated: CloudError
    if isinstance(err, openai.APIStatusError):
        code = _translate.safe_code(err.code)
        translated = _translate.error_for_status(
            "openai",
            err.status_code,
            code=code,
            retry_after_s=_translate.parse_retry_after_s(err.response.headers),
            quota_exhausted=code == QUOTA_ERROR_CODE,
        )
    elif isinstance(err, openai.APITimeoutError):
        translated = _translate.timeout_error("openai")
    elif isinstance(err, openai.APIConnectionError):
        translated = _translate.connection_error("openai")
    else:
        translated = _translate.malformed_reply("openai", type(err).__name__)
    raise translated from err
