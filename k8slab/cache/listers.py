"""Listers: read-only, namespace-aware views of an informer's Indexer.

Mirrors client-go v0.37.2 `tools/cache/listers.go` (`ListAll`,
`ListAllByNamespace`, `GenericLister`), plus the small part of apimachinery's
`labels` package a lister needs.

Kept: `list(selector)` over the whole cache; `namespace(ns)` (client-go's
`ByNamespace`) answering from the "namespace" index; `get` reads by key and
raises the same `errors.NotFound` the API would, with the API's message
(`configmaps "x" not found`); an empty selector matches everything.
Label selectors: a `{"app": "x"}` dict (matchLabels), or a string with
`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`.
Left out: typed listers, set-based selector validation rules, field selectors,
`labels.Nothing()` (v0.37.2 returns at once for it; no string parses to it).

Listers hand out the cached objects themselves: deep-copy before changing one.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from k8slab import errors
from k8slab.cache.index import NAMESPACE_INDEX
from k8slab.cache.store import Indexer

__all__ = ["Lister", "NamespaceLister", "Selector", "parse_selector"]

Selector = Callable[[dict[str, str]], bool]
"""A compiled label selector: labels -> matches?"""

_REQUIREMENT = re.compile(
    r"""^\s*(?:
        (?P<not>!)\s*(?P<nkey>[\w./-]+)                                   # !key
      | (?P<key>[\w./-]+)\s*(?:
            (?P<op>==|=|!=)\s*(?P<value>[\w.-]*)                           # key=v, key==v, key!=v
          | \s(?P<setop>in|notin)\s*\(\s*(?P<values>[\w.\s,-]*)\)         # key in (a,b)
        )?
    )\s*$""",
    re.VERBOSE,
)


def _everything(labels: dict[str, str]) -> bool:
    return True


def parse_selector(selector: str | dict[str, str] | None) -> Selector:
    """Compile a label selector (string, matchLabels dict, or None for everything)."""
    if not selector:
        return _everything
    if isinstance(selector, dict):
        wanted = dict(selector)
        return lambda labels: all(labels.get(k) == v for k, v in wanted.items())
    tests: list[Selector] = []
    for part in re.split(r",(?![^()]*\))", selector):  # commas outside parentheses
        m = _REQUIREMENT.match(part)
        if not m:
            raise errors.UsageError(f"cannot parse label selector {selector!r} at {part!r}")
        tests.append(_requirement(m))
    return lambda labels: all(test(labels) for test in tests)


def _requirement(m: re.Match[str]) -> Selector:
    if m["not"]:
        key = m["nkey"]
        return lambda labels: key not in labels
    key, op = m["key"], m["op"] or m["setop"]
    if op in ("=", "=="):
        value = m["value"]
        return lambda labels: labels.get(key) == value
    if op == "!=":
        value = m["value"]
        return lambda labels: labels.get(key) != value
    if op in ("in", "notin"):
        values = {v.strip() for v in m["values"].split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    return lambda labels: key in labels  # bare key: exists


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


class Lister:
    """Reads one resource from an Indexer. `resource` names it in NotFound messages."""

    def __init__(self, indexer: Indexer, resource: str) -> None:
        self._indexer = indexer
        self.resource = resource

    def list(self, selector: str | dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every cached object whose labels match `selector`."""
        objects = self._indexer.list()
        if not selector:
            return objects
        matches = parse_selector(selector)
        return [o for o in objects if matches(_labels(o))]

    def get(self, name: str) -> dict[str, Any]:
        """A cluster-scoped object by name; raises errors.NotFound."""
        obj = self._indexer.get_by_key(name)
        if obj is None:
            raise errors.new_not_found(self.resource, name)
        return obj

    def namespace(self, namespace: str) -> "NamespaceLister":
        """The objects of one namespace (client-go's `ByNamespace`)."""
        return NamespaceLister(self._indexer, self.resource, namespace)


class NamespaceLister:
    """Reads one namespace of a resource from an Indexer."""

    def __init__(self, indexer: Indexer, resource: str, namespace: str) -> None:
        self._indexer = indexer
        self.resource = resource
        self.namespace = namespace

    def list(self, selector: str | dict[str, str] | None = None) -> list[dict[str, Any]]:
        """The namespace's objects whose labels match `selector` (uses the namespace index)."""
        if not self.namespace:  # metav1.NamespaceAll
            return Lister(self._indexer, self.resource).list(selector)
        if NAMESPACE_INDEX in self._indexer.get_indexers():
            objects = self._indexer.by_index(NAMESPACE_INDEX, self.namespace)
        else:  # no index: scan, as client-go falls back to
            objects = [
                o for o in self._indexer.list() if o["metadata"].get("namespace") == self.namespace
            ]
        if not selector:
            return objects
        matches = parse_selector(selector)
        return [o for o in objects if matches(_labels(o))]

    def get(self, name: str) -> dict[str, Any]:
        """An object of this namespace by name; raises errors.NotFound."""
        obj = self._indexer.get_by_key(f"{self.namespace}/{name}")
        if obj is None:
            raise errors.new_not_found(self.resource, name)
        return obj
