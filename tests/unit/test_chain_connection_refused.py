"""`ServerUnreachable.connection_refused`: the one unreachable case a reflector re-watches in place.

client-go's reflector re-watches without relisting only when `utilnet.IsConnectionRefused`
(or on a 429); the chain marks a refused connection where it turns urllib3's failure
into a k8slab error (rest_client.translate). A real socket on 127.0.0.1, nothing listening.
"""

from __future__ import annotations

import socket

import urllib3

from k8slab.cache.reflector_watch import is_watch_error_retriable
from k8slab.chain.rest_client import RESTClient, api_client_for, translate
from k8slab.chain.rest_config import RestConfig
from k8slab.errors import ServerUnreachable


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: nothing listens there


def test_a_refused_connection_is_marked_and_retriable():
    rest = RESTClient(api_client_for(RestConfig(host=f"http://127.0.0.1:{_closed_port()}")), version="v1")
    try:
        rest.get().resource("configmaps").do()
    except ServerUnreachable as exc:
        err = exc
    else:
        raise AssertionError("the request did not fail")
    assert err.connection_refused and "connection refused" in str(err)
    assert is_watch_error_retriable(err)


def test_other_unreachable_failures_are_not_marked():
    tls = urllib3.exceptions.MaxRetryError(None, "/api", reason=urllib3.exceptions.SSLError("certificate verify failed"))
    dns = urllib3.exceptions.MaxRetryError(
        None, "/api", reason=urllib3.exceptions.NameResolutionError("nowhere.invalid", None, "Name or service not known"))
    timeout = urllib3.exceptions.MaxRetryError(None, "/api", reason=urllib3.exceptions.ReadTimeoutError(None, "/api", "read timed out"))
    for exc in (tls, dns, timeout):
        err = translate(exc, "GET /api")
        assert isinstance(err, ServerUnreachable) and not err.connection_refused, err
        assert not is_watch_error_retriable(err)
