"""A fake Anthropic, OpenAI and Gemini server on 127.0.0.1 for the real SDKs to talk to.

It speaks the three wire formats, server-sent-event streams included, and
plays scripted faults queued per provider: one fault is used up per request,
and requests with no fault queued get a normal answer. Every request is
recorded (path with query, headers, body), and so is every TCP connection
the server accepts, so tests can check where the key travelled and whether
connections were reused.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROVIDERS = ("anthropic", "openai", "gemini")
INPUT_TOKENS = 12
CACHED_TOKENS = 2


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, used up by the next request to its provider."""

    kind: str
    """One of ``status``, ``slow``, ``drop``, ``error_event``, ``safety``, ``no_marker``,
    ``malformed``, ``empty_chunk``, ``no_usage``, ``zero_usage`` or ``none``."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_s: float = 0.0
    after_chunks: int = 0


def status(code: int, *, headers: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> Fault:
    """An HTTP error reply; the body defaults to the provider's usual error shape."""
    return Fault("status", status=code, headers=headers or {}, body=body)


def rate_limited(*, retry_after_ms: str | None = None, retry_after: str | None = None) -> Fault:
    headers = {}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return status(429, headers=headers)


def slow(delay_s: float) -> Fault:
    """Wait ``delay_s`` before answering normally."""
    return Fault("slow", delay_s=delay_s)


def drop_mid_stream(after_chunks: int = 2) -> Fault:
    """Send ``after_chunks`` text events, then close the connection without ending the body."""
    return Fault("drop", after_chunks=after_chunks)


def error_event(after_chunks: int = 1) -> Fault:
    """Send ``after_chunks`` text events, then the provider's in-stream error event."""
    return Fault("error_event", after_chunks=after_chunks)


def safety_block(after_chunks: int = 0) -> Fault:
    """Block the answer for safety; an Anthropic stream first sends ``after_chunks`` text events."""
    return Fault("safety", after_chunks=after_chunks)


def no_final_marker(after_chunks: int = 2) -> Fault:
    """End the stream cleanly after ``after_chunks`` text events but without the final marker."""
    return Fault("no_marker", after_chunks=after_chunks)


def malformed_json() -> Fault:
    return Fault("malformed")


def empty_chunk() -> Fault:
    """A stream whose only event is an empty object, then a clean end."""
    return Fault("empty_chunk")


def no_usage() -> Fault:
    """A normal answer that carries no token counts."""
    return Fault("no_usage")


def zero_usage() -> Fault:
    """A normal OpenAI answer whose token counts are all zero."""
    return Fault("zero_usage")


def insufficient_quota(provider: str) -> Fault:
    """A 429 that reports a spent balance or daily quota, shaped as ``provider`` sends it."""
    if provider == "openai":
        body = {
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
                "param": None,
            }
        }
    elif provider == "gemini":
        body = _gemini_error(429, "RESOURCE_EXHAUSTED", quota_id="GenerateRequestsPerDayPerProjectPerModel-FreeTier")
    else:
        raise ValueError(f"no quota error shape for {provider}")
    return status(429, body=body)


def gemini_rate_limit_per_minute(retry_delay: str = "3s") -> Fault:
    """A Gemini 429 for a per-minute quota, with a RetryInfo delay."""
    body = _gemini_error(
        429, "RESOURCE_EXHAUSTED", quota_id="GenerateRequestsPerMinutePerProjectPerModel", retry_delay=retry_delay
    )
    return status(429, body=body)


def unauthorized() -> Fault:
    return status(401)


def _gemini_error(
    code: int, state: str, *, quota_id: str | None = None, retry_delay: str | None = None
) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    if quota_id is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": quota_id}]})
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    error: dict[str, Any] = {
        "code": code,
        "message": "fake failure, please check your plan and billing details",
        "status": state,
    }
    if details:
        error["details"] = details
    return {"error": error}


@dataclass(frozen=True)
class RecordedRequest:
    provider: str
    path: str
    """Path with its query string."""
    headers: dict[str, str]
    body: bytes


