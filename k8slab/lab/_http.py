"""The lab's one HTTP helper: how it talks to its own processes on 127.0.0.1.

The lab starts what k8slab's client chain talks to, so it does not use the
chain: readiness probes, etcd's JSON gateway and the few API calls of a start
(the fake nodes, the last waits) go through `call` with the standard library.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

__all__ = ["call", "ok"]


def call(url: str, *, method: str = "GET", body: Any = None, context: ssl.SSLContext | None = None,
         timeout: float = 10.0) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body) for any answer, an error status included.

    Raises OSError when nothing answers (refused, reset, timed out, TLS
    refused) and ValueError when the body is not JSON.
    """
    status, raw = _send(url, method, None if body is None else json.dumps(body).encode(), context, timeout)
    return status, json.loads(raw) if raw.strip() else {}


def ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """A readiness probe: True if `url` answers 200."""
    try:
        return _send(url, "GET", None, context, timeout)[0] == 200
    except (OSError, ValueError):
        return False


def _send(url: str, method: str, data: bytes | None, context: ssl.SSLContext | None,
          timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:  # an answer, only not a 2xx one
        return exc.code, exc.read()
