"""The delaying and rate-limiting layers, driven by a FakeClock.

Ports client-go's delaying_queue_test.go and rate_limiting_queue_test.go.
To prove that something did NOT fire, a sentinel item is scheduled at or after
its time: the waiting loop fires entries in ready order, so once the sentinel
is on the queue, every earlier entry has been dealt with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from k8slab._clock import REAL_CLOCK, FakeClock
from k8slab.workqueue import (
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    new_delaying_queue,
    new_rate_limiting_queue,
)
from tests.unit._polling import wait_until

BOUND = 10.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def queues() -> Iterator[list[DelayingQueue[Any]]]:
    made: list[DelayingQueue[Any]] = []
    yield made
    for queue in made:
        queue.shut_down()


@pytest.fixture
def q(clock: FakeClock, queues: list[DelayingQueue[Any]]) -> DelayingQueue[Any]:
    queue = new_delaying_queue("delaying", clock=clock)
    queues.append(queue)
    return queue


def drain(q: DelayingQueue[Any], n: int) -> list[Any]:
    """Wait for n items on the queue, then get and done them, in order."""
    assert wait_until(lambda: q.len() >= n), f"expected {n} items, have {q.snapshot()}"
    items = []
    for _ in range(n):
        item, shutdown = q.get()
        assert not shutdown
        q.done(item)
        items.append(item)
    return items


def test_an_item_is_added_only_once_its_delay_has_passed(q: DelayingQueue[Any], clock: FakeClock) -> None:
    q.add_after("foo", 0.05)
    q.add_after("sentinel", 0.04)
    assert q.len() == 0
    clock.step(0.045)
    assert drain(q, 1) == ["sentinel"]
    # The loop fires everything due in one pass, under the lock snapshot takes.
    assert q.snapshot()["waiting"] == [("foo", pytest.approx(1000.05))]
    assert q.len() == 0
    clock.step(0.015)
    assert drain(q, 1) == ["foo"]
    assert q.snapshot()["waiting"] == []


@pytest.mark.parametrize(
    "first, second, fires_at",
    [
        pytest.param(0.05, 0.07, 0.05, id="a later add_after does not postpone a waiting item"),
        pytest.param(0.05, 0.03, 0.03, id="an earlier add_after brings a waiting item forward"),
    ],
)
def test_a_waiting_item_keeps_its_earliest_ready_time(
    q: DelayingQueue[Any], clock: FakeClock, first: float, second: float, fires_at: float
) -> None:
    q.add_after("foo", first)
    q.add_after("foo", second)
    assert q.snapshot()["waiting"] == [("foo", pytest.approx(1000 + fires_at))]
    clock.step(fires_at)
    assert drain(q, 1) == ["foo"]
    # The other, later time must not add it a second time.
    q.add_after("sentinel", 0.08)
    clock.step(0.1)
    assert drain(q, 1) == ["sentinel"]
    assert q.len() == 0


def test_items_fire_in_ready_order_not_arrival_order(q: DelayingQueue[Any], clock: FakeClock) -> None:
    q.add_after("foo", 1.0)
    q.add_after("bar", 0.5)
    q.add_after("baz", 0.25)
    clock.step(2.0)
    assert drain(q, 3) == ["baz", "bar", "foo"]


def test_two_items_fire_early_and_late_as_the_clock_steps(q: DelayingQueue[Any], clock: FakeClock) -> None:
    q.add_after("foo", 1.0)
    q.add_after("bar", 0.05)
    clock.step(0.06)
    assert drain(q, 1) == ["bar"]
    q.add_after("baz", 2.0)
    clock.step(1.0)
    assert drain(q, 1) == ["foo"]
    clock.step(2.0)
    assert drain(q, 1) == ["baz"]


@pytest.mark.parametrize("delay", [0, -1.5], ids=["zero delay", "negative delay"])
def test_a_non_positive_delay_adds_at_once(q: DelayingQueue[Any], delay: float) -> None:
    q.add_after("foo", delay)
    assert q.len() == 1  # synchronously, without the waiting loop or a clock step
    assert q.snapshot()["waiting"] == []
    assert q.snapshot()["retries"] == 1


def test_stepping_past_the_heartbeat_adds_nothing_new(q: DelayingQueue[Any], clock: FakeClock) -> None:
    q.add_after("foo", 0.05)
    clock.step(0.06)
    assert drain(q, 1) == ["foo"]
    q.add_after("sentinel", 11.0)
    clock.step(11.0)
    assert drain(q, 1) == ["sentinel"]
    assert q.len() == 0


def test_shut_down_stops_the_waiting_loop_and_drops_waiting_items(
    clock: FakeClock,
) -> None:
    q = new_delaying_queue("stopping", clock=clock)
    q.add_after("foo", 1.0)
    q.shut_down()
    assert not any(t.name == "k8slab-workqueue-waiting-loop[stopping]" for t in threading.enumerate())
    q.add_after("bar", 0)  # ignored
    clock.step(5.0)
    assert q.get() == (None, True)
    assert q.snapshot()["retries"] == 1


def test_shut_down_with_drain_stops_the_waiting_loop_too(clock: FakeClock) -> None:
    q = new_delaying_queue("draining", clock=clock)
    q.add("foo")
    held, _ = q.get()
    drainer = threading.Thread(target=q.shut_down_with_drain, daemon=True)
    drainer.start()
    assert wait_until(q.shutting_down)
    q.done(held)
    drainer.join(BOUND)
    assert not drainer.is_alive()
    assert not any(t.name == "k8slab-workqueue-waiting-loop[draining]" for t in threading.enumerate())


def test_the_real_clock_fires_short_delays(queues: list[DelayingQueue[Any]]) -> None:
    q = new_delaying_queue("real", clock=REAL_CLOCK)
    queues.append(q)
    started = time.monotonic()
    q.add_after("foo", 0.02)
    assert drain(q, 1) == ["foo"]
    assert time.monotonic() - started >= 0.02


def test_rate_limited_adds_wait_as_the_limiter_says(
    clock: FakeClock, queues: list[DelayingQueue[Any]]
) -> None:
    q = new_rate_limiting_queue(ItemExponentialFailureRateLimiter(0.001, 1.0), "rl", clock=clock)
    queues.append(q)

    def waiting_for(item: str) -> float:
        return dict(q.snapshot()["waiting"])[item] - clock.now()

    q.add_rate_limited("one")
    assert waiting_for("one") == pytest.approx(0.001)
    q.add_rate_limited("one")  # already waiting: keeps 1 ms, but the failure counts
    assert q.num_requeues("one") == 2
    q.add_rate_limited("two")
    q.add_rate_limited("two")
    assert waiting_for("two") == pytest.approx(0.001)
    clock.step(0.001)
    assert sorted(drain(q, 2)) == ["one", "two"]
    q.add_rate_limited("one")
    assert waiting_for("one") == pytest.approx(0.004)  # third failure
    q.forget("one")
    assert q.num_requeues("one") == 0
    assert q.num_requeues("two") == 2
    clock.step(0.004)
    assert drain(q, 1) == ["one"]
    q.add_rate_limited("one")
    assert waiting_for("one") == pytest.approx(0.001)  # forgotten: starts again


def test_the_waiting_loop_starts_with_the_first_delayed_add(clock: FakeClock) -> None:
    def loops() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "k8slab-workqueue-waiting-loop[lazy]"]

    q = new_delaying_queue("lazy", clock=clock)
    q.add("now")
    q.add_after("also now", 0)
    assert loops() == []  # a queue that never delays needs no thread
    q.add_after("later", 1.0)
    assert loops() == ["k8slab-workqueue-waiting-loop[lazy]"]
    q.shut_down()
    assert loops() == []
