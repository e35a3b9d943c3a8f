"""QPS/Burst: the token bucket (k8slab/_tokenbucket.py) and the REST limiter on a fake clock."""

from __future__ import annotations

import math

import pytest

from k8slab._tokenbucket import TokenBucket
from k8slab.chain.flowcontrol import (
    DEFAULT_BURST,
    DEFAULT_QPS,
    TokenBucketRateLimiter,
    new_token_bucket_rate_limiter,
    rate_limiter_for,
)
from k8slab.chain.rest_client import RESTClient
from k8slab.chain.testing import mock_api_client
from k8slab.chain.trace import trace
from k8slab.errors import UsageError


class JumpClock:
    """A fake clock that moves only when asked to sleep (or when a test moves it)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 0.0)


def test_client_go_defaults_are_5_qps_and_burst_10():
    assert (DEFAULT_QPS, DEFAULT_BURST) == (5.0, 10)
    limiter = rate_limiter_for(0, 0)
    assert (limiter.qps, limiter.burst) == (5.0, 10)


def test_a_negative_qps_means_no_limiter_and_other_values_are_kept():
    assert rate_limiter_for(-1, 0) is None
    limiter = rate_limiter_for(50, 300)
    assert (limiter.qps, limiter.burst) == (50.0, 300)


def test_the_burst_goes_at_once_then_one_request_every_1_over_qps():
    clock = JumpClock()
    limiter = new_token_bucket_rate_limiter(5, 10, clock=clock)
    waits = [limiter.accept() for _ in range(15)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.2] * 5)
    assert clock.t == pytest.approx(1.0)


def test_callers_arriving_together_queue_1_over_qps_apart():
    bucket = TokenBucket(qps=4, burst=2, clock=JumpClock())
    delays = [bucket.reserve() for _ in range(5)]  # reservations without sleeping in between
    assert delays == pytest.approx([0, 0, 0.25, 0.5, 0.75])
    assert bucket.tokens() == pytest.approx(-3)


def test_try_accept_never_waits_and_a_refusal_costs_nothing():
    clock = JumpClock()
    limiter = TokenBucketRateLimiter(2, 1, clock=clock)
    assert limiter.try_accept() is True
    assert limiter.try_accept() is False
    assert limiter.try_accept() is False  # refusals run up no debt...
    clock.t += 0.5
    assert limiter.try_accept() is True  # ...so one 1/qps later a token is there
    assert clock.sleeps == []


def test_an_idle_bucket_refills_only_up_to_the_burst():
    clock = JumpClock()
    limiter = TokenBucketRateLimiter(10, 3, clock=clock)
    for _ in range(3):
        limiter.accept()
    clock.t += 3600
    assert limiter.tokens() == 3
    assert [limiter.accept() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


@pytest.mark.parametrize("idle, waiting", [pytest.param(1.0, 5, id="1 s refills five tokens: exactly five of ten wait"),
                                           pytest.param(3.0, 0, id="3 s refills up to the burst: none of ten waits")])
def test_notebook_02_exercise_1_a_drained_default_bucket_after_idling(idle, waiting):
    clock = JumpClock()
    limiter = new_token_bucket_rate_limiter(DEFAULT_QPS, DEFAULT_BURST, clock=clock)
    for _ in range(10):
        limiter.accept()
    clock.t += idle
    waits = [limiter.accept() for _ in range(10)]
    assert waits == pytest.approx([0.0] * (10 - waiting) + [0.2] * waiting)


def test_a_clock_going_backwards_adds_no_tokens():
    clock = JumpClock()
    bucket = TokenBucket(1, 1, clock=clock)
    clock.t = 10.0
    assert bucket.allow()
    clock.t = 5.0
    assert not bucket.allow()
    assert bucket.tokens() == pytest.approx(0)


def test_an_infinite_rate_never_waits():
    limiter = TokenBucketRateLimiter(math.inf, 1, clock=JumpClock())
    assert [limiter.accept() for _ in range(100)] == [0.0] * 100
    assert limiter.try_accept()


@pytest.mark.parametrize("qps, burst", [(0, 1), (-1, 1), (1, 0), (1, 1.5), (1, True)])
def test_a_bucket_that_could_never_hand_out_a_token_is_refused(qps, burst):
    with pytest.raises(UsageError, match="qps > 0 and burst >= 1"):
        TokenBucketRateLimiter(qps, burst)


def test_every_request_of_an_api_client_takes_a_token_and_the_trace_shows_the_wait():
    clock = JumpClock()
    api = mock_api_client(lambda req: (200, {}), rate_limiter=TokenBucketRateLimiter(5, 2, clock=clock))
    with trace() as t:
        for _ in range(4):
            RESTClient(api).get().resource("namespaces").do()
    assert [round(e.throttled_s, 3) for e in t] == [0, 0, 0.2, 0.2]
    assert clock.sleeps == pytest.approx([0, 0, 0.2, 0.2])


def test_a_watch_takes_no_token_as_client_gos_request_watch_takes_none():
    clock = JumpClock()
    api = mock_api_client(lambda req: (200, b"") if req.query.get("watch") else (200, {}),
                          rate_limiter=TokenBucketRateLimiter(5, 1, clock=clock))
    rest = RESTClient(api)
    rest.get().resource("namespaces").do()  # the only token
    with trace() as t:
        with rest.get().resource("pods").watch() as watcher:  # Request.Watch: no tryThrottle
            assert list(watcher) == []
        rest.get().resource("pods").param("watch", "true").stream().close()  # a ListWatch's watch
    assert [e.query for e in t] == ["watch=true", "watch=true"] and [e.throttled_s for e in t] == [0.0, 0.0]
    assert clock.sleeps == [0]
    rest.get().resource("namespaces").do()  # a LIST still waits for its token
    assert clock.sleeps == pytest.approx([0, 0.2])
