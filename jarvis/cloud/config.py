"""Settings of the cloud client."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jarvis.cloud.types import ProviderName


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProviderSettings(_Section):
    """One provider's endpoint and model. Keys never live here."""

    model: str = Field(description="Model name sent to the provider.")
    base_url: str | None = Field(
        None, description="API base URL; empty uses the SDK's variable (e.g. OPENAI_BASE_URL) or its default."
    )
    timeout_s: float = Field(30.0, gt=0, le=600, description="Timeout of one HTTP request, in seconds.")
    max_connections: int = Field(20, ge=1, le=1000, description="Size of this provider's HTTP connection pool.")
    requests_per_minute: int = Field(
        50, ge=1, le=100_000, description="Most requests sent to this provider per minute."
    )
    tokens_per_minute: int = Field(
        100_000, ge=100, le=100_000_000, description="Most input plus output tokens per minute."
    )


class RetrySettings(_Section):
    """Retries with exponential backoff and full jitter."""

    max_attempts: int = Field(3, ge=1, le=10, description="Attempts per provider, the first included.")
    base_delay_s: float = Field(
        0.5, gt=0, le=30, description="Backoff before the second attempt, doubled each time, in seconds."
    )
    max_delay_s: float = Field(8.0, gt=0, le=120, description="Longest backoff between attempts, in seconds.")
    max_retry_after_s: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Longest provider-requested wait honoured; beyond it JARVIS falls back at once, in seconds.",
    )


class BreakerSettings(_Section):
    """Per-provider circuit breaker."""

    failure_ratio: float = Field(
        0.5, gt=0, le=1, description="Share of failed requests in the window that opens the breaker (0 to 1)."
    )
    min_requests: int = Field(4, ge=1, le=1000, description="Requests in the window before the ratio is judged.")
    window_s: float = Field(60.0, gt=0, le=3600, description="Length of the counting window, in seconds.")
    open_s: float = Field(
        30.0, gt=0, le=3600, description="Time the breaker stays open before one probe request, in seconds."
    )


class GuardSettings(_Section):
    """Input and output guards."""

    max_input_chars: int = Field(
        8000, ge=100, le=200_000, description="Longest input sent, in characters, after cleaning."
    )
    injection_policy: Literal["block", "warn", "allow"] = Field(
        "block", description="What to do when the input looks like a prompt injection."
    )
    injection_threshold: float = Field(
        0.6, gt=0, le=1, description="Injection score at or above which the policy applies (0 to 1)."
    )
    allow_personal_data: bool = Field(
        False, description="Send e-mail addresses, phone, card and account numbers and street addresses unredacted."
    )
    link_policy: Literal["remove", "domain", "keep"] = Field(
        "domain", description="Links in answers: removed, reduced to their domain, or kept."
    )


class BudgetSettings(_Section):
    """Daily spend limit and the ledger that enforces it."""

    daily_usd: Decimal = Field(
        Decimal("1.00"), ge=0, le=10_000, description="Most money spent on cloud calls per UTC day, in US dollars."
    )
    ledger_path: Path | None = Field(
        None, description="SQLite ledger file; empty for 'spend.sqlite3' in the platform's state directory."
    )
    prices_path: Path | None = Field(None, description="Price table TOML; empty for the bundled config/prices.toml.")


class CacheSettings(_Section):
    """Answer cache."""

    enabled: bool = Field(True, description="Reuse answers to identical requests.")
    ttl_s: float = Field(3600.0, gt=0, le=30 * 86400, description="Time an answer stays reusable, in seconds.")
    max_entries: int = Field(
        512, ge=1, le=1_000_000, description="Most answers kept; the least recently used go first."
    )
    cache_sampled: bool = Field(False, description="Also cache answers sampled at a non-zero temperature.")


class CloudSettings(_Section):
    """Cloud tier settings."""

    fallback_order: tuple[ProviderName, ...] = Field(
        ("anthropic", "openai", "gemini"), min_length=1, description="Providers tried in this order."
    )
    max_output_tokens: int = Field(400, ge=1, le=32_000, description="Output token cap per request.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    max_concurrency: int = Field(8, ge=1, le=256, description="Most requests in flight at once in a batch.")
    rate_limit_wait_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="Longest wait for the local rate limit per provider before falling back, in seconds.",
    )
    system_prompt: str = Field(
        "You are JARVIS, a voice assistant. Answer in a few short spoken sentences, without markdown or lists.",
        max_length=4000,
        description="Instruction sent with every cloud request that brings no system prompt of its own.",
    )
    anthropic: ProviderSettings = ProviderSettings(model="claude-haiku-4-5")
    openai: ProviderSettings = ProviderSettings(model="gpt-4.1-mini")
    gemini: ProviderSettings = ProviderSettings(model="gemini-2.5-flash")
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    guard: GuardSettings = GuardSettings()
    budget: BudgetSettings = BudgetSettings()
    cache: CacheSettings = CacheSettings()
