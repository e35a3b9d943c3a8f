"""Rate limiters: client-go's default_rate_limiters_test.go, plus the token
bucket (which client-go takes from golang.org/x/time/rate), on a FakeClock."""

from __future__ import annotations

import math

import pytest

from k8slab._clock import FakeClock
from k8slab.errors import UsageError
from k8slab.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
    default_item_based_rate_limiter,
)

MS = 0.001


def whens(limiter: object, item: object, n: int) -> list[float]:
    return [limiter.when(item) for _ in range(n)]  # type: ignore[attr-defined]


def test_exponential_doubles_per_failure_and_tracks_items_separately() -> None:
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1.0)
    assert whens(limiter, "one", 5) == pytest.approx([1 * MS, 2 * MS, 4 * MS, 8 * MS, 16 * MS])
    assert limiter.num_requeues("one") == 5
    assert whens(limiter, "two", 2) == pytest.approx([1 * MS, 2 * MS])
    assert limiter.num_requeues("two") == 2


def test_exponential_forget_resets_only_that_item() -> None:
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1.0)
    whens(limiter, "one", 3)
    whens(limiter, "two", 2)
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == pytest.approx(1 * MS)
    assert limiter.num_requeues("two") == 2


def test_the_default_controller_curve_starts_at_5ms_and_caps_at_1000s() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    delays = whens(limiter, "key", 20)
    assert delays[:4] == pytest.approx([0.005, 0.010, 0.020, 0.040])
    assert delays[17] == pytest.approx(0.005 * 2**17)  # 655.36 s: the last step under the cap
    assert delays[18:] == [1000.0, 1000.0]


@pytest.mark.parametrize(
    "base, max_delay, failures",
    [
        pytest.param(1 * MS, 1000.0, 1000, id="a millisecond base after a thousand failures"),
        pytest.param(60.0, 1000 * 3600.0, 1000, id="a minute base after a thousand failures"),
        pytest.param(1 * MS, 1000.0, 5000, id="past where two to the power overflows a float"),
    ],
)
def test_exponential_stays_at_the_max_when_the_power_overflows(
    base: float, max_delay: float, failures: int
) -> None:
    limiter = ItemExponentialFailureRateLimiter(base, max_delay)
    whens(limiter, "overflow", failures)
    assert limiter.when("overflow") == max_delay
    assert limiter.num_requeues("overflow") == failures + 1


def test_exponential_below_overflow_is_exact() -> None:
    limiter = ItemExponentialFailureRateLimiter(60.0, 1000 * 3600.0)
    whens(limiter, "two", 2)
    assert limiter.when("two") == 4 * 60.0


def test_fast_slow_is_fast_for_the_first_attempts_then_slow() -> None:
    limiter = ItemFastSlowRateLimiter(5 * MS, 10.0, 3)
    assert whens(limiter, "one", 5) == [5 * MS, 5 * MS, 5 * MS, 10.0, 10.0]
    assert limiter.num_requeues("one") == 5
    assert whens(limiter, "two", 2) == [5 * MS, 5 * MS]
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 5 * MS


def test_max_of_takes_the_longest_delay_and_the_most_requeues() -> None:
    limiter = MaxOfRateLimiter(
        ItemFastSlowRateLimiter(5 * MS, 3.0, 3),
        ItemExponentialFailureRateLimiter(1 * MS, 1.0),
    )
    assert whens(limiter, "one", 5) == pytest.approx([5 * MS, 5 * MS, 5 * MS, 3.0, 3.0])
    assert limiter.num_requeues("one") == 5
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 5 * MS
    # Six more failures: exponential reaches 32 ms, fast-slow is slow (3 s).
    assert max(whens(limiter, "two", 7)) == 3.0


def test_max_of_prefers_the_exponential_when_it_is_longer() -> None:
    limiter = MaxOfRateLimiter(
        ItemFastSlowRateLimiter(1 * MS, 2 * MS, 1),
        ItemExponentialFailureRateLimiter(1 * MS, 1.0),
    )
    assert whens(limiter, "x", 4) == pytest.approx([1 * MS, 2 * MS, 4 * MS, 8 * MS])


def test_with_max_wait_caps_the_inner_delay() -> None:
    limiter = WithMaxWaitRateLimiter(ItemFastSlowRateLimiter(5 * MS, 1000.0, 2), 500.0)
    assert whens(limiter, "x", 4) == [5 * MS, 5 * MS, 500.0, 500.0]
    assert limiter.num_requeues("x") == 4
    limiter.forget("x")
    assert limiter.num_requeues("x") == 0


def test_bucket_allows_the_burst_then_spaces_by_one_over_qps() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=10.0, burst=100, clock=clock)
    assert whens(bucket, "any", 100) == [0.0] * 100
    # Each reservation beyond the burst waits 1/qps longer than the one before.
    assert whens(bucket, "other", 3) == pytest.approx([0.1, 0.2, 0.3])
    assert bucket.num_requeues("any") == 0


def test_bucket_refills_with_time_but_never_above_the_burst() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=10.0, burst=5, clock=clock)
    whens(bucket, "x", 7)  # two tokens in debt
    clock.step(0.25)  # 2.5 tokens back: half a token left, half short of one
    assert bucket.when("x") == pytest.approx(0.05)
    assert bucket.when("x") == pytest.approx(0.15)
    clock.step(0.15)
    assert bucket.when("x") == pytest.approx(0.1)
    clock.step(3600)
    assert whens(bucket, "x", 5) == [0.0] * 5
    assert bucket.when("x") == pytest.approx(0.1)


def test_bucket_forget_does_not_give_tokens_back() -> None:
    bucket = BucketRateLimiter(qps=1.0, burst=1, clock=FakeClock())
    assert bucket.when("a") == 0.0
    bucket.forget("a")
    assert bucket.when("a") == pytest.approx(1.0)


def test_bucket_with_infinite_qps_never_delays() -> None:
    bucket = BucketRateLimiter(qps=math.inf, burst=1, clock=FakeClock())
    assert whens(bucket, "x", 1000) == [0.0] * 1000


@pytest.mark.parametrize(
    "qps, burst",
    [
        pytest.param(0.0, 10, id="a zero rate would never refill"),
        pytest.param(10.0, 0, id="an empty burst could never grant a token"),
    ],
)
def test_bucket_refuses_a_bucket_that_could_never_grant(qps: float, burst: int) -> None:
    with pytest.raises(UsageError, match="qps > 0 and burst >= 1"):
        BucketRateLimiter(qps=qps, burst=burst)


def test_default_controller_limiter_is_the_max_of_exponential_and_bucket() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock=clock)
    # 100 distinct items use up the burst; their own curves are all at 5 ms.
    assert whens(limiter, "first", 1) == [0.005]
    assert [limiter.when(f"item-{i}") for i in range(99)] == [0.005] * 99
    # Now the bucket (100 ms per token) dominates a fresh item's 5 ms.
    assert limiter.when("fresh") == pytest.approx(0.1)
    # ...while a long-failing item's own backoff dominates the bucket.
    assert max(whens(limiter, "first", 15)) == pytest.approx(0.005 * 2**15)
    assert limiter.num_requeues("first") == 16
    limiter.forget("first")
    assert limiter.num_requeues("first") == 0


def test_default_item_based_limiter_starts_at_1ms() -> None:
    limiter = default_item_based_rate_limiter()
    assert whens(limiter, "x", 3) == pytest.approx([0.001, 0.002, 0.004])
