"""The read-only accessors a view of the pipeline reads (k8slab.views.PipelineView).

Not client-go behaviour (client-go keeps these parts private): what the
reflector is doing, a listener's backlog, and an informer's parts. Every wait
is bounded; backoff runs on a FakeClock.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.cache import DeltaFIFO, RealFIFO, Reflector, ResourceEventHandlerFuncs, SharedIndexInformer
from k8slab.cache.processor import ProcessorListener
from k8slab.cache.store import new_store
from k8slab.cache.testing import FakeSource, config_map
from tests.unit._polling import WAIT, eventually


class Gated:
    """A lister-watcher whose list or watch waits at a gate, so a test can look while it waits."""

    def __init__(self, source: FakeSource, gate_list: bool = False, gate_watch: bool = False) -> None:
        self.source, self.gate_list, self.gate_watch = source, gate_list, gate_watch
        self.arrived, self.release = threading.Event(), threading.Event()

    def _wait(self) -> None:
        self.arrived.set()
        assert self.release.wait(WAIT)

    def list(self, options: dict[str, Any]) -> Any:
        if self.gate_list:
            self._wait()
        return self.source.list(options)

    def watch(self, options: dict[str, Any]) -> Any:
        if self.gate_watch and options.get("send_initial_events"):
            self._wait()
        return self.source.watch(options)


def run(reflector: Reflector, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    return thread


def test_the_reflector_phase_follows_a_list_then_a_watch_then_the_stop():
    lw = Gated(FakeSource(), gate_list=True)
    lw.source.add(config_map("a"))
    reflector = Reflector(lw, "configmaps", new_store(), use_watch_list=False)
    assert reflector.phase() == "new"
    stop = threading.Event()
    thread = run(reflector, stop)
    assert lw.arrived.wait(WAIT)
    assert reflector.phase() == "listing"
    lw.release.set()
    eventually(lambda: reflector.phase() == "watching")
    stop.set()
    thread.join(WAIT)
    assert reflector.phase() == "stopped"


def test_the_reflector_phase_is_streaming_until_the_initial_events_end():
    lw = Gated(FakeSource(), gate_watch=True)
    lw.source.add(config_map("a"))
    store = new_store()
    reflector = Reflector(lw, "configmaps", store, use_watch_list=True)
    stop = threading.Event()
    thread = run(reflector, stop)
    try:
        assert lw.arrived.wait(WAIT)
        assert reflector.phase() == "streaming" and store.list_keys() == []
        lw.release.set()
        eventually(lambda: reflector.phase() == "watching")
        assert store.list_keys() == ["default/a"]  # the same watch goes on
    finally:
        stop.set()
        thread.join(WAIT)


def test_the_reflector_phase_is_backing_off_while_it_waits_to_rewatch():
    source = FakeSource()
    source.fail_next_watch(errors.ServerUnreachable("connection refused", connection_refused=True))
    clock = FakeClock()
    reflector = Reflector(source, "configmaps", new_store(), clock=clock, use_watch_list=False, rand=lambda: 0.0)
    stop = threading.Event()
    thread = run(reflector, stop)
    try:
        assert clock.block_until(1)  # the backoff's sleep has begun
        assert reflector.phase() == "backing off"
        clock.step(0.8)
        eventually(lambda: reflector.phase() == "watching")
    finally:
        stop.set()
        thread.join(WAIT)


def test_a_listeners_backlog_counts_what_its_handler_has_not_been_handed_yet():
    entered, release = threading.Event(), threading.Event()

    def slow(obj: Any) -> None:
        entered.set()
        assert release.wait(WAIT)

    listener = ProcessorListener(ResourceEventHandlerFuncs(add_func=slow), 0, 0, 0.0, lambda: True)
    for name in ("a", "b", "c"):
        listener.add(("add", config_map(name), False))
    assert listener.backlog() == 3
    listener.start()
    try:
        assert entered.wait(WAIT)
        assert listener.backlog() == 2  # a is in the handler; b and c were taken in hand with it
        listener.add(("add", config_map("d"), False))
        assert listener.backlog() == 3
        release.set()
        eventually(lambda: listener.backlog() == 0)
    finally:
        release.set()
        listener.stop()
        listener.join(WAIT)


@pytest.mark.parametrize(("pipeline", "queue_type"), [("today", RealFIFO), ("classic", DeltaFIFO)])
def test_an_informer_shows_its_reflector_queue_and_listeners_once_it_runs(pipeline, queue_type):
    source = FakeSource()
    source.add(config_map("a"))
    informer = SharedIndexInformer(source, "configmaps", pipeline=pipeline)
    first = informer.add_event_handler(ResourceEventHandlerFuncs())
    assert informer.reflector() is None and informer.queue() is None
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        eventually(informer.has_synced)
        second = informer.add_event_handler(ResourceEventHandlerFuncs())
        assert isinstance(informer.queue(), queue_type)
        assert informer.reflector().phase() in ("watching", "streaming")
        assert informer.listeners() == [first, second]
        informer.remove_event_handler(first)
        assert informer.listeners() == [second]
    finally:
        stop.set()
        thread.join(WAIT)
