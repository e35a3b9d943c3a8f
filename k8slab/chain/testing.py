"""A mock transport: the bottom of the chain, without a server.

    client = mock_api_client(lambda req: (200, {"kind": "PodList", "items": []}))
    RESTClient(client).get().resource("pods").do()
    client.rest_client.requests[0].path      # "/api/v1/pods"

Stands where the `kubernetes` 37.x client's `rest.RESTClientObject` stands (as
client-go's `rest/fake` and httpx's `MockTransport` do): everything above it (auth,
query encoding, throttling, the trace, decoding, errors) runs for real. The handler
gets a `MockRequest` and returns `(status, payload[, headers])`: a dict or list goes
out as JSON, bytes as they are (a watch is bytes of JSON lines); raising from it
stands for a transport failure (e.g. urllib3's `MaxRetryError`).
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from k8slab.chain.flowcontrol import RateLimiter
from k8slab.chain.rest_client import ThrottledApiClient
from k8slab.chain.rest_config import RestConfig

__all__ = ["MockRequest", "MockTransport", "mock_api_client"]


@dataclasses.dataclass
class MockRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    timeout: Any = None  # the `_request_timeout` urllib3 would get (seconds, or None for none)


Handler = Callable[[MockRequest], tuple]


class MockTransport:
    """Answers requests with a handler and keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[MockRequest] = []

    def request(self, method: str, url: str, headers: Any = None, body: Any = None,
                post_params: Any = None, _request_timeout: Any = None) -> Any:
        import urllib3
        from kubernetes.client.rest import RESTResponse

        parts = urlsplit(url)
        req = MockRequest(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), dict(headers or {}), body,
                          _request_timeout)
        self.requests.append(req)
        status, payload, *rest = self.handler(req)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        reply_headers = {"Content-Type": "application/json", **(rest[0] if rest else {})}
        raw = urllib3.HTTPResponse(body=_Body(data), status=status, headers=reply_headers, preload_content=False)
        return RESTResponse(raw)

    def close(self) -> None:
        pass


class _Body(io.BytesIO):
    """A response body that closes itself at the end, as http.client's does (urllib3 relies on it)."""

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data:
            self.close()
        return data


def mock_api_client(handler: Handler, *, rate_limiter: RateLimiter | None = None, token: str = "",
                    config: RestConfig | None = None) -> ThrottledApiClient:
    """A `ThrottledApiClient` whose transport is a `MockTransport` (at `.rest_client`), for
    `config` (default: a host and `token`). A client certificate from an exec plugin
    replaces the transport with a real pool, as it would in use."""
    config = config or RestConfig(host="https://mock.invalid", bearer_token=token)
    client = ThrottledApiClient(config.to_configuration(), rate_limiter)
    client.rest_client = MockTransport(handler)
    return client
