"""client-go v0.37.2's shared_informer_test.go scenarios, ported, on both pipelines.

Each test names the Go test it ports. client-go's `testListener` records the
names it is handed (adds and updates); `ok()` waits for the expected set. Where
the Go test then sleeps a second "to allow stragglers", the port asserts on
the informer's state instead (nothing queued, every listener idle), and time
that matters (resyncs, backoffs) runs on a FakeClock.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from k8slab._clock import FakeClock
from k8slab.cache.controller import ResourceEventHandlerFuncs
from k8slab.cache.shared_informer import SharedIndexInformer, wait_for_cache_sync
from k8slab.cache.testing import FakeSource, config_map
from tests.unit._polling import WAIT, eventually, step_until


class TestListener:
    """client-go's testListener: the names of the objects it was given, adds and updates."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str, resync_period: float, *expected: str) -> None:
        self.name, self.resync_period = name, resync_period
        self.expected = set(expected)
        self.received: list[str] = []
        self.lock = threading.Lock()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self._handle(obj)

    def on_update(self, old: Any, new: Any) -> None:
        self._handle(new)

    def on_delete(self, obj: Any) -> None:
        pass

    def _handle(self, obj: Any) -> None:
        with self.lock:
            self.received.append(obj["metadata"]["name"])

    def ok(self, clock: FakeClock | None = None) -> bool:
        def satisfied() -> bool:
            with self.lock:
                return set(self.received) == self.expected

        if clock is None:
            eventually(satisfied)
        else:
            step_until(clock, satisfied, step=0.2)
        return satisfied()

    def reset(self) -> None:
        with self.lock:
            self.received = []

    def __repr__(self) -> str:
        return f"TestListener({self.name})"


def pod(name: str) -> dict[str, Any]:
    return config_map(name)


@pytest.fixture(params=["today", "classic"])
def pipeline(request):
    return request.param


@pytest.fixture
def runs():
    started: list[tuple[threading.Event, threading.Thread]] = []

    def run(informer: SharedIndexInformer) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
        thread.start()
        started.append((stop, thread))
        return stop

    yield run
    for stop, thread in started:
        stop.set()
        thread.join(WAIT)
        assert not thread.is_alive()


def test_resync_check_period(pipeline):
    """TestResyncCheckPeriod: the informer checks at the smallest period asked for before start."""
    informer = SharedIndexInformer(FakeSource(), "pods", 12 * 3600.0, clock=FakeClock(), pipeline=pipeline)
    listener = informer._processor.get_listener
    h1 = informer.add_event_handler(TestListener("listener1", 0), 0)
    assert informer._resync_check_period == 12 * 3600 and listener(h1).resync_period == 0
    h2 = informer.add_event_handler(TestListener("listener2", 60), 60)
    assert informer._resync_check_period == 60
    assert (listener(h1).resync_period, listener(h2).resync_period) == (0, 60)
    h3 = informer.add_event_handler(TestListener("listener3", 55), 55)
    assert informer._resync_check_period == 55
    assert (listener(h1).resync_period, listener(h2).resync_period, listener(h3).resync_period) == (0, 60, 55)
    h4 = informer.add_event_handler(TestListener("listener4", 5), 5)
    assert informer._resync_check_period == 5
    assert [listener(h).resync_period for h in (h1, h2, h3, h4)] == [0, 60, 55, 5]


def test_shared_informer_watch_disruption(pipeline, runs):
    """TestSharedInformerWatchDisruption: after a lost connection and a relist, a non-resyncing
    handler sees only what changed; a resyncing one also sees what did not."""
    source = FakeSource()
    source.add(pod("pod1"))
    source.add(pod("pod2"))
    clock = FakeClock()
    informer = SharedIndexInformer(source, "pods", 1.0, clock=clock, pipeline=pipeline)
    no_resync = TestListener("listenerNoResync", 0, "pod1", "pod2")
    resync = TestListener("listenerResync", 1.0, "pod1", "pod2")
    for listener in (no_resync, resync):
        informer.add_event_handler(listener, listener.resync_period)
    runs(informer)
    assert no_resync.ok() and resync.ok()
    eventually(lambda: source.open_watches == 1)  # a watch opened after the drop would replay the changes
    # pod3 added, pod2 bumped, neither sent to the watch: only a relist will show them
    source.drop_next_event(2)
    source.add(pod("pod3"))
    source.modify(config_map("pod2", data={"bumped": "yes"}))
    assert no_resync.ok() and resync.ok()  # nobody saw a change
    no_resync.reset(), resync.reset()
    no_resync.expected = {"pod2", "pod3"}
    resync.expected = {"pod1", "pod2", "pod3"}
    # the resync check (due after 1 s) marks the no-resync listener as not syncing
    assert clock.block_until(1)
    clock.step(1.0)
    eventually(lambda: {"pod1", "pod2"} <= set(resync.received))  # that check has run (Go sleeps 10 ms)
    source.compact()
    source.reset_watches()  # a connection loss; the old RV is gone: the reflector must relist
    assert no_resync.ok(clock) and resync.ok(clock)


