"""Named index functions for the cache: how a store finds objects by something other than key.

Mirrors client-go v0.37.2 `tools/cache/index.go`.

Kept: an index function maps an object to a list of strings (several values
allowed, as for a Pod's many volumes); `Indexers` names them; an index maps
each value to the set of store keys that produced it; the built-in
"namespace" index.
Left out: `IndexFuncToKeyFuncAdapter`, the typed indexers (`TypedIndexers`, new
since v0.32: a Python index function takes any object), and error returns from index functions
(a Python index function raises instead).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = [
    "NAMESPACE_INDEX", "Index", "IndexFunc", "Indexers", "Indices", "meta_namespace_index_func",
]

IndexFunc = Callable[[Any], list[str]]
"""Computes the indexed values of an object (zero, one or many strings)."""

Indexers = dict[str, IndexFunc]
"""Index name -> index function."""

Index = dict[str, set[str]]
"""Indexed value -> keys of the stored objects that produce it."""

Indices = dict[str, Index]
"""Index name -> its Index."""

NAMESPACE_INDEX = "namespace"
"""The name listers use for the namespace index (client-go's NamespaceIndex)."""


def meta_namespace_index_func(obj: dict[str, Any]) -> list[str]:
    """Index an object by its namespace ("" for cluster-scoped objects)."""
    return [obj["metadata"].get("namespace") or ""]