class FakeProviderServer:
    """The fake server; use :meth:`start` and :meth:`stop`, or the pytest fixture."""

    def __init__(self, reply_text: str = "Paris is the capital of France.") -> None:
        self.reply_text = reply_text
        self.requests: list[RecordedRequest] = []
        self.request_arrived = threading.Event()
        """Set whenever a request is recorded; tests clear it before waiting for the next one."""
        self.connections_opened = 0
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in PROVIDERS}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-provider-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def base_url(self, provider: str) -> str:
        """The base URL each SDK expects (OpenAI's includes ``/v1``)."""
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if provider == "openai" else root

    def start(self) -> FakeProviderServer:
        self._thread.start()
        return self

    def serve_until(self, stop: threading.Event | Any) -> None:
        """Serve until ``stop`` is set; for running the server as the main work of a separate process."""
        self.start()
        stop.wait()
        self.stop()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def fail(self, provider: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests to ``provider``, one per request."""
        with self._lock:
            self._faults[provider].extend(faults)

    def requests_to(self, provider: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.provider == provider]

    def _next_fault(self, provider: str) -> Fault | None:
        with self._lock:
            queue = self._faults[provider]
            return queue.popleft() if queue else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
        self.request_arrived.set()

    def _count_connection(self) -> None:
        with self._lock:
            self.connections_opened += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeProviderServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops its connection, as tests of timeouts and cut streams do."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm
        # and delayed ACKs add about 40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._count_connection()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        """``GET /_stats`` returns the counts, for a server running in another process."""
        if self.path != "/_stats":
            self._send_json(404, {"error": {"message": "no such fake route"}})
            return
        fake = self.server.fake
        with fake._lock:
            stats = {"connections_opened": fake.connections_opened, "requests": len(fake.requests)}
        self._send_json(200, stats)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        provider, streaming = self._route(body)
        if provider is None:
            self._send_json(404, {"error": {"message": "no such fake route"}})
            return
        fake = self.server.fake
        fake._record(RecordedRequest(provider, self.path, dict(self.headers.items()), body))
        fault = fake._next_fault(provider) or Fault("none")
        try:
            self._answer(provider, streaming, fault, json.loads(body or b"{}"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, body: bytes) -> tuple[str | None, bool]:
        path = self.path.split("?", 1)[0]
        if path == "/v1/messages":
            return "anthropic", bool(json.loads(body or b"{}").get("stream"))
        if path == "/v1/chat/completions":
            return "openai", bool(json.loads(body or b"{}").get("stream"))
        if path.endswith(":generateContent"):
            return "gemini", False
        if path.endswith(":streamGenerateContent"):
            return "gemini", True
        return None, False

    def _answer(self, provider: str, streaming: bool, fault: Fault, request: dict[str, Any]) -> None:
        if fault.kind == "slow":
            time.sleep(fault.delay_s)
        if fault.kind == "status":
            self._send_json(fault.status, fault.body or _error_body(provider, fault.status), fault.headers)
            return
        if fault.kind == "malformed":
            self._send_raw(200, b'{"id": "broken", "content": [', "application/json")
            return
        model = str(request.get("model", "fake-model"))
        builder = {"anthropic": AnthropicWire, "openai": OpenAIWire, "gemini": GeminiWire}[provider](
            self.server.fake.reply_text, model, fault
        )
        if streaming:
            self._send_stream(builder, fault)
        else:
            self._send_json(200, builder.whole())

    def _send_json(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_raw(code, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_stream(self, builder: WireFormat, fault: Fault) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in builder.events():
            self._write_chunk(event)
        if fault.kind == "drop":
            # Close without the terminating chunk: the client sees a body cut short.
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _error_body(provider: str, code: int) -> dict[str, Any]:
    if provider == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(code, "api_error")
        return {"type": "error", "error": {"type": kind, "message": "fake failure"}}
    if provider == "openai":
        kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(code, "server_error")
        return {"error": {"message": "fake failure", "type": kind, "code": kind, "param": None}}
    state = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}.get(code, "INTERNAL")
    if code == 429:
        return _gemini_error(code, state, quota_id="GenerateRequestsPerMinutePerProjectPerModel")
    return _gemini_error(code, state)


def _sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {text}\n\n".encode()


class WireFormat:
    """Replies in one provider's format for a reply text and a fault."""

    def __init__(self, text: str, model: str, fault: Fault) -> None:
        self.text = text
        self.model = model
        self.fault = fault
        self.pieces = [word + " " for word in text.split(" ")]
        self.pieces[-1] = self.pieces[-1].rstrip(" ")

    @property
    def output_tokens(self) -> int:
        return len(self.pieces)

    def text_pieces(self) -> list[str]:
        if self.fault.kind in ("drop", "error_event", "no_marker"):
            return self.pieces[: self.fault.after_chunks]
        return self.pieces

    def whole(self) -> dict[str, Any]:
        raise NotImplementedError

    def events(self) -> list[bytes]:
        raise NotImplementedError


class AnthropicWire(WireFormat):
    def whole(self) -> dict[str, Any]:
        refused = self.fault.kind == "safety"
        usage = {
            "input_tokens": INPUT_TOKENS - CACHED_TOKENS,
            "cache_read_input_tokens": CACHED_TOKENS,
            "output_tokens": self.output_tokens,
        }
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [] if refused else [{"type": "text", "text": self.text}],
            "stop_reason": "refusal" if refused else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def events(self) -> list[bytes]:
        usage = {
            "input_tokens": INPUT_TOKENS - CACHED_TOKENS,
            "cache_read_input_tokens": CACHED_TOKENS,
            "output_tokens": 1,
        }
        start = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        events = [
            _sse({"type": "message_start", "message": start}, "message_start"),
            _sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
            _sse({"type": "ping"}, "ping"),
        ]
        if self.fault.kind == "empty_chunk":
            return [_sse({}, "content_block_delta")]
        pieces = self.pieces[: self.fault.after_chunks] if self.fault.kind == "safety" else self.text_pieces()
        for piece in pieces:
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            events.append(_sse(delta, "content_block_delta"))
        if self.fault.kind == "error_event":
            events.append(
                _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")
            )
            return events
        if self.fault.kind in ("drop", "no_marker"):
            return events
        stop_reason = "refusal" if self.fault.kind == "safety" else "end_turn"
        events += [
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": self.output_tokens},
                },
                "message_delta",
            ),
            _sse({"type": "message_stop"}, "message_stop"),
        ]
        return events


