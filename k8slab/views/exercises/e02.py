"""Notebook 02's checked exercises: client-side rate limiting (client-go `util/flowcontrol/throttle.go`).

    02.1  predict: a fresh 5 QPS / burst 10 limiter on a clock that jumps when it sleeps:
          ten accept(), one second of idling, ten more: how long each of the second ten sleeps
    02.2  write TokenBucket(qps, burst, clock): the bucket under client-go's
          `tokenBucketRateLimiter` (golang.org/x/time/rate's `Limiter`): `reserve()` takes a
          token, on credit if need be, and says how long to wait for it; `allow()` takes one
          only if it is there now

The expected numbers come from k8slab's limiter and bucket (`chain/flowcontrol.py`,
`_tokenbucket.py`), which mirror client-go's and x/time/rate's arithmetic, run on
the same clock the answer gets.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from k8slab._clock import FakeClock
from k8slab._tokenbucket import TokenBucket
from k8slab.chain.flowcontrol import DEFAULT_BURST, DEFAULT_QPS, new_token_bucket_rate_limiter
from k8slab.views.exercises.framework import Mismatch, Run, define

__all__: list[str] = []


class JumpClock:
    """Notebook 02's clock: it moves only when someone sleeps on it, and remembers each sleep."""

    def __init__(self) -> None:
        self.t, self.sleeps = 0.0, []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.t += max(seconds, 0.0)


def _numbers(answer: Any, n: int, example: str) -> list[float]:
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__len__") or len(answer) != n:
        raise Mismatch(f"a list of {n} numbers (seconds), e.g. {example}", repr(answer))
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in answer):
        raise Mismatch(f"a list of {n} numbers (seconds)", repr(answer))
    return [round(float(x), 3) for x in answer]


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b))


# -- 02.1 ------------------------------------------------------------------------------

second_ten = define("02.1", "ten accept(), one idle second, ten more: the sleeps of the second ten",
                    answer="a list of ten numbers: the seconds each of the second ten accept() sleeps",
                    callable_answer=False)


@second_ten.scenario("the sleeps of the second ten, on a 5 QPS / burst 10 limiter that started full")
def _second_ten(answer: Any, run: Run) -> None:
    got = _numbers(answer, 10, "[0, 0, 0.1, ...]")
    clock = JumpClock()
    limiter = new_token_bucket_rate_limiter(DEFAULT_QPS, DEFAULT_BURST, clock=clock)
    for _ in range(10):
        limiter.accept()
    clock.t += 1.0
    del clock.sleeps[:]
    for _ in range(10):
        limiter.accept()
    if not _close(got, clock.sleeps):
        raise Mismatch(f"the ten sleeps = {clock.sleeps}", f"the ten sleeps = {got}",
                       "the first ten emptied the bucket; one second at 5 QPS puts five tokens back (not ten: "
                       "a bucket refills at qps, and never beyond burst); after those, each sleep moves this "
                       "clock on by the one token it waited for")


# -- 02.2 ------------------------------------------------------------------------------

bucket = define("02.2", "a token bucket: burst at once, then qps per second, reserve() on credit, allow() never",
                answer="a class TokenBucket(qps, burst, clock) with reserve() -> seconds to wait and allow() -> bool")


def _pair(answer: Any, qps: float, burst: int) -> tuple[Any, Any, FakeClock, FakeClock]:
    theirs, ours = FakeClock(), FakeClock()
    return answer(qps, burst, theirs), TokenBucket(qps, burst, ours), theirs, ours


def _same(what: str, theirs: Callable[[], Any], ours: Callable[[], Any], n: int, hint: str) -> None:
    got = [theirs() for _ in range(n)]
    want = [ours() for _ in range(n)]
    if all(isinstance(w, bool) for w in want):
        ok = got == want
    else:
        got = [round(float(g), 6) for g in got]
        want = [round(float(w), 6) for w in want]
        ok = _close(got, want)
    if not ok:
        raise Mismatch(f"{what} = {want}", f"{what} = {got}", hint)


def _step(clocks: tuple[FakeClock, FakeClock], seconds: float) -> None:
    for clock in clocks:
        clock.step(seconds)


@bucket.scenario("a new bucket is full: burst reservations wait nothing")
def _full(answer: Any, run: Run) -> None:
    theirs, ours, _, _ = _pair(answer, 5.0, 10)
    _same("ten reserve() at t=0", theirs.reserve, ours.reserve, 10, "a new bucket starts with burst tokens")


@bucket.scenario("callers that arrive together leave 1/qps apart: the 11th waits 0.2 s, the 12th 0.4 s")
def _together(answer: Any, run: Run) -> None:
    theirs, ours, _, _ = _pair(answer, 5.0, 10)
    _same("thirteen reserve() at t=0", theirs.reserve, ours.reserve, 13,
          "reserve takes its token even when there is none: the balance goes negative, and the wait is "
          "the debt divided by qps, so each caller waits for the tokens reserved before it too")


@bucket.scenario("tokens come back at qps per second, never more than burst")
def _refill(answer: Any, run: Run) -> None:
    theirs, ours, *clocks = _pair(answer, 5.0, 10)
    _same("ten reserve() at t=0", theirs.reserve, ours.reserve, 10, "a new bucket starts with burst tokens")
    _step(tuple(clocks), 1.0)
    _same("six reserve() one second later", theirs.reserve, ours.reserve, 6,
          "one second at 5 QPS brings back five tokens")
    _step(tuple(clocks), 60.0)
    _same("twelve reserve() after a minute of idling", theirs.reserve, ours.reserve, 12,
          "idle time fills the bucket up to burst and no further: a quiet minute buys ten requests, not 300")


@bucket.scenario("allow() takes a token only when one is there, and never runs into debt")
def _allow(answer: Any, run: Run) -> None:
    theirs, ours, *clocks = _pair(answer, 5.0, 10)
    _same("eleven allow() at t=0", theirs.allow, ours.allow, 11, "ten tokens, then none: the eleventh says no")
    _step(tuple(clocks), 0.1)
    _same("allow() 0.1 s later (half a token)", theirs.allow, ours.allow, 1, "a token must be whole")
    _step(tuple(clocks), 0.1)
    _same("two allow() 0.2 s after emptying", theirs.allow, ours.allow, 2,
          "one token is back; a refusal takes nothing")
    _same("then one reserve()", theirs.reserve, ours.reserve, 1,
          "allow() must leave no debt behind: the next reserve() waits for one token only")
