"""Leader election against an in-memory Lease store, on a fake clock (no sleeping for leases).

Table tests follow client-go v0.37.2's leaderelection_test.go (testTryAcquireOrRenew,
testReleaseLease, TestLeaderElectionConfigValidation, TestFastPathLeaderElection,
TestReleaseOnCancellation_Leases).
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.leaderelection import (
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElectionRecord,
    LeaseLock,
    leader_election_record_to_lease_spec,
    lease_spec_to_leader_election_record,
    new_leader_elector,
)
from k8slab.leaderelection.testing import FakeLeases
from k8slab.record import FakeRecorder

NS, NAME = "kube-system", "sample-controller"
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def _noop(*_args):
    return None


def _config(lock, **overrides):
    values = dict(
        lock=lock,
        lease_duration=10,
        renew_deadline=5,
        retry_period=2,
        callbacks=LeaderCallbacks(on_started_leading=_noop, on_stopped_leading=_noop),
    )
    values.update(overrides)
    return LeaderElectionConfig(**values)


def _elector(store, identity="baz", clock=None, **overrides):
    lock = LeaseLock(NS, NAME, store, identity)
    return new_leader_elector(_config(lock, **overrides), clock=clock or FakeClock(), rand=lambda: 0.0)


def _put(store, holder, *, duration=10, transitions=0, renew=LONG_AGO):
    """Seed the store with a Lease written by someone else."""
    record = LeaderElectionRecord(holder, duration, renew, renew, transitions)
    store.leases(NS).create({"metadata": {"name": NAME}, "spec": leader_election_record_to_lease_spec(record)})
    store.actions.clear()


def _wait_for(predicate, timeout=5.0, step=None, clock=None):
    """Poll (stepping the fake clock by `step` each time) until predicate() or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if clock is not None and step:
            clock.step(step)
        time.sleep(0.01)
    return predicate()


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        pytest.param(dict(lease_duration=5, renew_deadline=5), "lease_duration must be greater",
                     id="lease duration not above renew deadline is refused"),
        pytest.param(dict(renew_deadline=2.4, retry_period=2), "retry_period \\* 1.2",
                     id="renew deadline within 1.2 retry periods is refused"),
        pytest.param(dict(lease_duration=2, renew_deadline=1, retry_period=0), "retry_period must be greater than zero",
                     id="a zero retry period is refused"),
        pytest.param(dict(lease_duration=1, renew_deadline=0, retry_period=-1), "renew_deadline must be greater than zero",
                     id="a zero renew deadline is refused"),
        pytest.param(dict(lease_duration=-1, renew_deadline=-2, retry_period=-5),
                     "lease_duration must be greater than zero", id="negative durations are refused"),
    ],
)
def test_config_validation(overrides, message):
    """client-go's TestLeaderElectionConfigValidation: NewLeaderElector's checks, in its order."""
    with pytest.raises(errors.UsageError, match=message):
        new_leader_elector(_config(LeaseLock(NS, NAME, FakeLeases(), "a"), **overrides))


def test_sub_second_durations_are_accepted_as_client_go_accepts_them():
    """client-go refuses only durations of zero or less (`LeaseDuration < 1` counts nanoseconds)."""
    store = FakeLeases()
    elector = new_leader_elector(
        _config(LeaseLock(NS, NAME, store, "a"), lease_duration=0.9, renew_deadline=0.8, retry_period=0.5),
        clock=FakeClock())
    assert elector.try_acquire_or_renew()
    # The Lease keeps whole seconds: int(0.9 s) is 0, as client-go's int(LeaseDuration / time.Second).
    assert store.lease(NS, NAME)["spec"]["leaseDurationSeconds"] == 0


def test_config_needs_an_identity():
    with pytest.raises(errors.UsageError, match="identity is empty"):
        new_leader_elector(_config(LeaseLock(NS, NAME, FakeLeases(), "")))


def test_valid_config_builds_an_elector():
    le = new_leader_elector(_config(LeaseLock(NS, NAME, FakeLeases(), "a"), lease_duration=15,
                                    renew_deadline=10, retry_period=2))
    assert le.get_leader() == "" and not le.is_leader()


# -- one attempt -------------------------------------------------------------------------


def test_acquire_from_no_object_creates_the_lease():
    store = FakeLeases()
    le = _elector(store)
    assert le.try_acquire_or_renew()
    assert [a[0] for a in store.actions] == ["get", "create"]
    spec = store.lease(NS, NAME)["spec"]
    assert spec["holderIdentity"] == "baz" and spec["leaseDurationSeconds"] == 10
    assert spec["leaseTransitions"] == 0
    assert le.is_leader()


