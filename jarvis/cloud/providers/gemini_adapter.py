"""Gemini API through Google's ``google-genai`` SDK (``genai.Client(...).aio``)."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any, NoReturn

import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from pydantic import SecretStr

from jarvis.cloud.config import ProviderSettings
from jarvis.cloud.providers import _translate
from jarvis.cloud.providers._http import make_http_client, tls_context
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

REFUSAL_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
"""Finish reasons that mean the answer was withheld for safety, policy or copyright."""

BILLING_REASONS = frozenset({"BILLING_DISABLED"})
"""``google.rpc.ErrorInfo`` reasons that mean the project cannot pay for requests."""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


class GeminiProvider:
    """Adapter for Gemini models through the async client; SDK retries are off (one attempt)."""

    name: ProviderName = "gemini"

    def __init__(self, settings: ProviderSettings, key: SecretStr) -> None:
        self._settings = settings
        self._http = make_http_client(settings)
        # The SDK also builds a synchronous client, with a fresh TLS context, unless it is given one.
        # This adapter never sends through it; passing a cheap one keeps construction fast.
        self._unused_sync_http = httpx2.Client(verify=tls_context(), timeout=settings.timeout_s)
        # base_url None lets the SDK read GOOGLE_GEMINI_BASE_URL, then use its default.
        options = genai_types.HttpOptions(
            base_url=settings.base_url,
            timeout=round(settings.timeout_s * 1000),
            retry_options=genai_types.HttpRetryOptions(attempts=1),
            httpx_async_client=self._http,
            httpx_client=self._unused_sync_http,
        )
        self._client = genai.Client(api_key=key.get_secret_value(), http_options=options).aio

    def __repr__(self) -> str:
        return f"GeminiProvider(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def model(self) -> str:
        return self._settings.model

    @property
    def base_url(self) -> str:
        """The API base URL in use: from settings, else GOOGLE_GEMINI_BASE_URL, else the SDK's default."""
        # google-genai 3.6 exposes the resolved URL only on its private API client.
        options = getattr(getattr(self._client, "_api_client", None), "_http_options", None)
        return str(getattr(options, "base_url", None) or self._settings.base_url or "")

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        try:
            response = await self._client.models.generate_content(**self._arguments(request))
        except (genai_errors.APIError, httpx2.HTTPError, ValueError, pydantic.ValidationError) as err:
            _raise_translated(err)

        _raise_if_blocked(response)
        finish_reason = _finish_reason(response)
        text = _text(response)
        if finish_reason is None and not text:
            raise _translate.malformed_reply(self.name, "the reply has no candidates")
        usage = _usage(response.usage_metadata) or estimated_usage(request, text)
        return ProviderReply(text=text, usage=usage, stop_reason=finish_reason or "")

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        try:
            chunks = await self._client.models.generate_content_stream(**self._arguments(request))
        except (genai_errors.APIError, httpx2.HTTPError, ValueError, pydantic.ValidationError) as err:
            _raise_translated(err)

        parts: list[str] = []
        finish_reason: str | None = None
        usage: Usage | None = None
        try:
            async for chunk in chunks:
                _raise_if_blocked(chunk)
                usage = _usage(chunk.usage_metadata) or usage
                finish_reason = _finish_reason(chunk) or finish_reason
                text = _text(chunk)
                if text:
                    parts.append(text)
                    yield TextDelta(text)
        except genai_errors.APIError as err:
            # The request is sent on the first iteration, so an HTTP error status shows up here as well;
            # it carries the HTTP response, while an {"error": ...} object inside a 200 stream does not.
            if isinstance(getattr(err, "response", None), httpx2.Response):
                _raise_translated(err)
            raise _translate.interrupted(self.name, "error object", code=_translate.safe_code(err.status)) from err
        except httpx2.TransportError as err:
            raise _translate.interrupted(self.name, "the connection dropped") from err
        except (
            httpx2.HTTPError,
            ValueError,
            pydantic.ValidationError,
            genai_errors.ContinuationInterruptedError,
        ) as err:
            raise _translate.interrupted(self.name, type(err).__name__) from err

        if finish_reason is None:
            raise _translate.interrupted(self.name, "the stream ended without a finishReason")
        yield StreamEnd(usage=usage or estimated_usage(request, "".join(parts)), stop_reason=finish_reason)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._http.aclose()
        self._unused_sync_http.close()

    def _arguments(self, request: ProviderRequest) -> dict[str, Any]:
        contents = [
            genai_types.Content(
                role="user" if message.role == "user" else "model",
                parts=[genai_types.Part(text=message.content)],
            )
            for message in request.messages
        ]
        config = genai_types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_output_tokens,
            temperature=request.temperature,
        )
        return {"model": self.model, "contents": contents, "config": config}


