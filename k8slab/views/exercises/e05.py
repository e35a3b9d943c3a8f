"""Notebook 05's checked exercises: the request's URL, and what a trace may show of its headers.

    05.1  write url(group, version, namespace, resource, name="", subresource="", params=None):
          the path and query a RESTClient request is sent to, as client-go's
          `Request.URL` (`rest/request.go`) lays it out
    05.2  write mask(key, value): how `kubectl -v=8` prints a request header
          (`maskValue` in `transport/round_trippers.go`): an Authorization header keeps
          its scheme and loses its credentials, any other header is printed as it is

The expected URLs are k8slab's `Request.url()` for the same request (no request is
sent). The expected masks follow `maskValue`'s rules, written down once below
(k8slab's own trace is stricter: it hides the whole header).
"""

from __future__ import annotations

from typing import Any

from k8slab.chain.rest_client import RESTClient, api_client_for
from k8slab.chain.rest_config import RestConfig
from k8slab.views.exercises.framework import Run, define, expect

__all__: list[str] = []


def _reference_url(group: str, version: str, namespace: str, resource: str, name: str = "",
                   subresource: str = "", params: dict[str, Any] | None = None) -> str:
    api_client = api_client_for(RestConfig(host="https://127.0.0.1:6443"))
    try:
        request = RESTClient(api_client, group=group, version=version).get()
        if namespace:
            request.namespace(namespace)
        request.resource(resource)
        if name:
            request.name(name)
        if subresource:
            request.subresource(subresource)
        for key, value in (params or {}).items():
            request.param(key, value)
        return request.url()
    finally:
        api_client.close()


url = define("05.1", "the URL of a request: /api or /apis/<group>, the version, the namespace, the rest, "
                     "a sorted query",
             answer="a function url(group, version, namespace, resource, name='', subresource='', params=None) -> str")


def _urls(answer: Any, cases: list[dict[str, Any]], hint: str) -> None:
    for case in cases:
        args = ", ".join(f"{k}={v!r}" for k, v in case.items())
        expect(f"url({args})", answer(**case), _reference_url(**case), hint=hint)


@url.scenario("the core group lives under /api/v1, every other group under /apis/<group>/<version>")
def _prefix(answer: Any, run: Run) -> None:
    _urls(answer, [
        dict(group="", version="v1", namespace="shop", resource="pods", name="web-0"),
        dict(group="apps", version="v1", namespace="shop", resource="deployments", name="web"),
        dict(group="samplecontroller.k8s.io", version="v1alpha1", namespace="default", resource="foos",
             name="example-foo"),
    ], "the core group is the legacy one: /api/<version>; the others /apis/<group>/<version>")


@url.scenario("a cluster-scoped resource, or all namespaces, has no namespaces/<ns> segment")
def _cluster_scoped(answer: Any, run: Run) -> None:
    _urls(answer, [
        dict(group="", version="v1", namespace="", resource="nodes", name="node-1"),
        dict(group="", version="v1", namespace="", resource="pods"),
        dict(group="rbac.authorization.k8s.io", version="v1", namespace="", resource="clusterroles", name="view"),
    ], "namespaces/<ns> only when there is a namespace: '' means none")


@url.scenario("a subresource comes after the name")
def _subresource(answer: Any, run: Run) -> None:
    _urls(answer, [
        dict(group="", version="v1", namespace="shop", resource="pods", name="web-0", subresource="status"),
        dict(group="apps", version="v1", namespace="shop", resource="deployments", name="web", subresource="scale"),
    ], "<resource>/<name>/<subresource>")


@url.scenario("the query is sorted by key and its values are URL-encoded")
def _query(answer: Any, run: Run) -> None:
    _urls(answer, [
        dict(group="", version="v1", namespace="shop", resource="pods",
             params={"labelSelector": "app=web,tier!=db", "limit": 500}),
        dict(group="", version="v1", namespace="", resource="pods",
             params={"resourceVersion": "0", "limit": 500, "fieldSelector": "spec.nodeName=node-1"}),
    ], "Go's url.Values.Encode sorts by key and escapes each value ('=' is %3D, ',' %2C, '!' %21): "
       "urllib.parse.urlencode(sorted(params.items())) does both")


# -- 05.2 ------------------------------------------------------------------------------

_KNOWN_AUTH_TYPES = ("bearer", "basic", "negotiate")  # round_trippers.go's knownAuthTypes


def _reference_mask(key: str, value: str) -> str:
    """`maskValue`: only Authorization is masked; a known scheme stays readable, the rest does not."""
    if key.lower() != "authorization" or not value:
        return value
    space = value.find(" ")
    scheme = value[:space] if space > 0 else value
    if scheme.lower() not in _KNOWN_AUTH_TYPES:
        return "<masked>"
    return f"{scheme} <masked>" if len(value) > len(scheme) + 1 else scheme


mask = define("05.2", "kubectl -v=8's header masking: Authorization keeps its scheme, never its credentials",
              answer="a function mask(key, value) -> the value as the trace may print it")


def _masks(answer: Any, cases: list[tuple[str, str]], hint: str) -> None:
    for key, value in cases:
        expect(f"mask({key!r}, {value!r})", answer(key, value), _reference_mask(key, value), hint=hint)


@mask.scenario("a header other than Authorization is printed as it is")
def _others(answer: Any, run: Run) -> None:
    _masks(answer, [("Accept", "application/json"), ("User-Agent", "kubectl/v1.37.2 (linux/amd64)"),
                    ("Content-Type", "application/json")], "only Authorization carries credentials here")


@mask.scenario("a bearer token or basic credentials keep their scheme: 'Bearer <masked>'")
def _known(answer: Any, run: Run) -> None:
    _masks(answer, [("Authorization", "Bearer abc.not-a-real-token"), ("Authorization", "Basic YWxpY2U6cHc="),
                    ("Authorization", "Negotiate YIIB")],
           "the scheme (the word before the first space) says how the client proved itself, and is no secret")


@mask.scenario("the header's name is matched in any case")
def _any_case(answer: Any, run: Run) -> None:
    _masks(answer, [("authorization", "Bearer abc.def"), ("AUTHORIZATION", "bearer abc.def")],
           "HTTP header names are case-insensitive (strings.EqualFold in Go): compare key.lower()")


@mask.scenario("an unknown scheme, or none, hides the whole value: '<masked>'")
def _unknown(answer: Any, run: Run) -> None:
    _masks(answer, [("Authorization", "Token abc123"), ("Authorization", "abc123")],
           "a value whose first word is not bearer, basic or negotiate may be all secret: print '<masked>'")


@mask.scenario("a scheme alone, or an empty value, stays as it is")
def _bare(answer: Any, run: Run) -> None:
    _masks(answer, [("Authorization", "Bearer"), ("Authorization", "")],
           "nothing after the scheme: nothing to hide")
