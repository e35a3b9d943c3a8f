"""Notebook 09's checked exercises: the workqueue (client-go `util/workqueue`).

    09.2  write process_next_work_item(queue, reconcile) -> bool, the worker step of
          sample-controller's `processNextWorkItem`: done always, forget on success,
          add_rate_limited on failure, False once the queue shuts down
    09.3  write a per-item exponential rate limiter (`ItemExponentialFailureRateLimiter`):
          when, forget, num_requeues
    09.4  predict: with the default controller limiter, which failure in a row of one key
          is the first to wait a minute or more

The scenarios drive k8slab's real in-memory queue on a `FakeClock`, and read
the outcome from its state (`processing`, the waiting items and their ready
times, `num_requeues`), so any correct way of writing the answer passes.
Expected numbers come from k8slab's limiters, which mirror client-go's.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from k8slab._clock import FakeClock
from k8slab.views.exercises.framework import Mismatch, Run, define, expect
from k8slab.workqueue import (
    ItemExponentialFailureRateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
    new_rate_limiting_queue,
)

__all__: list[str] = []

KEY = "default/foo"
_RECORDED = ("get", "done", "forget", "add_rate_limited", "add", "add_after")


class _Recorder:
    """The queue handed to the answer: a real queue whose calls are written down for messages."""

    def __init__(self, queue: RateLimitingQueue[Any]) -> None:
        self.queue = queue
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.queue, name)
        if name not in _RECORDED:
            return attr

        def recorded(*args: Any) -> Any:
            self.calls.append(f"{name}({', '.join(map(repr, args))})")
            return attr(*args)

        return recorded


def _queue(run: Run) -> tuple[_Recorder, FakeClock]:
    clock = FakeClock()
    queue = new_rate_limiting_queue(ItemExponentialFailureRateLimiter(0.005, 1000.0), "exercise-09.2", clock)
    run.defer(queue.shut_down)
    queue.add(KEY)
    return _Recorder(queue), clock


def _step(answer: Callable[..., Any], q: _Recorder, reconcile: Callable[[str], Any]) -> Any:
    """One call of the answer; a failure that escapes it is a mismatch, not a crash."""
    try:
        return answer(q, reconcile)
    except Exception as exc:
        if isinstance(exc, NotImplementedError):
            raise
        raise Mismatch(
            "the step to handle a failing reconcile and return True",
            f"{type(exc).__name__}({exc}) escaped from it; its calls: {', '.join(q.calls)}",
            "catch the exception (any Exception: a worker must survive every key), add_rate_limited "
            "the key, and call done in a finally clause",
        ) from None


def _released(q: _Recorder) -> None:
    expect("keys still held by a worker (processing)", sorted(q.queue.snapshot()["processing"]), [],
           hint=f"every key got must be handed back with done, whatever happened; the calls were: {', '.join(q.calls)}")


def _backoff(q: _Recorder, clock: FakeClock, delay: float, requeues: int, hint: str) -> None:
    snap = q.queue.snapshot()
    expect("keys back on the queue at once", snap["queue"], [],
           hint="add_rate_limited, not add: a key that fails at once again would spin in a hot loop")
    waiting = [(item, round(ready_at - clock.now(), 6)) for item, ready_at in snap["waiting"]]
    expect("keys waiting, with their delay in seconds", waiting, [(KEY, delay)],
           hint="add_rate_limited(key) asks the limiter how long the key must wait")
    expect(f"num_requeues({KEY!r})", q.queue.num_requeues(KEY), requeues, hint=hint)


def _fail(key: str) -> None:
    raise RuntimeError("the Deployment is not ready yet")


worker = define("09.2", "a worker step that calls done always, forget on success, add_rate_limited on failure",
                answer="a function process_next_work_item(queue, reconcile) -> bool")


@worker.scenario("a key that reconciles is done, forgotten, not requeued, and the step returns True")
def _reconciles(answer: Any, run: Run) -> None:
    q, _ = _queue(run)
    seen: list[str] = []
    result = _step(answer, q, seen.append)
    expect("the keys reconcile was called with", seen, [KEY], hint="get a key, then reconcile(key)")
    expect("the step's return value", result, True, hint="True: the worker goes on to the next key")
    _released(q)
    snap = q.queue.snapshot()
    expect("keys queued or waiting after a success", (snap["queue"], snap["waiting"]), ([], []),
           hint="a key that succeeded needs nothing more until it changes again")


@worker.scenario("a key whose reconcile fails waits 5 ms (add_rate_limited, not add), is not forgotten, and is done")
def _fails(answer: Any, run: Run) -> None:
    q, clock = _queue(run)
    expect("the step's return value", _step(answer, q, _fail), True,
           hint="a failure is handled: the worker goes on (sample-controller returns true here too)")
    _released(q)
    _backoff(q, clock, 0.005, 1, hint="forget after a failure erases its count: the backoff would never grow")


@worker.scenario("a key that fails twice then succeeds waits 5 ms, then 10 ms, then is forgotten")
def _recovers(answer: Any, run: Run) -> None:
    q, clock = _queue(run)
    attempts: list[str] = []

    def reconcile(key: str) -> None:
        attempts.append(key)
        if len(attempts) <= 2:
            _fail(key)

    for n, delay in ((1, 0.005), (2, 0.01)):
        _step(answer, q, reconcile)
        _released(q)
        _backoff(q, clock, delay, n, hint="forget only after a success")
        clock.step(delay)
        _wait_for_key(q, delay)
    _step(answer, q, reconcile)
    _released(q)
    expect(f"num_requeues({KEY!r}) after the success", q.queue.num_requeues(KEY), 0,
           hint="forget(key) on success, or its next failure waits 20 ms instead of 5 ms")


@worker.scenario("an unexpected error (a KeyError) is a failure too: the key is requeued and done")
def _unexpected(answer: Any, run: Run) -> None:
    q, clock = _queue(run)

    def reconcile(key: str) -> None:
        raise KeyError("spec")

    expect("the step's return value", _step(answer, q, reconcile), True)
    _released(q)
    _backoff(q, clock, 0.005, 1, hint="any exception from reconcile is a failure")


@worker.scenario("a queue that shuts down makes the step return False without reconciling")
def _shutdown(answer: Any, run: Run) -> None:
    clock = FakeClock()
    queue = new_rate_limiting_queue(ItemExponentialFailureRateLimiter(0.005, 1000.0), "exercise-09.2", clock)
    run.defer(queue.shut_down)
    queue.shut_down()
    q = _Recorder(queue)
    seen: list[str] = []
    expect("the step's return value", answer(q, seen.append), False,
           hint="get() returns (None, True) once the queue shuts down: return False so the worker exits")
    expect("the keys reconcile was called with", seen, [])


def _wait_for_key(q: _Recorder, delay: float) -> None:
    """The waiting loop runs in the queue's own thread: wait (generously) for it to move the key."""
    deadline = time.monotonic() + 10.0
    while q.queue.len() == 0:
        if time.monotonic() > deadline:
            raise Mismatch(f"the key back on the queue once its {delay:g} s passed", "it never came back")
        time.sleep(0.002)