def _raise_if_blocked(response: genai_types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise RefusalError("gemini blocked this request for safety", provider="gemini")
    if _finish_reason(response) in REFUSAL_FINISH_REASONS:
        raise RefusalError("gemini withheld its answer for safety", provider="gemini")


def _finish_reason(response: genai_types.GenerateContentResponse) -> str | None:
    if not response.candidates or response.candidates[0].finish_reason is None:
        return None
    reason = response.candidates[0].finish_reason
    return str(getattr(reason, "value", reason))


def _text(response: genai_types.GenerateContentResponse) -> str:
    if not response.candidates or response.candidates[0].content is None:
        return ""
    parts = response.candidates[0].content.parts or []
    return "".join(part.text for part in parts if part.text and not part.thought)


def _usage(metadata: genai_types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    """Convert usage metadata; thinking tokens are billed as output, so they are added to it."""
    if metadata is None or not (metadata.prompt_token_count or metadata.candidates_token_count):
        return None
    return Usage(
        input_tokens=metadata.prompt_token_count or 0,
        output_tokens=(metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0),
        cached_tokens=metadata.cached_content_token_count or 0,
    )


def _error_body(details: object) -> Mapping[str, Any]:
    if isinstance(details, list) and len(details) == 1:
        details = details[0]
    if isinstance(details, dict):
        error = details.get("error", details)
        if isinstance(error, dict):
            return error
    return {}


def _detail_items(error: Mapping[str, Any], type_suffix: str) -> list[Mapping[str, Any]]:
    items = error.get("details")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict) and str(item.get("@type", "")).endswith(type_suffix)]


def quota_exhausted(error: Mapping[str, Any]) -> bool:
    """Tell whether a RESOURCE_EXHAUSTED error reports a spent daily quota or billing problem.

    Structured details decide when present: an ``ErrorInfo`` billing reason, or a
    ``QuotaFailure`` whose violated quota is a per-day one. A per-minute quota is
    a rate limit and stays transient. Only when neither detail is present does
    the wording of the message decide (a mention of billing or credit).
    """
    if error.get("status") != "RESOURCE_EXHAUSTED":
        return False
    infos = _detail_items(error, "google.rpc.ErrorInfo")
    if any(info.get("reason") in BILLING_REASONS for info in infos):
        return True
    failures = _detail_items(error, "google.rpc.QuotaFailure")
    if failures:
        violations = [v for failure in failures for v in failure.get("violations", []) if isinstance(v, dict)]
        return any("PerDay" in str(violation.get("quotaId", "")) for violation in violations)
    if infos:
        return False
    message = str(error.get("message", "")).lower()
    return "billing" in message or "credit" in message


def _retry_delay_s(error: Mapping[str, Any]) -> float | None:
    """Read ``google.rpc.RetryInfo.retryDelay`` (a duration such as ``"12s"``), in seconds."""
    for info in _detail_items(error, "google.rpc.RetryInfo"):
        match = _DURATION.match(str(info.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    return None


def _first_known(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _raise_translated(err: Exception) -> NoReturn:
    """Raise the :class:`CloudError` matching an SDK, transport or decoding error."""
    translated: CloudError
    if isinstance(err, genai_errors.APIError):
        error = _error_body(err.details)
        headers = getattr(getattr(err, "response", None), "headers", None)
        translated = _translate.error_for_status(
            "gemini",
            err.code,
            code=_translate.safe_code(err.status),
            retry_after_s=_first_known(_translate.parse_retry_after_s(headers), _retry_delay_s(error)),
            quota_exhausted=err.code == 429 and quota_exhausted(error),
        )
    elif isinstance(err, httpx2.TimeoutException):
        translated = _translate.timeout_error("gemini")
    elif isinstance(err, httpx2.HTTPError):
        translated = _translate.connection_error("gemini")
    else:
        translated = _translate.malformed_reply("gemini", type(err).__name__)
    raise translated from err