def test_acquire_from_unled_object_counts_a_transition():
    store = FakeLeases()
    _put(store, "", transitions=3)
    le = _elector(store)
    assert le.try_acquire_or_renew()
    assert [a[0] for a in store.actions] == ["get", "update"]
    assert store.lease(NS, NAME)["spec"]["leaseTransitions"] == 4


def test_do_not_acquire_a_led_object_seen_changing_recently():
    store = FakeLeases()
    _put(store, "bing")
    le = _elector(store)
    assert not le.try_acquire_or_renew()
    assert le.get_leader() == "bing"
    assert [a[0] for a in store.actions] == ["get"]


def test_acquire_a_led_object_once_unchanged_for_a_lease_duration_on_our_clock():
    store, clock = FakeLeases(), FakeClock()
    _put(store, "bing", duration=3, transitions=1)
    le = _elector(store, clock=clock)
    assert not le.try_acquire_or_renew()  # first sighting starts the countdown
    clock.step(2.9)
    assert not le.try_acquire_or_renew()
    clock.step(0.2)
    assert le.try_acquire_or_renew()
    spec = store.lease(NS, NAME)["spec"]
    assert spec["holderIdentity"] == "baz" and spec["leaseTransitions"] == 2


def test_expiry_ignores_the_records_own_timestamps():
    """A renewTime far in the past (another machine's clock) does not make the lease expired."""
    store, clock = FakeLeases(), FakeClock()
    _put(store, "bing", duration=10, renew=LONG_AGO)
    le = _elector(store, clock=clock)
    assert not le.try_acquire_or_renew()
    # The holder renews (the record changes): the countdown starts over on our clock.
    clock.step(8)
    holder = LeaseLock(NS, NAME, store, "bing")
    holder.get()
    holder.update(LeaderElectionRecord("bing", 10, LONG_AGO, LONG_AGO + dt.timedelta(seconds=1)))
    assert not le.try_acquire_or_renew()
    clock.step(8)
    assert not le.try_acquire_or_renew()  # 8 s since the change, not 16
    clock.step(2.5)
    assert le.try_acquire_or_renew()


def test_renew_keeps_acquire_time_and_transitions_and_takes_the_fast_path():
    store, clock = FakeLeases(), FakeClock()
    le = _elector(store, clock=clock)
    assert le.try_acquire_or_renew()
    acquired = store.lease(NS, NAME)["spec"]["acquireTime"]
    store.actions.clear()
    clock.step(2)
    assert le.try_acquire_or_renew()
    assert [a[0] for a in store.actions] == ["update"]  # no GET: the fast path
    spec = store.lease(NS, NAME)["spec"]
    assert spec["acquireTime"] == acquired
    assert spec["renewTime"] != acquired
    assert spec["leaseTransitions"] == 0


def test_fast_path_conflict_falls_back_to_get_and_loses_to_the_new_holder():
    store, clock = FakeLeases(), FakeClock()
    le = _elector(store, clock=clock)
    assert le.try_acquire_or_renew()
    # Someone else writes the Lease behind our back (our resourceVersion is now stale).
    other = LeaseLock(NS, NAME, store, "bing")
    other.get()
    other.update(LeaderElectionRecord("bing", 10, LONG_AGO, LONG_AGO, 1))
    store.actions.clear()
    assert not le.try_acquire_or_renew()
    assert [a[0] for a in store.actions] == ["update", "get"]
    assert le.get_leader() == "bing" and not le.is_leader()


def test_two_candidates_racing_on_the_same_read_only_one_wins():
    store = FakeLeases()
    _put(store, "")
    a, b = LeaseLock(NS, NAME, store, "a"), LeaseLock(NS, NAME, store, "b")
    a.get(), b.get()
    a.update(LeaderElectionRecord("a", 10, LONG_AGO, LONG_AGO, 1))
    with pytest.raises(errors.Conflict):
        b.update(LeaderElectionRecord("b", 10, LONG_AGO, LONG_AGO, 1))
    assert store.holder(NS, NAME) == "a"


def test_lock_update_before_get_is_a_usage_error():
    with pytest.raises(errors.UsageError, match="call get or create first"):
        LeaseLock(NS, NAME, FakeLeases(), "a").update(LeaderElectionRecord("a"))


def test_record_round_trips_through_a_lease_spec():
    t = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)
    record = LeaderElectionRecord("a", 15, t, t + dt.timedelta(seconds=2), 7)
    spec = leader_election_record_to_lease_spec(record)
    assert spec["acquireTime"] == "2026-01-02T03:04:05.678901Z"
    assert lease_spec_to_leader_election_record(spec) == record


# -- release -------------------------------------------------------------------------------


