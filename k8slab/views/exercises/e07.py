"""Notebook 07's checked exercises: the DeltaFIFO (client-go `tools/cache/delta_fifo.go`).

    07.1  predict the deltas queued for `a` by add(a), delete(a), delete(a)
    07.2  predict them for add(a), replace([], "9") when the consumer never saw `a`
    07.3  write a key function that survives tombstones (client-go's
          `DeletionHandlingMetaNamespaceKeyFunc`), checked on objects, tombstones, and as
          the key function of a consumer's cache behind a real DeltaFIFO

A prediction is written as a list of delta types, oldest first, with a
tombstone written "Deleted(tombstone)": `["Added", "Deleted"]`. The expected
lists are computed by running k8slab's DeltaFIFO, which mirrors client-go's.
"""

from __future__ import annotations

from typing import Any, Callable

from k8slab.cache import DeletedFinalStateUnknown, DeltaFIFO, new_store, process_deltas
from k8slab.views.exercises.framework import Exercise, Mismatch, Run, define, expect

__all__: list[str] = []


def _object(name: str, namespace: str | None = "default", v: str = "1") -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"v": v}}


def _describe(fifo: DeltaFIFO, key: str) -> list[str]:
    deltas = fifo.get_by_key(key) or []
    return [f"{d.type}(tombstone)" if isinstance(d.object, DeletedFinalStateUnknown) else str(d.type) for d in deltas]


def _prediction(answer: Any) -> list[str]:
    if isinstance(answer, str) or not all(isinstance(x, str) for x in answer):
        raise Mismatch('a list of delta types, e.g. ["Added", "Deleted(tombstone)"]', repr(answer))
    return [x.strip() for x in answer]


def _predict(ex: Exercise, steps: Callable[[DeltaFIFO], None], hint: str) -> None:
    @ex.scenario("the deltas queued for default/a, oldest first, as a real DeltaFIFO queues them")
    def _(answer: Any, run: Run) -> None:
        fifo = DeltaFIFO(known_objects=new_store())  # the consumer knows nothing yet
        steps(fifo)
        expect("the deltas of default/a", _prediction(answer), _describe(fifo, "default/a"), hint=hint)


def _twice(fifo: DeltaFIFO) -> None:
    fifo.add(_object("a"))
    fifo.delete(_object("a"))
    fifo.delete(_object("a"))


def _relisted(fifo: DeltaFIFO) -> None:
    fifo.add(_object("a"))
    fifo.replace([], "9")


_predict(
    define("07.1", "add(a), delete(a), delete(a)", answer="a list of delta types", callable_answer=False),
    _twice,
    "two Deleted in a row are the only deltas a DeltaFIFO merges (dedupDeltas / isDeletionDup in delta_fifo.go)",
)
_predict(
    define("07.2", 'add(a), replace([], "9")', answer="a list of delta types", callable_answer=False),
    _relisted,
    "a relist that misses a key queues a tombstone for it, whether the consumer knows it or it is only queued",
)


key_func = define("07.3", "a key function that survives tombstones",
                  answer='a function key(obj) -> str: "namespace/name", "name", or a tombstone\'s key')


@key_func.scenario("a namespaced object's key is namespace/name")
def _namespaced(answer: Any, run: Run) -> None:
    expect("key(a ConfigMap 'a' in namespace 'shop')", answer(_object("a", "shop")), "shop/a")


@key_func.scenario("a cluster-scoped object's key is its name")
def _cluster_scoped(answer: Any, run: Run) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    expect("key(the Node 'node-1')", answer(node), "node-1", hint="no namespace: no slash")


@key_func.scenario("a tombstone's key is the key it carries, even when its last state is unknown")
def _tombstones(answer: Any, run: Run) -> None:
    cases = (("the ConfigMap shop/b", _object("b", "shop")), ("None", None))
    for last, obj in cases:
        tombstone = DeletedFinalStateUnknown(f"shop/{'b' if obj else 'c'}", obj)
        what = f"key(DeletedFinalStateUnknown({tombstone.key!r}, obj={last}))"
        try:
            got = answer(tombstone)
        except Exception as exc:
            hint = "a DeletedFinalStateUnknown is not a dict: return its .key (its .obj may be stale, or None)"
            raise Mismatch(f"{what} = {tombstone.key!r}", f"{type(exc).__name__}: {exc}", hint) from None
        expect(what, got, tombstone.key, hint="return the tombstone's .key")


@key_func.scenario("as a cache's key function, a deletion that only a relist saw leaves the cache")
def _in_a_cache(answer: Any, run: Run) -> None:
    cache = new_store(answer)
    fifo = DeltaFIFO(known_objects=cache)
    deleted: list[Any] = []
    handler = _Handler(deleted)
    fifo.add(_object("a"))
    fifo.add(_object("b"))
    _drain(fifo, lambda deltas, initial: process_deltas(handler, cache, deltas, initial))
    fifo.replace([_object("a")], "9")  # b was deleted while nobody watched
    try:
        _drain(fifo, lambda deltas, initial: process_deltas(handler, cache, deltas, initial))
    except Exception as exc:
        raise Mismatch("the cache to delete default/b, told by a tombstone",
                       f"the cache's delete raised {type(exc).__name__}: {exc}",
                       "the informer hands the tombstone itself to the cache: the key function must know it") from None
    expect("the cache's keys after the relist", sorted(cache.list_keys()), ["default/a"])
    expect("what the delete handler got", [type(d).__name__ for d in deleted], ["DeletedFinalStateUnknown"])


class _Handler:
    def __init__(self, deleted: list[Any]) -> None:
        self.deleted = deleted

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        pass

    def on_update(self, old: Any, new: Any) -> None:
        pass

    def on_delete(self, obj: Any) -> None:
        self.deleted.append(obj)


def _drain(fifo: DeltaFIFO, process: Callable[[Any, bool], None]) -> None:
    while len(fifo):
        fifo.pop(process)