class OpenAIWire(WireFormat):
    def _usage(self) -> dict[str, Any] | None:
        if self.fault.kind == "no_usage":
            return None
        if self.fault.kind == "zero_usage":
            return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        return {
            "prompt_tokens": INPUT_TOKENS,
            "completion_tokens": self.output_tokens,
            "total_tokens": INPUT_TOKENS + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
        }

    def whole(self) -> dict[str, Any]:
        refused = self.fault.kind == "safety"
        message = {"role": "assistant", "content": None if refused else self.text, "refusal": None}
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": "content_filter" if refused else "stop",
            "logprobs": None,
        }
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [choice],
        }
        usage = self._usage()
        if usage is not None:
            body["usage"] = usage
        return body

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [choice],
        }

    def events(self) -> list[bytes]:
        if self.fault.kind == "empty_chunk":
            return [_sse({})]
        events = [_sse(self._chunk({"role": "assistant", "content": ""}))]
        if self.fault.kind == "safety":
            return [*events, _sse(self._chunk({}, "content_filter")), _sse("[DONE]")]
        events += [_sse(self._chunk({"content": piece})) for piece in self.text_pieces()]
        if self.fault.kind == "error_event":
            events.append(
                _sse({"error": {"message": "The server had an error", "type": "server_error", "code": "server_error"}})
            )
            return events
        if self.fault.kind in ("drop", "no_marker"):
            return events
        events.append(_sse(self._chunk({}, "stop")))
        usage = self._usage()
        if usage is not None:
            events.append(
                _sse(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": self.model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        events.append(_sse("[DONE]"))
        return events


class GeminiWire(WireFormat):
    def _usage(self) -> dict[str, Any]:
        return {
            "promptTokenCount": INPUT_TOKENS,
            "candidatesTokenCount": self.output_tokens,
            "cachedContentTokenCount": CACHED_TOKENS,
            "totalTokenCount": INPUT_TOKENS + self.output_tokens,
        }

    def _candidate(self, text: str | None, finish_reason: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"index": 0}
        if text is not None:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        if finish_reason is not None:
            candidate["finishReason"] = finish_reason
        return candidate

    def whole(self) -> dict[str, Any]:
        if self.fault.kind == "safety":
            return {
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": {"promptTokenCount": INPUT_TOKENS, "totalTokenCount": INPUT_TOKENS},
            }
        body: dict[str, Any] = {"candidates": [self._candidate(self.text, "STOP")], "modelVersion": self.model}
        if self.fault.kind != "no_usage":
            body["usageMetadata"] = self._usage()
        return body

    def events(self) -> list[bytes]:
        if self.fault.kind == "empty_chunk":
            return [_sse({})]
        pieces = self.text_pieces()
        if self.fault.kind == "safety":
            return [_sse({"candidates": [self._candidate(None, "SAFETY")]})]
        chunks = [{"candidates": [self._candidate(piece)], "modelVersion": self.model} for piece in pieces]
        events = [_sse(chunk) for chunk in chunks]
        if self.fault.kind == "error_event":
            events.append(_sse(_gemini_error(503, "UNAVAILABLE")))
            return events
        if self.fault.kind in ("drop", "no_marker"):
            return events
        final: dict[str, Any] = {"candidates": [self._candidate("", "STOP")], "modelVersion": self.model}
        if self.fault.kind != "no_usage":
            final["usageMetadata"] = self._usage()
        events.append(_sse(final))
        return events
