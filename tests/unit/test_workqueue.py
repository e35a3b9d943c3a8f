"""The plain work queue: client-go's queue_test.go scenarios, as behaviour.

Threads are real; every wait on them is bounded, so a bug fails the test
instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import k8slab.workqueue as workqueue
from k8slab.workqueue import Queue, new_queue
from tests.unit._polling import eventually, stack_of, wait_until

BOUND = 10.0  # seconds: generous, the machine is shared; only a bug waits this long


def start(target: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def q() -> Iterator[Queue[Any]]:
    queue = new_queue("test")
    yield queue
    queue.shut_down()  # releases any worker a failed test left blocked in get()


def test_public_names_are_sorted_and_importable() -> None:
    assert workqueue.__all__ == sorted(workqueue.__all__)
    for name in workqueue.__all__:
        assert getattr(workqueue, name) is not None


def test_items_come_out_in_the_order_they_were_added(q: Queue[Any]) -> None:
    for item in ["a", "b", "c"]:
        q.add(item)
    got = [q.get() for _ in range(3)]
    assert got == [("a", False), ("b", False), ("c", False)]


def test_adding_a_queued_item_again_collapses_it(q: Queue[Any]) -> None:
    q.add("foo")
    q.add("bar")
    q.add("foo")
    assert q.len() == 2 and len(q) == 2
    assert q.adds == 2
    item, _ = q.get()
    q.done(item)
    item, _ = q.get()
    q.done(item)
    assert q.len() == 0
    assert q.snapshot()["dirty"] == set() and q.snapshot()["processing"] == set()


def test_an_item_added_while_processing_is_requeued_on_done(q: Queue[Any]) -> None:
    q.add("foo")
    item, _ = q.get()
    q.add("foo")
    # Held by a worker: it is dirty but must not be handed out again yet.
    snap = q.snapshot()
    assert snap["queue"] == [] and snap["dirty"] == {"foo"} and snap["processing"] == {"foo"}
    q.done(item)
    assert q.snapshot()["queue"] == ["foo"]
    assert q.get() == ("foo", False)
    q.done("foo")
    assert q.len() == 0


def test_a_second_worker_waits_until_the_first_is_done_with_the_item(q: Queue[Any]) -> None:
    q.add("foo")
    first, _ = q.get()
    q.add("foo")
    q.add("foo")
    got: list[Any] = []

    def second_worker() -> None:
        item, _ = q.get()
        got.append(item)
        q.done(item)

    worker = start(second_worker)
    eventually(lambda: stack_of(worker)[:2] == ["wait", "get"])  # blocked: the held item is not queued
    assert got == [] and q.snapshot()["queue"] == []
    q.done(first)
    worker.join(BOUND)
    assert not worker.is_alive()
    assert got == ["foo"]
    assert q.len() == 0


def test_many_workers_never_hold_the_same_item_at_once(q: Queue[Any]) -> None:
    holding: set[Any] = set()
    lock = threading.Lock()
    overlaps: list[Any] = []
    processed: dict[Any, int] = {}

    def worker() -> None:
        while True:
            item, shutdown = q.get()
            if shutdown:
                return
            with lock:
                if item in holding:
                    overlaps.append(item)
                holding.add(item)
                processed[item] = processed.get(item, 0) + 1
                again = processed[item] < 3
            if again:
                q.add(item)  # re-added while held: must wait for done
            time.sleep(0.0005)
            with lock:
                holding.discard(item)
            q.done(item)

    def producer(i: int) -> None:
        for _ in range(5):
            q.add(i)
            time.sleep(0.0005)

    workers = [start(worker) for _ in range(6)]
    producers = [start(lambda i=i: producer(i)) for i in range(20)]
    for thread in producers:
        thread.join(BOUND)
    assert wait_until(lambda: q.len() == 0 and not q.snapshot()["processing"])
    q.shut_down()
    q.add("added after shutdown")
    for thread in workers:
        thread.join(BOUND)
    assert not any(t.is_alive() for t in workers + producers)
    assert overlaps == []
    assert set(processed) == set(range(20))  # every item was processed, none invented
    assert all(n >= 3 for n in processed.values())
    assert q.len() == 0


def test_shut_down_lets_workers_drain_before_get_reports_shutdown(q: Queue[Any]) -> None:
    for item in ["a", "b"]:
        q.add(item)
    q.shut_down()
    q.add("c")  # ignored once shutting down
    assert q.shutting_down()
    assert q.get() == ("a", False)
    assert q.get() == ("b", False)
    assert q.get() == (None, True)
    assert q.get() == (None, True)  # and keeps saying so


def test_shut_down_wakes_workers_blocked_in_get(q: Queue[Any]) -> None:
    results: list[tuple[Any, bool]] = []
    workers = [start(lambda: results.append(q.get())) for _ in range(3)]
    eventually(lambda: all(stack_of(w)[:2] == ["wait", "get"] for w in workers))
    assert results == []
    q.shut_down()
    for thread in workers:
        thread.join(BOUND)
    assert results == [(None, True)] * 3


def test_shut_down_does_not_wait_for_held_items(q: Queue[Any]) -> None:
    q.add("foo")
    q.get()
    stopper = start(q.shut_down)
    stopper.join(BOUND)
    assert not stopper.is_alive()


def test_shut_down_with_drain_waits_until_held_items_are_done(q: Queue[Any]) -> None:
    q.add("foo")
    q.add("bar")
    first, _ = q.get()
    second, _ = q.get()
    drainer = start(q.shut_down_with_drain)
    assert wait_until(q.shutting_down)
    assert q.get() == (None, True)
    eventually(lambda: stack_of(drainer)[:2] == ["wait", "shut_down_with_drain"])
    q.done(first)
    assert q.snapshot()["processing"] == {"bar"}
    assert stack_of(drainer)[:2] == ["wait", "shut_down_with_drain"], "returned while 'bar' was still held"
    q.done(second)
    drainer.join(BOUND)
    assert not drainer.is_alive()


def test_shut_down_cuts_a_draining_shutdown_short(q: Queue[Any]) -> None:
    q.add("foo")
    q.get()
    drainer = start(q.shut_down_with_drain)
    eventually(lambda: stack_of(drainer)[:2] == ["wait", "shut_down_with_drain"])
    q.shut_down()
    drainer.join(BOUND)
    assert not drainer.is_alive()


def test_draining_hands_out_an_item_that_became_dirty_while_held(q: Queue[Any]) -> None:
    q.add("foo")
    held, _ = q.get()
    q.add("foo")
    drainer = start(q.shut_down_with_drain)
    assert wait_until(q.shutting_down)
    assert q.get() == (None, True)  # nothing queued: it is still held
    q.done(held)  # (nothing is held for a moment: the drain may end here, as client-go's may)
    assert q.get() == ("foo", False)  # done put it back, and draining hands it out
    q.done("foo")
    assert q.get() == (None, True)
    drainer.join(BOUND)
    assert not drainer.is_alive()
