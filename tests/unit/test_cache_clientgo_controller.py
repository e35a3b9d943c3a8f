"""client-go v0.37.2's controller_test.go scenarios, ported, and what a handler sees on each pipeline.

The ports (each names its Go test) run a `Controller` over a FakeSource with a
RealFIFO, atomic or not, and a recording handler called from `process_deltas`
(no shared informer, so the handler runs on the pop loop and sees the store as
the pipeline left it). The last tests put today's pipeline (v0.37.2) and the
classic one (v0.32) side by side on the same events: the order of deletes and
adds after a relist, what `is_in_initial_list` says, how many callbacks a resync gives.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.cache.controller import (
    Config, Controller, ResourceEventHandlerFuncs, new_queue_fifo, process_deltas, process_deltas_in_batch,
)
from k8slab.cache.delta_fifo import Delta, DeletedFinalStateUnknown, DeltaType
from k8slab.cache.features import CLASSIC, TODAY
from k8slab.cache.real_fifo import RealFIFO
from k8slab.cache.shared_informer import SharedIndexInformer, wait_for_cache_sync
from k8slab.cache.store import (
    Transaction, TransactionError, deletion_handling_meta_namespace_key_func, new_indexer, new_store,
)
from k8slab.cache.testing import FakeSource, config_map
from tests.unit._polling import WAIT, eventually, step_until


def pod(name: str, rv: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "resourceVersion": rv}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


class EventRecorder:
    """client-go's eventRecorder: each call with the event's RV and the store's RV for that key."""

    def __init__(self, store: Any, key_func: Callable[[Any], str] = deletion_handling_meta_namespace_key_func) -> None:
        self.store, self.key_func = store, key_func
        self.history: list[tuple] = []
        self._lock = threading.Lock()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self._record("add", obj, is_in_initial_list)

    def on_update(self, old: Any, new: Any) -> None:
        self._record("update", new, False)

    def on_delete(self, obj: Any) -> None:
        self._record("delete", obj, False)

    def _record(self, action: str, obj: Any, initial: bool) -> None:
        key = self.key_func(obj)
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        event_rv = obj["metadata"].get("resourceVersion", "") if isinstance(obj, dict) else ""
        cached = self.store.get_by_key(key)
        store_rv = cached["metadata"].get("resourceVersion", "") if isinstance(cached, dict) else ""
        with self._lock:
            self.history.append((action, key, event_rv, store_rv, initial))

    def take(self, count: int, clock: FakeClock | None = None) -> list[tuple]:
        """The calls so far, once there are `count` (stepping `clock` through the reflector's backoff)."""
        if clock is None:
            eventually(lambda: len(self.history) >= count)
        else:
            step_until(clock, lambda: len(self.history) >= count)
        with self._lock:
            taken, self.history = self.history, []
        return taken


class Running:
    """A Controller over a FakeSource, its queue and store exposed, stopped at teardown."""

    def __init__(self, source: FakeSource, fifo: Any, store: Any, handler: Any, key_func: Any) -> None:
        self.source, self.fifo, self.store = source, fifo, store
        self.clock = FakeClock()
        config = Config(
            fifo, source,
            lambda deltas, initial: process_deltas(handler, store, deltas, initial, key_func),
            "pods",
            process_batch=lambda deltas, initial: process_deltas_in_batch(handler, store, deltas, initial, key_func),
            clock=self.clock,
        )
        self.controller = Controller(config)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.controller.run, args=(self.stop,), daemon=True)
        self.thread.start()
        assert wait_for_cache_sync(self.stop, self.controller.has_synced, timeout=WAIT)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


@pytest.fixture
def controllers():
    made: list[Running] = []

    def make(source: FakeSource, atomic: bool, key_func: Any = deletion_handling_meta_namespace_key_func,
             transformer: Any = None, bookmarks: bool = False) -> tuple[Running, EventRecorder]:
        store = new_store(key_func)
        fifo = (RealFIFO(key_func, atomic_events=True, transformer=transformer, emit_delta_type_bookmark=bookmarks)
                if atomic
                else RealFIFO(key_func, store, transformer=transformer))
        recorder = EventRecorder(store, key_func)
        running = Running(source, fifo, store, recorder, key_func)
        made.append(running)
        return running, recorder

    yield make
    for running in made:
        running.close()


def pod_source(*pods: dict[str, Any]) -> FakeSource:
    source = FakeSource("Pod", resource="pods")
    for p in pods:
        source.add(p)
    return source


# -- TestProcessDeltasInBatch -----------------------------------------------------------------------


