"""The one exception tree of JARVIS.

Every error the package raises on purpose derives from :class:`JarvisError`.
Errors from third-party libraries are translated at the module that calls them
with ``raise OurError(...) from err``, so callers never catch library types::

    JarvisError
    ├── ConfigError                 invalid setting, config file or key placement
    ├── ModelError                  a model file missing, corrupt or failing to load
    ├── AudioError
    │   ├── AudioFormatError        unsupported or corrupt WAV data
    │   └── AudioDeviceError        PortAudio missing, device absent or failing
    ├── TranscriptionError          speech recognition failed
    ├── SynthesisError              text-to-speech failed
    ├── AnswerError                 the local answer tier failed
    └── CloudError                  anything in the cloud client (``transient`` flag)
        ├── ProviderError           a provider call failed
        │   ├── ProviderUnavailableError   timeout, connection, 408/409/5xx/529
        │   │   └── CircuitOpenError       the provider's breaker is open; it was skipped
        │   ├── RateLimitedError           429 from the provider
        │   ├── AuthenticationError        401/403, bad or missing key
        │   ├── BadRequestError            400/404/422, the request was rejected
        │   ├── MalformedReplyError        a reply body that is not what the API defines
        │   └── StreamInterruptedError     a stream broke or ended without its marker
        ├── RefusalError            the provider declined for safety (not a failure)
        ├── BudgetExceededError     the daily spend budget would be exceeded
        ├── LocalRateLimitError     our own requests/tokens per minute limit
        ├── InputRejectedError      the input guard blocked the request
        ├── MissingKeyError         no key for a provider
        └── AllProvidersFailedError every provider in the fallback order failed

Retry and fallback code reads :attr:`CloudError.transient`, never message text.
Messages never contain secrets: they name the setting or provider, not a value.
"""

from __future__ import annotations


class JarvisError(Exception):
    """Root of every error JARVIS raises on purpose."""


class ConfigError(JarvisError):
    """A setting, the config file or a key's placement is invalid."""


class ModelError(JarvisError):
    """A model file is missing, fails its checksum or fails to load."""


class AudioError(JarvisError):
    """Audio input or output failed."""


class AudioFormatError(AudioError):
    """Audio data is in an unsupported format or corrupt."""


class AudioDeviceError(AudioError):
    """The sound system or a device is missing or failed."""


class TranscriptionError(JarvisError):
    """Speech recognition failed."""


class SynthesisError(JarvisError):
    """Text-to-speech synthesis failed."""


class AnswerError(JarvisError):
    """The local answer tier (skills or local model) failed."""


class CloudError(JarvisError):
    """Base of cloud client errors.

    ``transient`` tells whether the same request may succeed if tried again
    later; retries, breakers and fallback read it.
    """

    transient: bool = False

    def __init__(self, message: str, *, provider: str | None = None, transient: bool | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        if transient is not None:
            self.transient = transient


class ProviderError(CloudError):
    """A call to a provider failed.

    ``status`` is the HTTP status when there was one; ``retry_after_s`` is
    the delay the provider requested, in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        transient: bool | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, transient=transient)
        self.status = status
        self.retry_after_s = retry_after_s


class ProviderUnavailableError(ProviderError):
    """Timeout, dropped connection, 408, 409, 5xx or Anthropic's 529."""

    transient = True


class CircuitOpenError(ProviderUnavailableError):
    """The provider's circuit breaker is open, so no request was sent to it."""


class RateLimitedError(ProviderError):
    """The provider answered 429; a spend-limit 429 is permanent."""

    transient = True


class AuthenticationError(ProviderError):
    """The provider rejected the key (401 or 403)."""

    transient = False


class BadRequestError(ProviderError):
    """The provider rejected the request as invalid (400, 404, 422)."""

    transient = False


class MalformedReplyError(ProviderError):
    """The reply body could not be parsed as the API defines it.

    Transient: a cut or garbled body usually comes from a proxy or an overloaded
    server, and the same request tends to succeed when sent again.
    """

    transient = True


class StreamInterruptedError(ProviderError):
    """A stream broke, carried an error event or ended without its final marker."""

    transient = True


class RefusalError(CloudError):
    """The provider declined to answer for safety; not retried, not a breaker failure."""


class BudgetExceededError(CloudError):
    """Sending the request could push the day's spend over the budget."""


class LocalRateLimitError(CloudError):
    """Our own requests-per-minute or tokens-per-minute limit is reached."""

    transient = True


class InputRejectedError(CloudError):
    """The input guard blocked the request."""


class MissingKeyError(CloudError):
    """No API key is configured for the provider."""


class AllProvidersFailedError(CloudError):
    """Every provider in the fallback order failed; ``causes`` contains each error."""

    def __init__(self, message: str, causes: list[CloudError]) -> None:
        super().__init__(message, transient=any(cause.transient for cause in causes))
        self.causes = causes
