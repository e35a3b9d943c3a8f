"""The injectable clock: a FakeClock's waiters wake exactly when a step reaches their deadline.

Scenarios from k8s.io/utils clock/testing/fake_clock_test.go, told as behaviour.
"""

from __future__ import annotations

import threading
from typing import Callable

from k8slab._clock import REAL_CLOCK, FakeClock, sleep_or_stop
from tests.unit._polling import WAIT, eventually


def in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    return thread, result


def test_a_step_wakes_exactly_the_waiters_it_reaches():
    clock = FakeClock(100.0)
    sleepers = [in_thread(lambda d=d: clock.sleep(d))[0] for d in (1.0, 2.0, 3.0)]
    assert clock.block_until(3)
    assert clock.deadlines() == [101.0, 102.0, 103.0]
    clock.step(1.5)
    sleepers[0].join(WAIT)
    assert not sleepers[0].is_alive()
    assert clock.deadlines() == [102.0, 103.0]  # the others were not woken
    assert sleepers[1].is_alive() and sleepers[2].is_alive()
    clock.set(103.0)
    for sleeper in sleepers:
        sleeper.join(WAIT)
    assert not clock.has_waiters() and clock.waiters() == 0 and clock.now() == 103.0


def test_wait_until_returns_false_at_the_deadline_and_true_when_an_event_is_set():
    clock, stop = FakeClock(), threading.Event()
    timed, timed_result = in_thread(lambda: clock.wait_until(5.0, stop))
    assert clock.block_until(1)
    clock.step(5.0)
    timed.join(WAIT)
    assert timed_result == [False]
    stopped, stopped_result = in_thread(lambda: clock.wait_until(60.0, stop))
    assert clock.block_until(1)
    stop.set()
    stopped.join(WAIT)
    assert stopped_result == [True] and clock.deadlines() == []  # it left no waiter behind


def test_a_deadline_already_passed_returns_at_once_without_waiting():
    clock = FakeClock(10.0)
    assert clock.wait_until(10.0, threading.Event()) is False
    clock.sleep(0)
    clock.sleep(-1)
    assert clock.deadlines() == []


def test_a_condition_wait_with_a_deadline_is_woken_by_the_step_that_reaches_it():
    clock, cond, woke = FakeClock(), threading.Condition(), threading.Event()

    def wait() -> None:
        with cond:
            clock.wait(cond, deadline=2.0)
        woke.set()

    thread, _ = in_thread(wait)
    assert clock.block_until(1)
    clock.step(1.0)
    assert clock.deadlines() == [2.0] and not woke.is_set()
    clock.step(1.0)
    thread.join(WAIT)
    assert woke.is_set()


def test_a_condition_wait_is_also_woken_by_a_notify_and_then_stops_waiting_on_the_clock():
    clock, cond = FakeClock(), threading.Condition()

    def wait() -> None:
        with cond:
            clock.wait(cond, 30.0)

    thread, _ = in_thread(wait)
    assert clock.block_until(1)
    with cond:
        cond.notify_all()
    thread.join(WAIT)
    assert not thread.is_alive() and clock.deadlines() == []


def test_block_until_gives_up_after_its_timeout():
    assert FakeClock().block_until(1, timeout=0.01) is False


def test_sleep_or_stop_ends_on_stop_on_either_clock():
    for clock in (REAL_CLOCK, FakeClock()):
        stop = threading.Event()
        thread, result = in_thread(lambda clock=clock: sleep_or_stop(clock, stop, 3600))
        stop.set()
        thread.join(WAIT)
        assert result == [True]


def test_the_real_clock_waits_real_time_for_several_events():
    first, second = threading.Event(), threading.Event()
    thread, result = in_thread(lambda: REAL_CLOCK.wait_until(None, first, second))
    second.set()
    thread.join(WAIT)
    assert result == [True]
    eventually(lambda: REAL_CLOCK.wait_until(REAL_CLOCK.now(), first) is False)