class FailingTxnStore:
    """client-go's mockTxnStore: a transaction in which some objects fail."""

    def __init__(self, failing: list[Any]) -> None:
        self.inner, self.failing, self.succeeded = new_store(), failing, 0

    def get(self, obj: Any) -> Any:
        return self.inner.get(obj)

    def transaction(self, txns: list[Transaction]) -> TransactionError | None:
        ok = [i for i, t in enumerate(txns) if t.object not in self.failing]
        self.succeeded = len(ok)
        if len(ok) == len(txns):
            return None
        return TransactionError(len(txns), ok, [errors.UsageError("test error")] * (len(txns) - len(ok)))


CM1, CM2, CM3 = (config_map(f"testname{i}", "testnamespace") for i in (1, 2, 3))


@pytest.mark.parametrize("deltas, failing, succeeded, received, error", [
    pytest.param([CM1], [], 1, [CM1], None, id="all transaction succeeding should work"),
    pytest.param([CM1], [CM1], 0, [], "failed to execute (1/1) transactions",
                 id="all transaction failing should not trigger listener"),
    pytest.param([CM1, CM2], [CM2], 1, [CM1], "failed to execute (1/2) transactions",
                 id="partial transaction failing should only trigger successful events to listener #1"),
    pytest.param([CM1, CM2, CM3], [CM2], 2, [CM1, CM3], "failed to execute (1/3) transactions",
                 id="partial transaction failing should only trigger successful events to listener #2"),
])
def test_process_deltas_in_batch(deltas, failing, succeeded, received, error):
    """TestProcessDeltasInBatch: only the writes that succeeded are told to the handler."""
    store = FailingTxnStore(failing)
    got: list[Any] = []
    handler = ResourceEventHandlerFuncs(got.append, lambda old, new: got.append(new), got.append)
    batch = [Delta(DeltaType.ADDED, obj) for obj in deltas]
    if error is None:
        process_deltas_in_batch(handler, store, batch, True)
    else:
        with pytest.raises(errors.UsageError, match=re.escape(f"not all items in the batch successfully processed: {error}")):
            process_deltas_in_batch(handler, store, batch, True)
    assert store.succeeded == succeeded
    assert got == received


def test_a_real_store_s_transaction_skips_objects_without_a_key():
    """cache.Transaction: a KeyError for one write, the others applied under one lock."""
    store = new_store()
    failed = store.transaction([Transaction("Add", config_map("a")), Transaction("Add", {"metadata": {}}),
                                Transaction("Add", config_map("b"))])
    assert failed is not None and failed.successful_indices == [0, 2] and len(failed.errors) == 1
    assert sorted(store.list_keys()) == ["default/a", "default/b"]


# -- TestReplaceEvents, TestResetWatch ---------------------------------------------------------------

REPLACE_EVENTS = [
    pytest.param([], [pod("pod-1", "1")], "1", [("add", "default/pod-1", "1", "1", False)],
                 id="Create with no initial objects"),
    pytest.param([pod("pod-1", "1"), pod("pod-3", "2")], [], "2",
                 [("delete", "default/pod-1", "1", "", False), ("delete", "default/pod-3", "2", "", False)],
                 id="Delete all objects"),
    pytest.param(
        [pod("pod-1", "1"), pod("pod-2", "2", {"ver": "1"}), pod("pod-3", "3")],
        [pod("pod-1", "4"), pod("pod-2", "5", {"ver": "2"}), pod("pod-4", "6")], "6",
        [("delete", "default/pod-3", "3", "", False), ("update", "default/pod-1", "4", "4", False),
         ("update", "default/pod-2", "5", "5", False), ("add", "default/pod-4", "6", "6", False)],
        id="Create, update, delete"),
]


@pytest.mark.parametrize("atomic", [False, True], ids=["not atomic", "atomic"])
@pytest.mark.parametrize("initial, replaced, rv, expected", REPLACE_EVENTS)
def test_replace_events(controllers, atomic, initial, replaced, rv, expected):
    """TestReplaceEvents: atomic and non-atomic replaces give the same calls and the same store.

    Deletions first, then updates and adds in list order; a delete's key is
    gone from the store, an add's or update's shows the new RV. (Go sorts the
    deletes by key: its order is a map's; k8slab's follows the store's keys.)
    """
    running, recorder = controllers(pod_source(), atomic)
    recorder.take(0)
    for obj in initial:
        running.fifo.add(obj)
    recorder.take(len(initial))
    running.fifo.replace(replaced, rv)
    history = recorder.take(len(expected))
    deletes = sorted(h for h in history if h[0] == "delete")
    assert deletes + [h for h in history if h[0] != "delete"] == expected
    assert history[:len(deletes)] == sorted(history[:len(deletes)])  # the deletions came first
    assert sorted(running.store.list(), key=lambda o: o["metadata"]["name"]) == replaced