limiter = define("09.3", "a per-item exponential rate limiter: base_delay × 2^failures, at most max_delay",
                 answer="a class ExponentialLimiter(base_delay, max_delay) with when, forget and num_requeues")


def _whens(lim: Any, key: str, n: int) -> list[float]:
    return [round(float(lim.when(key)), 9) for _ in range(n)]


def _expect_delays(what: str, got: list[float], base: float, cap: float) -> None:
    reference = ItemExponentialFailureRateLimiter(base, cap)
    want = _whens(reference, "k", len(got))
    if len(got) != len(want) or not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, want)):
        hint = "the first failure waits base_delay (2^0), each next one twice as long, never more than max_delay"
        raise Mismatch(f"{what} = {want}", f"{what} = {got}", hint)


@limiter.scenario("one key failing four times waits 5, 10, 20, 40 ms")
def _doubles(answer: Any, run: Run) -> None:
    _expect_delays("when('k'), four times", _whens(answer(0.005, 1000.0), "k", 4), 0.005, 1000.0)


@limiter.scenario("the delay stops growing at max_delay")
def _capped(answer: Any, run: Run) -> None:
    _expect_delays("when('k'), ten times, max_delay 1 s", _whens(answer(0.005, 1.0), "k", 10), 0.005, 1.0)


@limiter.scenario("keys are counted apart")
def _apart(answer: Any, run: Run) -> None:
    lim = answer(0.005, 1000.0)
    _whens(lim, "a", 3)
    expect("when('b') after three failures of 'a'", round(float(lim.when("b")), 9), 0.005,
           hint="keep one failure count per item (a dict)")
    expect("(num_requeues('a'), num_requeues('b'))", (lim.num_requeues("a"), lim.num_requeues("b")), (3, 1))


@limiter.scenario("forget starts a key over, and forgetting a key never seen is harmless")
def _forget(answer: Any, run: Run) -> None:
    lim = answer(0.005, 1000.0)
    _whens(lim, "k", 3)
    lim.forget("k")
    lim.forget("never-seen")
    expect("num_requeues('k') after forget", lim.num_requeues("k"), 0)
    expect("when('k') after forget", round(float(lim.when("k")), 9), 0.005)


@limiter.scenario("a key that failed 1100 times still waits max_delay (2.0 ** 1100 overflows a float)")
def _overflow(answer: Any, run: Run) -> None:
    lim = answer(0.005, 1000.0)
    try:
        last = [lim.when("k") for _ in range(1100)][-1]
    except OverflowError as exc:
        raise Mismatch("when('k') = 1000.0 on the 1100th failure", f"OverflowError: {exc}",
                       "past about 1024 doublings the power no longer fits a float: catch it, or stop doubling "
                       "once the cap is reached") from None
    expect("when('k') on the 1100th failure", float(last), 1000.0)


minute = define("09.4", "the first failure in a row of one key to wait a minute or more (default controller limiter)",
                answer="a number: the n-th failure", callable_answer=False)


@minute.scenario("the n-th failure in a row is the first whose delay is at least 60 s")
def _minute(answer: Any, run: Run) -> None:
    lim = default_controller_rate_limiter(clock=FakeClock())
    delays = [lim.when(KEY) for _ in range(40)]
    first = next(n for n, d in enumerate(delays, 1) if d >= 60.0)
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Mismatch("a whole number (the n-th failure)", f"{type(answer).__name__} {answer!r}")
    if answer != first:
        if not 1 <= answer <= len(delays):
            raise Mismatch("the first failure whose delay is at least 60 s", f"{answer}: no such failure")
        said = f"failure {answer} waits {delays[answer - 1]:g} s"
        if delays[answer - 1] < 60:
            said += ", less than a minute"
        else:
            said += f", but failure {answer - 1} already waits {delays[answer - 2]:g} s"
        raise Mismatch("the first failure whose delay is at least 60 s", said,
                       "failure n waits 5 ms × 2^(n-1), at most 1000 s")
