"""The local answer model: a GGUF file run by llama.cpp, or an OpenAI-compatible server.

The bundled Gemma 3 270M is a base model without a chat template. Chat
completion would silently fall back to another model's format and produce
garbage, so such a model is prompted as plain completion: a short few-shot
prefix, stopping at the end of the answer line. A GGUF that carries a chat
template in its metadata is prompted through that template instead.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog

from jarvis.config import LlmSettings
from jarvis.errors import AnswerError, ModelError
from jarvis.models import ModelStore

log = structlog.get_logger(__name__)

PromptStyle = Literal["completion", "chat"]

_FEW_SHOT = (
    "{system}\n\n"
    "User: What is the capital of France?\n"
    "JARVIS: The capital of France is Paris.\n"
    "User: Who wrote Romeo and Juliet?\n"
    "JARVIS: William Shakespeare wrote Romeo and Juliet.\n"
    "User: How many legs does a spider have?\n"
    "JARVIS: A spider has eight legs.\n"
    "User: {question}\n"
    "JARVIS:"
)
_COMPLETION_STOPS = ["\n", "User:", "JARVIS:"]


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """How one local answer went."""

    tokens: int
    first_token_s: float | None
    total_s: float
    stopped_by: Literal["stop", "token_cap", "time_cap", "cancelled"]


class LocalModel(Protocol):
    """A local tier that streams an answer as text deltas."""

    def stream(self, question: str) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


class LlamaCppModel:
    """A GGUF model run in-process on one dedicated worker thread."""

    def __init__(self, model_path: Path, settings: LlmSettings) -> None:
        self._settings = settings
        self._model_path = model_path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jarvis-llm")
        self._llama: Any = None
        self._style: PromptStyle = "completion"
        # Read by llama.cpp's abort callback between graph steps, so a stop or the time cap
        # also interrupts a long prompt evaluation, not only the gaps between tokens.
        self._cancelled = threading.Event()
        self._deadline = float("inf")
        self._abort_callback: Any = None
        self.last_stats: GenerationStats | None = None

    @classmethod
    def from_store(cls, store: ModelStore, settings: LlmSettings) -> LlamaCppModel:
        """Prepare the configured GGUF, or the bundled Gemma 3 270M; loading happens on first use."""
        return cls(store.resolve("llm", settings.model), settings)

    @property
    def prompt_style(self) -> PromptStyle:
        return self._style

    async def load(self) -> None:
        """Load the model on its worker thread (idempotent)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load_sync)

    def _load_sync(self) -> None:
        if self._llama is not None:
            return
        try:
            import llama_cpp
            from llama_cpp import Llama
        except ImportError as err:
            raise ModelError(f"llama-cpp-python is not installed ({err}); run the set-up script again") from err
        _route_native_logs(llama_cpp)
        try:
            self._llama = Llama(
                model_path=str(self._model_path),
                n_ctx=self._settings.context_tokens,
                n_threads=self._settings.threads,
                n_threads_batch=self._settings.threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise ModelError(f"local model {self._model_path} failed to load: {err}") from err
        self._abort_callback = llama_cpp.ggml_abort_callback(lambda _data: self._should_abort())
        llama_cpp.llama_set_abort_callback(self._llama.ctx, self._abort_callback, None)
        self._style = self._choose_style(self._llama.metadata)
        self._warm_up()
        log.debug("local_model_loaded", path=str(self._model_path), prompt_style=self._style)

    def _warm_up(self) -> None:
        """Evaluate the fixed prompt prefix once, so the first question only pays for its own tokens.

        llama-cpp-python keeps the evaluated tokens and reuses the longest common
        prefix with the next prompt.
        """
        if self._style == "completion":
            prompt = _FEW_SHOT.format(system=self._settings.system_prompt, question="Hello.")
            self._llama.create_completion(prompt, max_tokens=1, temperature=0.0)

    def _should_abort(self) -> bool:
        return self._cancelled.is_set() or time.monotonic() >= self._deadline

    def _choose_style(self, metadata: dict[str, str]) -> PromptStyle:
        if self._settings.prompt_style != "auto":
            return self._settings.prompt_style
        return "chat" if metadata.get("tokenizer.chat_template") else "completion"

    async def stream(self, question: str) -> AsyncIterator[str]:
        """Stream the answer to ``question`` as text deltas, within the token and time caps."""
        await self.load()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            try:
                for delta in self._generate_sync(question, cancelled):
                    loop.call_soon_threadsafe(queue.put_nowait, delta)
            except Exception as err:  # handed to the consumer, which raises it on the loop
                loop.call_soon_threadsafe(queue.put_nowait, err)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(self._executor, produce)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise AnswerError(f"local model failed: {item}") from item
                yield item
        finally:
            cancelled.set()
            await asyncio.shield(worker)

    def _generate_sync(self, question: str, cancelled: threading.Event) -> Iterator[str]:
        started = time.monotonic()
        deadline = started + self._settings.timeout_s
        first_token_s: float | None = None
        tokens = 0
        stopped_by: Literal["stop", "token_cap", "time_cap", "cancelled"] = "stop"
        self._cancelled, self._deadline = cancelled, deadline
        try:
            for delta, finish_reason in self._raw_stream(question):
                if finish_reason == "length":
                    stopped_by = "token_cap"
                if not delta:
                    continue
                tokens += 1
                if first_token_s is None:
                    first_token_s = time.monotonic() - started
                yield delta
                if cancelled.is_set():
                    stopped_by = "cancelled"
                    break
                if time.monotonic() >= deadline:
                    stopped_by = "time_cap"
                    break
        except RuntimeError:
            # llama.cpp reports an aborted evaluation as a failed decode.
            if not self._should_abort():
                raise
            stopped_by = "cancelled" if cancelled.is_set() else "time_cap"
        finally:
            self._deadline = float("inf")
        self.last_stats = GenerationStats(tokens, first_token_s, time.monotonic() - started, stopped_by)

    def _raw_stream(self, question: str) -> Iterator[tuple[str, str | None]]:
        """Yield (text delta, finish reason) pairs from llama.cpp."""
        settings = self._settings
        if self._style == "chat":
            messages = [{"role": "system", "content": settings.system_prompt}, {"role": "user", "content": question}]
            for chunk in self._llama.create_chat_completion(
                messages=messages, max_tokens=settings.max_tokens, temperature=settings.temperature, stream=True
            ):
                choice = chunk["choices"][0]
                yield choice["delta"].get("content") or "", choice.get("finish_reason")
            return
        prompt = _FEW_SHOT.format(system=settings.system_prompt, question=_one_line(question))
        for chunk in self._llama.create_completion(
            prompt,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            stop=_COMPLETION_STOPS,
            stream=True,
        ):
            choice = chunk["choices"][0]
            yield choice["text"], choice.get("finish_reason")

    async def aclose(self) -> None:
        """Release the model and stop its worker thread."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_sync)
        self._executor.shutdown(wait=True)

    def _close_sync(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None


class OpenAICompatibleModel:
    """A local tier served by an OpenAI-compatible server (llama.cpp server, Ollama, LM Studio, vLLM)."""

    def __init__(self, settings: LlmSettings) -> None:
        import openai

        self._settings = settings
        # Local servers ignore the key, but the SDK requires one to be set.
        self._client = openai.AsyncOpenAI(
            base_url=settings.server_url, api_key="unused-local", max_retries=0, timeout=settings.timeout_s
        )

    async def stream(self, question: str) -> AsyncIterator[str]:
        """Stream the server's answer to ``question`` as text deltas."""
        import openai

        settings = self._settings
        try:
            async with asyncio.timeout(settings.timeout_s):
                response = await self._client.chat.completions.create(
                    model=settings.server_model,
                    messages=[
                        {"role": "system", "content": settings.system_prompt},
                        {"role": "user", "content": question},
                    ],
                    max_tokens=settings.max_tokens,
                    temperature=settings.temperature,
                    stream=True,
                )
                async for chunk in response:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except TimeoutError as err:
            raise AnswerError(f"local server {settings.server_url} timed out after {settings.timeout_s} s") from err
        except openai.APIError as err:
            raise AnswerError(
                f"local server {settings.server_url} failed: {type(err).__name__}; check llm.server_url and that "
                "the server is running"
            ) from err

    async def aclose(self) -> None:
        await self._client.close()


# The callback object must outlive every model, so it is kept at module level.
_native_log_callbacks: list[Any] = []


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own messages to the debug log instead of printing them on stderr."""
    if _native_log_callbacks:
        return

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def forward(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace").strip()
        if message:
            log.debug("llama_cpp_message", level=level, message=message)

    _native_log_callbacks.append(forward)
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


def _one_line(text: str) -> str:
    """Keep a question on one line so it cannot forge further turns of the few-shot prompt."""
    return " ".join(text.split())


def create_local_model(store: ModelStore, settings: LlmSettings) -> LocalModel:
    """Build the local tier the settings ask for."""
    if settings.backend == "openai_compatible":
        return OpenAICompatibleModel(settings)
    return LlamaCppModel.from_store(store, settings)