@pytest.mark.parametrize("atomic", [False, True], ids=["not atomic", "atomic"])
def test_reset_watch(controllers, atomic):
    """TestResetWatch: changes the watch missed come with the relist, none of them as initial-list adds."""
    source = pod_source(pod("pod-1"))
    running, recorder = controllers(source, atomic)
    assert recorder.take(1) == [("add", "default/pod-1", "1", "1", True)]
    eventually(lambda: source.open_watches == 1)  # faults reach open watches only
    source.drop_next_event(2)
    source.modify(pod("pod-1", labels={"changed": "yes"}))
    source.add(pod("pod-2"))
    source.compact()  # the missed changes cannot be replayed: the watch must relist
    source.reset_watches()
    history = recorder.take(2, running.clock)
    assert sorted((h[0], h[1], h[4]) for h in history) == [
        ("add", "default/pod-2", False), ("update", "default/pod-1", False)]


def test_store_resource_version(controllers):
    """TestStoreResourceVersion: with atomic events, the store's RV follows each event applied."""
    source = pod_source(pod("pod-1"))
    running, recorder = controllers(source, atomic=True)
    assert recorder.take(1)[0][:2] == ("add", "default/pod-1")
    source.modify(pod("pod-1", labels={"foo": "bar"}))
    (update,) = recorder.take(1)
    assert update[2] == running.store.last_store_sync_resource_version() == "2"
    source.delete("default/pod-1")
    (delete,) = recorder.take(1)
    assert delete[2] == running.store.last_store_sync_resource_version() == "3"


def test_store_resource_version_with_non_meta_transform(controllers):
    """TestStoreResourceVersionWithNonMetaTransform: objects without metadata leave the store's RV alone."""
    source = pod_source(pod("pod-1"))
    running, recorder = controllers(source, atomic=True, key_func=lambda obj: "pod-1",
                                    transformer=lambda obj: obj["metadata"]["name"])
    assert recorder.take(1)[0][:2] == ("add", "pod-1")
    replace_rv = running.store.last_store_sync_resource_version()
    assert replace_rv == "1"
    source.modify(pod("pod-1", labels={"foo": "bar"}))
    recorder.take(1)
    assert running.store.last_store_sync_resource_version() == replace_rv  # a str has no resourceVersion
    eventually(lambda: source.open_watches == 1)  # faults reach open watches only
    source.drop_next_event()
    source.modify(pod("pod-1", labels={"foo": "bar2"}))
    source.compact()
    source.reset_watches()  # a relist, whose RV the store takes
    recorder.take(1, running.clock)
    eventually(lambda: running.store.last_store_sync_resource_version() == "3")


def test_bookmarks_reach_the_store_through_an_atomic_queue(controllers):
    """v0.37.2: a Bookmark delta, processed in order with the events, moves the store's RV."""
    source = pod_source(pod("pod-1"))
    running, recorder = controllers(source, atomic=True, bookmarks=True)
    recorder.take(1)
    source.advance_resource_version(9)
    source.send_bookmark()
    eventually(lambda: running.store.last_store_sync_resource_version() == "10")
    assert recorder.history == []  # no handler call for a bookmark


# -- today's pipeline and the classic one, side by side ---------------------------------------------


