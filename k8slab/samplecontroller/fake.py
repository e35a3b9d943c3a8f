"""The fake clientsets sample-controller's tests are handed: calls recorded, nothing sent.

Mirrors client-go v0.37 `kubernetes/fake` (`NewSimpleClientset`) and
sample-controller's generated `versioned/fake`: the typed shape of
`DictClientset` (clientset.py) over `k8slab.testing.FakeDynamicClient`, so a
test can preload objects, call `sync_handler` and compare the actions it
expected with the ones recorded. Everything else (the object tracker, actions,
reactors) is `k8slab.testing`'s; see it for what is kept and left out.
"""

from __future__ import annotations

from typing import Any

from k8slab.samplecontroller.clientset import TypedClientset
from k8slab.testing import Action, FakeDynamicClient, ObjectTracker, Reaction

__all__ = ["Action", "FakeClientset"]


class FakeClientset(TypedClientset):
    """Same accessors as DictClientset; `actions` lists every call made, in order."""

    def __init__(self, *objects: dict[str, Any], tracker: ObjectTracker | None = None) -> None:
        super().__init__(FakeDynamicClient(*objects, tracker=tracker))

    @property
    def actions(self) -> list[Action]:
        return self.dynamic.actions

    def prepend_reactor(self, verb: str, resource: str, reaction: Reaction) -> None:
        """Let `reaction` see matching calls first ("*" matches any verb or resource)."""
        self.dynamic.prepend_reactor(verb, resource, reaction)

    def clear_actions(self) -> None:
        self.dynamic.clear_actions()
