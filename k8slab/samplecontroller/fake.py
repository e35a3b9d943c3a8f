"""The fake clientsets sample-controller's tests are handed: calls recorded, nothing sent.

Mirrors client-go v0.37.2 `kubernetes/fake` (`NewSimpleClientset`) and
sample-controller's generated `versioned/fake`: as their `Clientset` embeds
`testing.Fake` (actions, reactors) and an object tracker, `FakeClientset` is a
`k8slab.testing.FakeDynamicClient` with the typed shape of `DictClientset`
(clientset.py) on top, so a test can preload objects, call `sync_handler` and
compare the actions it expected with the ones recorded. What is kept and left
out is `k8slab.testing`'s.
"""

from __future__ import annotations

from typing import Any

from k8slab.samplecontroller.clientset import TypedClientset
from k8slab.testing import Action, FakeDynamicClient, ObjectTracker

__all__ = ["Action", "FakeClientset"]


class FakeClientset(FakeDynamicClient, TypedClientset):
    """Same accessors as DictClientset; `actions` lists every call made, in order."""

    def __init__(self, *objects: dict[str, Any], tracker: ObjectTracker | None = None) -> None:
        FakeDynamicClient.__init__(self, *objects, tracker=tracker)
        TypedClientset.__init__(self, self)