class Calls:
    """A handler writing down each call: ("add", name, is_in_initial_list), ("update", name, old v, new v), ("delete", name)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self._lock = threading.Lock()

    def on_add(self, obj, is_in_initial_list):
        with self._lock:
            self.calls.append(("add", obj["metadata"]["name"], is_in_initial_list))

    def on_update(self, old, new):
        with self._lock:
            self.calls.append(("update", new["metadata"]["name"], old["data"]["v"], new["data"]["v"]))

    def on_delete(self, obj):
        with self._lock:
            tombstone = isinstance(obj, DeletedFinalStateUnknown)
            name = obj.key.split("/")[1] if tombstone else obj["metadata"]["name"]
            self.calls.append(("delete", name, "tombstone" if tombstone else ""))

    def taken(self, count: int, clock: FakeClock | None = None) -> list[tuple]:
        if clock is None:
            eventually(lambda: len(self.calls) >= count)
        else:
            step_until(clock, lambda: len(self.calls) >= count)
        with self._lock:
            taken, self.calls = self.calls, []
        return taken


def cm(name: str, v: str = "1") -> dict[str, Any]:
    return config_map(name, data={"v": v})


@pytest.fixture
def informers():
    made: list[tuple[SharedIndexInformer, threading.Event, threading.Thread]] = []

    def make(source: FakeSource, pipeline: str) -> tuple[SharedIndexInformer, Calls]:
        informer = SharedIndexInformer(source, "configmaps", pipeline=pipeline, clock=FakeClock())
        informer.clock = informer._clock  # for the tests to step
        calls = Calls()
        informer.add_event_handler(calls)
        stop = threading.Event()
        thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
        thread.start()
        made.append((informer, stop, thread))
        assert wait_for_cache_sync(stop, informer.has_synced, timeout=WAIT)
        return informer, calls

    yield make
    for _, stop, thread in made:
        stop.set()
        thread.join(WAIT)


RELIST_SEEN = {
    # A relist after lost events (b deleted, a changed, d created): the same four calls, in another order.
    "classic": [("update", "a", "1", "2"), ("update", "c", "1", "1"), ("add", "d", False),
                ("delete", "b", "tombstone")],
    "today": [("delete", "b", "tombstone"), ("update", "a", "1", "2"), ("update", "c", "1", "1"),
              ("add", "d", False)],
}


@pytest.mark.parametrize("pipeline", ["today", "classic"])
def test_a_relist_as_a_handler_sees_it(informers, pipeline):
    """Classic: the DeltaFIFO queues Replaced for each listed object, then tombstones for vanished keys.
    Today: one ReplacedAll; the store is replaced at once, then deletions, then updates and adds in list order.
    """
    source = FakeSource()
    for name in "abc":
        source.add(cm(name))
    informer, calls = informers(source, pipeline)
    assert calls.taken(3) == [("add", n, True) for n in "abc"]
    eventually(lambda: source.open_watches == 1)  # faults reach open watches only
    source.drop_next_event(3)  # the watch misses all three changes
    source.delete("default/b")
    source.modify(cm("a", "2"))
    source.add(cm("d"))
    source.compact()
    source.expire_watches()  # 410: the reflector relists
    assert calls.taken(4, informer.clock) == RELIST_SEEN[pipeline]
    assert sorted(informer.get_store().list_keys()) == ["default/a", "default/c", "default/d"]


def initial_list_then_recreated(gates: Any) -> list[tuple]:
    """The first list queued, then (before it is popped) x deleted and re-created: what the handler is told."""
    store, calls = new_indexer(deletion_handling_meta_namespace_key_func), Calls()
    fifo = new_queue_fifo(gates, store)
    fifo.replace([cm("x")], "1")
    fifo.delete(cm("x"))
    fifo.add(cm("x", "2"))
    while len(fifo):
        fifo.pop(lambda deltas, initial: process_deltas(calls, store, deltas, initial))
    return calls.calls


def test_is_in_initial_list_for_an_object_recreated_before_the_first_list_was_processed():
    """Classic: x's deltas are popped together, all flagged initial, so the new x is an initial-list add.
    Today: the re-creation is its own delta, after the initial list: is_in_initial_list is False."""
    assert initial_list_then_recreated(CLASSIC) == [("add", "x", True), ("delete", "x", ""), ("add", "x", True)]
    assert initial_list_then_recreated(TODAY) == [("add", "x", True), ("delete", "x", ""), ("add", "x", False)]


def resync_with_a_pending_update(gates: Any) -> list[tuple]:
    store, calls = new_indexer(deletion_handling_meta_namespace_key_func), Calls()
    fifo = new_queue_fifo(gates, store)
    fifo.replace([cm("a"), cm("b")], "1")
    while len(fifo):
        fifo.pop(lambda deltas, initial: process_deltas(calls, store, deltas, initial))
    calls.calls.clear()
    fifo.update(cm("a", "2"))  # not processed yet when the resync comes
    fifo.resync()
    while len(fifo):
        fifo.pop(lambda deltas, initial: process_deltas(calls, store, deltas, initial))
    return calls.calls


def test_a_resync_with_an_update_pending():
    """Classic: Sync only for keys with nothing queued (b); today: one SyncAll, replayed once a's update is in."""
    assert resync_with_a_pending_update(CLASSIC) == [("update", "a", "1", "2"), ("update", "b", "1", "1")]
    assert resync_with_a_pending_update(TODAY) == [("update", "a", "1", "2"), ("update", "a", "2", "2"),
                                                    ("update", "b", "1", "1")]