def test_release_writes_an_empty_holder_and_keeps_the_transition_count():
    store = FakeLeases()
    _put(store, "", transitions=2)
    le = _elector(store)
    assert le.try_acquire_or_renew()
    assert le.release()
    spec = store.lease(NS, NAME)["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 3
    assert le.get_leader() == ""


def test_release_retries_on_conflict():
    store = FakeLeases()
    le = _elector(store)
    assert le.try_acquire_or_renew()
    store.fail_next("update", errors.Conflict("stale", code=409, reason="Conflict"))
    store.actions.clear()
    assert le.release()
    assert [a[0] for a in store.actions] == ["get", "update", "get", "update"]
    assert store.holder(NS, NAME) == ""


def test_release_by_a_non_leader_writes_nothing():
    store = FakeLeases()
    _put(store, "bing")
    le = _elector(store)
    le.try_acquire_or_renew()
    store.actions.clear()
    assert le.release()
    assert [a[0] for a in store.actions] == ["get"]
    assert store.holder(NS, NAME) == "bing"


def _lose_the_lease(check_holder_on_release):
    """A led, stopped renewing without reading the Lease, and B took over; then A releases."""
    store, clock = FakeLeases(), FakeClock()
    a = _elector(store, identity="a", clock=clock, check_holder_on_release=check_holder_on_release)
    b = _elector(store, identity="b", clock=clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # first sighting starts B's countdown
    clock.step(10.1)  # A has not renewed for a whole lease duration
    assert b.try_acquire_or_renew()
    assert a.is_leader()  # A still believes its last observed record
    store.actions.clear()
    assert a.release()
    return store, clock, b


def test_release_after_losing_the_lease_leaves_the_new_holder():
    """k8slab's release checks the holder it just read: B's Lease is left alone."""
    store, _, b = _lose_the_lease(check_holder_on_release=True)
    assert [x[0] for x in store.actions] == ["get"]
    assert store.holder(NS, NAME) == "b"


def test_client_go_s_release_blanks_the_new_holder_s_lease_and_lets_a_third_lead_beside_it():
    """What client-go v0.37.2's tryRelease does here: it checks only le.IsLeader() (A's stale view).

    The update is conditional on the resourceVersion A has just read, so it
    succeeds: the Lease B holds is emptied, and C acquires at once while B
    still leads. k8slab's default (the test above) refuses to write.
    """
    store, clock, b = _lose_the_lease(check_holder_on_release=False)
    assert [x[0] for x in store.actions] == ["get", "update"]
    assert store.holder(NS, NAME) == ""
    c = _elector(store, identity="c", clock=clock)
    assert c.try_acquire_or_renew()  # an empty holder is free to take, no wait
    assert store.holder(NS, NAME) == "c" and b.is_leader()  # two candidates believe they lead


# -- the whole loop, two candidates, a fake clock ----------------------------------------


class _Candidate:
    """An elector running in a thread, recording its callbacks."""

    def __init__(self, store, clock, identity, *, release_on_cancel=True, work=None):
        self.started = threading.Event()
        self.stopped_leading = threading.Event()
        self.leaders: list[str] = []
        self.stop = threading.Event()
        self._work = work

        def on_started_leading(leading):
            self.started.set()
            if self._work is not None:
                self._work(leading)
            else:
                leading.wait()

        lock = LeaseLock(NS, NAME, store, identity)
        config = _config(
            lock,
            callbacks=LeaderCallbacks(on_started_leading, self.stopped_leading.set, self.leaders.append),
            release_on_cancel=release_on_cancel,
        )
        self.elector = new_leader_elector(config, clock=clock, rand=lambda: 0.0)
        self.thread = threading.Thread(target=self.elector.run, args=(self.stop,), name=f"elector {identity}")
        self.thread.start()

    def halt(self):
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


def test_graceful_stop_releases_and_the_other_takes_over_before_the_lease_expires():
    store, clock = FakeLeases(), FakeClock()
    a = _Candidate(store, clock, "a")
    assert a.started.wait(5)
    b = _Candidate(store, clock, "b")
    try:
        assert _wait_for(lambda: b.leaders == ["a"])
        a.halt()
        assert a.stopped_leading.is_set()
        assert store.holder(NS, NAME) == ""
        start = clock.now()
        assert _wait_for(b.started.is_set, clock=clock, step=0.5)
        assert clock.now() - start < 10  # well within lease_duration: no expiry wait
        assert b.leaders == ["a", "", "b"] or b.leaders == ["a", "b"]
        assert store.lease(NS, NAME)["spec"]["leaseTransitions"] == 1
    finally:
        a.stop.set(), b.stop.set()
        a.thread.join(5), b.thread.join(5)


def test_a_crashed_leader_is_replaced_only_after_the_lease_duration():
    store, clock = FakeLeases(), FakeClock()
    a = _Candidate(store, clock, "a", release_on_cancel=False)
    assert a.started.wait(5)
    b = _Candidate(store, clock, "b")
    try:
        assert _wait_for(lambda: b.leaders == ["a"])
        a.halt()  # no release: the Lease still names "a"
        assert store.holder(NS, NAME) == "a"
        start = clock.now()
        assert _wait_for(b.started.is_set, timeout=10, clock=clock, step=0.5)
        waited = clock.now() - start
        assert 10 - 2 <= waited <= 10 + 2 * 2 * 1.2 + 1  # a lease duration, +- retry periods
        assert store.holder(NS, NAME) == "b"
        assert store.lease(NS, NAME)["spec"]["leaseTransitions"] == 1
    finally:
        b.halt()


def test_a_leader_that_cannot_renew_stops_leading_after_the_renew_deadline():
    store, clock = FakeLeases(), FakeClock()
    a = _Candidate(store, clock, "a")
    try:
        assert a.started.wait(5)
        for _ in range(20):
            store.fail_next("update")
            store.fail_next("get")
        assert _wait_for(a.stopped_leading.is_set, clock=clock, step=0.5)
        a.thread.join(5)
        assert not a.thread.is_alive()  # run returned: leadership lost, not stopped
        assert not a.stop.is_set()
    finally:
        a.stop.set()
        a.thread.join(5)


def test_work_that_ends_on_its_own_ends_leadership():
    store, clock = FakeLeases(), FakeClock()

    def crash(leading):
        raise RuntimeError("controller crashed")

    a = _Candidate(store, clock, "a", work=crash)
    try:
        assert _wait_for(a.stopped_leading.is_set, clock=clock, step=0.5)
        a.thread.join(5)
        assert not a.thread.is_alive()
        assert store.holder(NS, NAME) == ""  # released: nothing is guarded any more
    finally:
        a.stop.set()
        a.thread.join(5)


def test_check_reports_a_leader_that_stopped_renewing():
    store, clock = FakeLeases(), FakeClock()
    le = _elector(store, clock=clock)
    assert le.try_acquire_or_renew()
    le.check(1)
    clock.step(12)
    with pytest.raises(errors.K8sLabError, match="failed election to renew"):
        le.check(1)


@pytest.mark.parametrize("cancelled", ["update", "get"])
def test_release_on_cancellation(cancelled):
    """client-go's TestReleaseOnCancellation_Leases: stopped while a renew is in flight, the leader still releases.

    The renew's `cancelled` call blocks until the stop comes and then fails (Go's
    context.Canceled); the release that follows reads the Lease again and
    writes the empty holder; the events say "became leader", "stopped leading".
    """
    store, clock, recorder = FakeLeases(), FakeClock(), FakeRecorder()
    in_flight, resume = threading.Event(), threading.Event()
    renewing = threading.Event()

    def block_then_fail(action):
        if renewing.is_set() and not in_flight.is_set():
            in_flight.set()
            resume.wait(5)
            raise errors.new_internal_error("context canceled")
        return False, None

    stop = threading.Event()
    started = threading.Event()
    lock = LeaseLock(NS, NAME, store, "baz", event_recorder=recorder)
    config = _config(lock, lease_duration=15, renew_deadline=2, retry_period=1, release_on_cancel=True,
                     callbacks=LeaderCallbacks(lambda leading: (started.set(), leading.wait()), _noop))
    elector = new_leader_elector(config, clock=clock, rand=lambda: 0.0)
    def fast_path_conflicts(action):  # so that the renew goes on to read the Lease
        if renewing.is_set() and not in_flight.is_set():
            raise errors.new_conflict("leases", NAME, "stale")
        return False, None

    if cancelled == "get":
        store.prepend_reactor("update", "leases", fast_path_conflicts)
    store.prepend_reactor(cancelled, "leases", block_then_fail)
    thread = threading.Thread(target=elector.run, args=(stop,), name="elector baz")
    thread.start()
    try:
        assert started.wait(5)
        assert clock.block_until(1)  # waiting one retry period before the first renew
        renewing.set()
        clock.step(1)
        assert in_flight.wait(5)  # the renew's call is in flight
        stop.set()  # cancel the elector while it is renewing
        resume.set()
        thread.join(5)
        assert not thread.is_alive()
    finally:
        stop.set(), resume.set()
        thread.join(5)
    assert store.holder(NS, NAME) == ""
    assert store.lease(NS, NAME)["spec"]["leaseDurationSeconds"] == 1
    assert recorder.events == ["Normal LeaderElection baz became leader", "Normal LeaderElection baz stopped leading"]
