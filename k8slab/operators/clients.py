"""Clientsets with client-go's limiter topology: a token bucket per group version unless QPS > 0.

    cs = new_clientset(kubeconfig)            # QPS 0: apps/v1, core/v1, samplecontroller/v1alpha1 a bucket each
    cs = new_clientset(kubeconfig, qps=5, burst=10)   # QPS > 0: one bucket for them all
    cs.limiters()                             # {"apps/v1": <5/10 bucket>, ...}: who waits behind whom

sample-controller's main.go builds its clients with `kubernetes.NewForConfig`
and the generated `versioned.NewForConfig` from a config whose QPS is 0.
Both then give every group version's RESTClient a token bucket of its own
(rest/config.go `RESTClientForConfigAndClient`, client-go's defaults 5 QPS /
burst 10), so Deployment writes (apps/v1), Events (core/v1) and Foo status
writes (samplecontroller/v1alpha1) never queue behind one another: together
they may send 15 requests a second. Set QPS > 0 and `NewForConfig` shares one
bucket across the clientset's group versions instead.

k8slab's controller writes through `DictClientset`, the chain's dynamic client
with the typed shape on top; client-go's dynamic client has a single
RESTClient, so a single bucket, whatever the QPS. `GroupVersionClientset` is
the same clientset with `NewForConfig`'s topology: each group version a
sibling ApiClient (one connection pool) with its own limiter. The chain's
typed `Clientset` does the same for the Python client's models
(`k8slab/chain/clientset.py`).

Kept: `NewForConfig`'s three cases (a given limiter or QPS > 0: one shared
bucket; QPS 0: a bucket per group version; QPS < 0: none).
Left out: discovery's own bucket (these clientsets do no discovery).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from k8slab.chain import DynamicResourceClient, RestConfig, ThrottledApiClient, load_kubeconfig
from k8slab.chain.flowcontrol import DEFAULT_BURST, new_token_bucket_rate_limiter, rate_limiter_for
from k8slab.errors import UsageError
from k8slab.meta import GroupVersionResource
from k8slab.samplecontroller import DictClientset

__all__ = ["GroupVersionClientset", "new_clientset", "new_clientset_for_config"]


class GroupVersionClientset(DictClientset):
    """DictClientset whose group versions each send through a limiter of their own."""

    def __init__(self, api_client: ThrottledApiClient, *, qps: float = 0.0, burst: int = 0) -> None:
        super().__init__(api_client)
        self._qps, self._burst = qps, burst
        self._clients: dict[str, ThrottledApiClient] = {}
        self._lock = threading.Lock()

    def _client(self, group: str, version: str) -> ThrottledApiClient:
        key = f"{group}/{version}" if group else version
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                limiter = rate_limiter_for(self._qps, self._burst or DEFAULT_BURST)
                client = self._clients[key] = self.api_client.with_rate_limiter(limiter)
            return client

    def resource(self, gvr: GroupVersionResource) -> DynamicResourceClient:
        return DynamicResourceClient(self._client(gvr.group, gvr.version), gvr)

    def limiters(self) -> dict[str, Any]:
        """Group version -> its limiter, for the group versions used so far."""
        with self._lock:
            return {key: client.rate_limiter for key, client in sorted(self._clients.items())}


def new_clientset_for_config(config: RestConfig) -> DictClientset:
    """`kubernetes.NewForConfig`'s limits over DictClientset (see the module docstring)."""
    http = ThrottledApiClient(config.to_configuration(), None, config.user_agent, config.timeout)
    if config.rate_limiter is not None or config.qps > 0:
        if config.rate_limiter is None and config.burst <= 0:
            raise UsageError(f"burst must be greater than 0 when QPS is set (qps={config.qps:g}, "
                             f"burst={config.burst}); pass burst too")
        shared = config.rate_limiter or new_token_bucket_rate_limiter(config.qps, config.burst)
        return DictClientset(http.with_rate_limiter(shared))
    return GroupVersionClientset(http, qps=config.qps, burst=config.burst)


def new_clientset(kubeconfig: str | os.PathLike[str], *, qps: float = 0.0, burst: int = 0,
                  user_agent: str = "") -> DictClientset:
    """A clientset for a kubeconfig's current context; `qps` 0 means a 5/10 bucket per group version."""
    config = load_kubeconfig(kubeconfig).client_config()
    config.qps, config.burst = qps, burst
    if user_agent:
        config.user_agent = user_agent
    return new_clientset_for_config(config)
