"""client-go v0.37.2's util/workqueue/queue_test.go scenarios that had no counterpart yet, ported."""

from __future__ import annotations

import threading

from k8slab.workqueue import new_queue
from tests.unit._polling import WAIT, stack_of, wait_until


def test_collapse_while_processing():
    """TestCollapseWhileProcessing: two adds of a held item collapse into one, handed out only after done."""
    q = new_queue()
    q.add("foo")
    item, _ = q.get()
    assert item == "foo"
    q.add("foo")  # added twice while a worker holds it
    q.add("foo")
    got: list[str] = []

    def other_worker() -> None:
        item, _ = q.get()
        got.append(item)
        q.done(item)

    worker = threading.Thread(target=other_worker)
    worker.start()
    # The other worker must block until we are done: it waits in get, holding nothing.
    assert wait_until(lambda: "get" in stack_of(worker) and "wait" in stack_of(worker))
    assert got == [] and q.len() == 0
    q.done("foo")
    worker.join(WAIT)
    assert not worker.is_alive()
    assert got == ["foo"]  # once, not twice
    assert q.len() == 0  # nothing more queued
    assert q.snapshot()["dirty"] == [] or not q.snapshot()["dirty"]
