"""The pooled HTTP client each adapter owns for its whole life."""

from __future__ import annotations

import functools
import ssl

import httpx2

from jarvis.cloud.config import ProviderSettings


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Return one TLS context with httpx2's default trust settings, shared by every pool.

    Loading the certificate store takes tens of milliseconds, so it is done once.
    """
    return httpx2.create_ssl_context()


def make_http_client(settings: ProviderSettings) -> httpx2.AsyncClient:
    """Build one connection pool sized by ``max_connections``, with the request timeout from settings.

    The three SDKs are built on ``httpx2`` (a fork of httpx) and accept only its
    client type. Redirects are not followed, so key headers never travel to a
    host other than the configured one.
    """
    return httpx2.AsyncClient(
        limits=httpx2.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        ),
        timeout=httpx2.Timeout(settings.timeout_s),
        follow_redirects=False,
        verify=tls_context(),
    )
