"""Notebook 09a's checked exercises: a relist through the classic and today's pipeline.

    09a.1  predict the handler calls today's pipeline (client-go v0.37.2: RealFIFO in
           atomic mode, `processReplacedAllInfo` in `controller.go`) makes for one relist
    09a.2  predict them for the classic pipeline (v0.32: DeltaFIFO's `Replace`, then
           `processDeltas` per key)

The relist: the cache holds a, b and c (each at v=1); the list now returns
[c, a at v=2, d]. A prediction is a list of calls, in order, written
"add d", "update a", "delete b" (a tombstone's deletion is "delete b" too).
The expected lists are computed by running k8slab's queues and `process_deltas`,
which mirror client-go's.
"""

from __future__ import annotations

from typing import Any

from k8slab.cache import (
    CLASSIC, TODAY, DeletedFinalStateUnknown, FeatureGates, deletion_handling_meta_namespace_key_func,
    new_indexer, new_queue_fifo, process_deltas,
)
from k8slab.cache.testing import config_map
from k8slab.views.exercises.framework import Exercise, Mismatch, Run, define, expect

__all__: list[str] = ["relist_calls"]


class _Calls:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self.calls.append(f"add {obj['metadata']['name']}")

    def on_update(self, old: Any, new: Any) -> None:
        self.calls.append(f"update {new['metadata']['name']}")

    def on_delete(self, obj: Any) -> None:
        name = obj.key.split("/")[1] if isinstance(obj, DeletedFinalStateUnknown) else obj["metadata"]["name"]
        self.calls.append(f"delete {name}")


def relist_calls(gates: FeatureGates) -> list[str]:
    """The calls one handler gets when a cache of a, b, c relists [c, a v2, d] through `gates`' queue."""
    store = new_indexer(deletion_handling_meta_namespace_key_func)
    handler = _Calls()
    fifo = new_queue_fifo(gates, store)
    fifo.replace([config_map(n, data={"v": "1"}) for n in "abc"], "10")
    while len(fifo):
        fifo.pop(lambda deltas, initial: process_deltas(handler, store, deltas, initial))
    handler.calls.clear()
    fifo.replace([config_map("c", data={"v": "1"}), config_map("a", data={"v": "2"}), config_map("d", data={"v": "1"})],
                 "20")
    while len(fifo):
        fifo.pop(lambda deltas, initial: process_deltas(handler, store, deltas, initial))
    return handler.calls


def _prediction(answer: Any) -> list[str]:
    if isinstance(answer, str) or not isinstance(answer, (list, tuple)) or not all(isinstance(x, str) for x in answer):
        raise Mismatch('a list of calls, e.g. ["add d", "delete b"]', repr(answer))
    return [" ".join(x.split()) for x in answer]


def _predict(ex: Exercise, gates: FeatureGates, hint: str) -> None:
    @ex.scenario("the handler's calls for the relist, in order, as the real pipeline makes them")
    def _(answer: Any, run: Run) -> None:
        expected = relist_calls(gates)
        got = _prediction(answer)
        if sorted(got) != sorted(expected):
            raise Mismatch(f"these four calls (in some order): {sorted(expected)}", repr(got),
                           "every listed object is an update (cached) or an add (new); every cached key not listed "
                           "is a deletion, told by a tombstone")
        expect("the calls, in order", got, expected, hint=hint)


_predict(
    define("09a.1", "today's pipeline: one relist, as a handler sees it", answer="a list of calls",
           callable_answer=False),
    TODAY,
    "today's RealFIFO queues ONE ReplacedAll; processReplacedAllInfo replaces the store, then tells the deletions "
    "first, then updates and adds in the list's order",
)
_predict(
    define("09a.2", "the classic pipeline: the same relist, as a handler sees it", answer="a list of calls",
           callable_answer=False),
    CLASSIC,
    "the DeltaFIFO's Replace queues Replaced for each listed object in the list's order, then a tombstone for each "
    "known key the list no longer holds; the informer pops them key by key",
)