def test_shared_informer_multiple_registration(pipeline):
    """TestSharedInformerMultipleRegistration: one handler registered twice is two registrations."""
    source = FakeSource()
    source.add(pod("pod1"))
    informer = SharedIndexInformer(source, "pods", 1.0, pipeline=pipeline)
    handler = ResourceEventHandlerFuncs()
    reg1 = informer.add_event_handler(handler)
    assert informer._processor.get_listener(reg1) is not None
    reg2 = informer.add_event_handler(handler)
    assert informer._processor.get_listener(reg2) is not None and len(informer._processor) == 2
    informer.remove_event_handler(reg1)
    assert informer._processor.get_listener(reg1) is None
    assert informer._processor.get_listener(reg2) is not None and len(informer._processor) == 1
    informer.remove_event_handler(reg2)
    assert informer._processor.get_listener(reg2) is None and len(informer._processor) == 0


def test_removing_removed_shared_informer(pipeline):
    """TestRemovingRemovedSharedInformer: removing a removed registration is harmless."""
    informer = SharedIndexInformer(FakeSource(), "pods", 1.0, pipeline=pipeline)
    reg = informer.add_event_handler(ResourceEventHandlerFuncs())
    informer.remove_event_handler(reg)
    assert informer._processor.get_listener(reg) is None
    informer.remove_event_handler(reg)
    assert informer._processor.get_listener(reg) is None


def test_add_while_active(pipeline, runs):
    """TestAddWhileActive: a handler added to a running informer syncs only after its replayed adds."""
    source = FakeSource()
    informer = SharedIndexInformer(source, "pods", 0, pipeline=pipeline)
    listener1 = TestListener("originalListener", 0, "pod1")
    listener2 = TestListener("listener2", 0, "pod1", "pod2")
    handle1 = informer.add_event_handler(listener1)
    assert not handle1.has_synced()  # synced before run??
    stop = runs(informer)
    source.add(pod("pod1"))
    assert listener1.ok()
    assert wait_for_cache_sync(stop, handle1.has_synced, timeout=WAIT)
    with listener2.lock:  # keep listener2 from handling anything before we look
        handle2 = informer.add_event_handler(listener2)
        assert not handle2.has_synced()  # its replayed add of pod1 is not handled yet
    source.add(pod("pod2"))
    assert listener2.ok()
    assert handle2.has_synced()
    assert informer._processor.get_listener(handle1) is not None
    assert informer._processor.get_listener(handle2) is not None
    listener1.expected = listener2.expected
    assert listener1.ok()


@pytest.mark.parametrize("when", ["before start", "after start"])
def test_a_registration_whose_handler_raised_on_an_initial_add_still_syncs(pipeline, runs, caplog, when):
    """k8slab, deliberately not client-go: the failed add is logged, skipped, and counted as handled.

    client-go re-panics (the process dies); with utilruntime.ReallyCrash off it
    would skip the add without syncTracker.Finished(), and this registration's
    HasSynced would stay false forever (processor.py's docstring).
    """
    source = FakeSource()
    for name in ("a", "b"):
        source.add(pod(name))
    informer = SharedIndexInformer(source, "pods", pipeline=pipeline)
    handled: list[str] = []

    def add(obj: Any) -> None:
        if obj["metadata"]["name"] == "a":
            raise RuntimeError("cannot handle a")
        handled.append(obj["metadata"]["name"])

    with caplog.at_level(logging.ERROR, logger="k8slab.cache.processor"):
        if when == "before start":
            registration = informer.add_event_handler(ResourceEventHandlerFuncs(add_func=add))
            stop = runs(informer)
        else:
            stop = runs(informer)
            assert wait_for_cache_sync(stop, informer.has_synced, timeout=WAIT)
            registration = informer.add_event_handler(ResourceEventHandlerFuncs(add_func=add))
        assert wait_for_cache_sync(stop, registration.has_synced, timeout=WAIT)
    assert handled == ["b"]
    assert [r.getMessage() for r in caplog.records] == [
        f"handler {ResourceEventHandlerFuncs(add_func=add)!r} failed on add; skipping this notification"]
