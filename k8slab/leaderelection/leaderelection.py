"""The leader elector: take a Lease, keep renewing it, give it up when told to stop.

Mirrors client-go v0.37.2 `tools/leaderelection/leaderelection.go`
(`LeaderElectionConfig`, `LeaderCallbacks`, `NewLeaderElector`, `RunOrDie`,
`LeaderElector.Run`, `acquire`, `renew`, `release`, `tryAcquireOrRenew`,
`maybeReportTransition`, `Check`, `GetLeader`, `IsLeader`).

How it decides, in short. Every candidate reads the lock's record. A record
held by someone else counts as *valid* while, on the candidate's own clock,
less than `lease_duration` has passed since the candidate last saw the
record change. The record's own timestamps are never compared with the
local clock: they were written by another machine's clock, so clock skew
between machines does not matter, only their rates. When the record has not
changed for a whole lease duration, a candidate writes itself in as holder
(counting one more `leader_transitions`); the update carries the
resourceVersion it read, so of two candidates trying at once the API server
lets exactly one win. The holder renews every `retry_period`; if it cannot
renew for `renew_deadline` it stops leading, well before the others may take
over (`lease_duration > renew_deadline`).

Kept:
- validation as client-go's `NewLeaderElector`, in its order and words:
  lease_duration > renew_deadline > 1.2 x retry_period, each greater than
  zero (client-go refuses only durations <= 0; a sub-second lease_duration is
  written as 0 whole seconds, as client-go's `int(LeaseDuration / time.Second)`);
- `acquire`: try every retry_period with jitter factor 1.2 until it works;
  `renew`: try at once and then every retry_period for up to renew_deadline,
  and again retry_period after each success; the fast path in which the
  leader updates its last-written Lease without reading it first;
- `release_on_cancel`: when renewing ends, the leader reads the Lease and
  writes an empty holder, leaseDurationSeconds 1 and the transition count it
  read, so the next candidate need not wait out the lease; on a Conflict it
  reads and tries again within the renew deadline (v0.37.2; v0.32 did not);
- `on_new_leader` whenever the observed holder changes; "became leader" /
  "stopped leading" events through the lock; `check()` for health checks;
- an injected clock (`k8slab._clock`) for every wait and every expiry test.
Deliberate differences:
- release checks the holder it has just read. client-go's `tryRelease` reads
  the Lease but decides with `if !le.IsLeader() { return true }`: the record
  it last *observed*, never `oldLeaderElectionRecord.HolderIdentity`. A leader
  whose renewals failed on errors (so it never read the new holder) still
  observes itself, and its release, conditional on the resourceVersion it
  just read, blanks the Lease of whoever took over: a third candidate may
  then acquire while that one still leads. k8slab also requires
  `old.holder_identity == identity`; `check_holder_on_release=False` in the
  config releases as client-go does, to show the difference;
- `run(stop)` takes a `threading.Event` for client-go's context, and hands
  `on_started_leading` its own event, set when leadership ends;
- before releasing, `run` waits for `on_started_leading` to return, so the
  work the lease guards has stopped before anyone else can start it
  (client-go leaves that to the caller, see ReleaseOnCancel's comment);
- leading also ends when `on_started_leading` returns or raises: a lease
  guarding nothing is not renewed (the official Python client does the same);
- `on_new_leader` is called on the elector's thread, not in a new one: keep
  it short.
Left out: coordinated leader election (LeaseCandidate), metrics, the
healthz adaptor object (`check` is there), `Name` used only for metrics.

Why not the official client's `kubernetes.leaderelection` (37.x)? It reads
the wall clock directly (no clock to inject, so no fast tests), cannot be
stopped (its acquire loop never returns), never releases the lease, does not
count leaseTransitions, exits the process on a bad config, and builds its
own `CoordinationV1Api()` from the global default configuration, so it cannot
run as a user other than the default kubeconfig's. The Lease it writes is the
same object; our record and our Lease spec follow client-go's.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from typing import Callable

from k8slab import errors
from k8slab._clock import REAL_CLOCK, Clock, sleep_or_stop
from k8slab.leaderelection.resourcelock import LeaderElectionRecord, ResourceLock

__all__ = [
    "JITTER_FACTOR", "LeaderCallbacks", "LeaderElectionConfig", "LeaderElector",
    "new_leader_elector", "run_or_die",
]

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2  # client-go's JitterFactor: retries wait retry_period x (1 + up to 1.2)
_MAX_RELEASE_ATTEMPTS = 10  # client-go bounds these by the renew deadline alone; a fake clock may not move


@dataclasses.dataclass
class LeaderCallbacks:
    """What to do as leadership comes and goes.

    `on_started_leading(leading)` runs in its own thread once this candidate
    leads; `leading` (a threading.Event) is set when it must stop, and it
    must then return promptly. `on_stopped_leading()` is called whenever
    `run` ends, even if it never led. `on_new_leader(identity)` is called
    each time a different holder is observed (including this candidate).
    """

    on_started_leading: Callable[[threading.Event], None]
    on_stopped_leading: Callable[[], None]
    on_new_leader: Callable[[str], None] | None = None


@dataclasses.dataclass
class LeaderElectionConfig:
    """client-go's LeaderElectionConfig; durations in seconds.

    Core Kubernetes components use 15 s / 10 s / 2 s: a candidate may take
    over after `lease_duration` without seeing the record change; the leader
    gives up after failing to renew for `renew_deadline`; everyone retries
    every `retry_period`.
    """

    lock: ResourceLock
    lease_duration: float
    renew_deadline: float
    retry_period: float
    callbacks: LeaderCallbacks
    release_on_cancel: bool = False
    name: str = ""
    check_holder_on_release: bool = True  # k8slab only; False: release as client-go does (module docstring)


def new_leader_elector(
    config: LeaderElectionConfig,
    *,
    clock: Clock = REAL_CLOCK,
    rand: Callable[[], float] = random.random,
) -> "LeaderElector":
    """Check `config` (raising errors.UsageError, in client-go's order) and build an elector."""
    if config.lease_duration <= config.renew_deadline:
        raise errors.UsageError("lease_duration must be greater than renew_deadline")
    if config.renew_deadline <= JITTER_FACTOR * config.retry_period:
        raise errors.UsageError("renew_deadline must be greater than retry_period * 1.2 (the jitter factor)")
    for field in ("lease_duration", "renew_deadline", "retry_period"):
        if getattr(config, field) <= 0:
            raise errors.UsageError(f"{field} must be greater than zero")
    if config.callbacks.on_started_leading is None:
        raise errors.UsageError("on_started_leading callback must not be None")
    if config.callbacks.on_stopped_leading is None:
        raise errors.UsageError("on_stopped_leading callback must not be None")
    if config.lock is None:
        raise errors.UsageError("lock must not be None")
    if not config.lock.identity():
        raise errors.UsageError("lock identity is empty")
    return LeaderElector(config, clock, rand)


def run_or_die(stop: threading.Event, config: LeaderElectionConfig) -> None:
    """Build an elector (a bad config raises) and `run` it until `stop` or lost leadership."""
    new_leader_elector(config).run(stop)


class LeaderElector:
    """One candidate in one election. Build it with `new_leader_elector`."""

    def __init__(self, config: LeaderElectionConfig, clock: Clock, rand: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()  # guards the observed record and time
        # The record as last read or written, and when (on OUR clock) it was
        # first seen in that state: the only basis for deciding expiry.
        self._observed_record = LeaderElectionRecord()
        self._observed_time = 0.0
        self._reported_leader = ""  # lags the observed holder until reported
        self._leading_ended = threading.Event()

    # -- the loop ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Acquire, lead, renew; return when `stop` is set or leadership is lost."""
        try:
            if not self._acquire(stop):
                return  # stopped before acquiring
            leading = threading.Event()  # client-go's child context of Run
            self._leading_ended.clear()
            worker = threading.Thread(
                target=self._lead, args=(leading,), name=f"k8slab-leading[{self.identity}]", daemon=True
            )
            worker.start()
            try:
                self._renew(stop)
            finally:
                leading.set()
                worker.join()  # the guarded work has stopped: now it is safe to release
            if self.config.release_on_cancel:
                self.release()
        finally:
            self.config.callbacks.on_stopped_leading()

    def _lead(self, leading: threading.Event) -> None:
        try:
            self.config.callbacks.on_started_leading(leading)
        except Exception:
            log.exception("on_started_leading raised; stopping leading")
        finally:
            self._leading_ended.set()

    def _acquire(self, stop: threading.Event) -> bool:
        """Try every retry_period (jittered) until this candidate holds the lock."""
        desc = self.config.lock.describe()
        log.info("attempting to acquire leader lease %s...", desc)
        while not stop.is_set():
            succeeded = self.try_acquire_or_renew()
            self._maybe_report_transition()
            if succeeded:
                self.config.lock.record_event("became leader")
                log.info("successfully acquired lease %s", desc)
                return True
            log.debug("failed to acquire lease %s", desc)
            period = self.config.retry_period
            if self._sleep(stop, period + self._rand() * JITTER_FACTOR * period):
                break
        return False

    def _renew(self, stop: threading.Event) -> None:
        """Renew every retry_period; give up after renew_deadline of failures."""
        desc = self.config.lock.describe()
        try:
            while not stop.is_set() and not self._leading_ended.is_set():
                deadline = self._clock.now() + self.config.renew_deadline
                renewed = False
                while not stop.is_set():  # client-go: PollUntilContextTimeout(immediate)
                    renewed = self.try_acquire_or_renew()
                    if renewed:
                        break
                    if self._sleep(stop, self.config.retry_period) or self._clock.now() >= deadline:
                        break
                self._maybe_report_transition()
                if stop.is_set():
                    return
                if not renewed:
                    log.info("failed to renew lease %s: %s s passed", desc, self.config.renew_deadline)
                    return
                log.debug("successfully renewed lease %s", desc)
                self._sleep(stop, self.config.retry_period)
        finally:
            self.config.lock.record_event("stopped leading")

    def release(self) -> bool:
        """If this candidate leads, write a record with no holder; True if nothing is held."""
        deadline = self._clock.now() + self.config.renew_deadline
        for attempt in range(_MAX_RELEASE_ATTEMPTS):
            try:
                old = self.config.lock.get()
            except errors.NotFound:
                log.info("lease lock %s not found", self.config.lock.describe())
                return False
            except Exception as exc:
                log.error("error retrieving resource lock %s: %s", self.config.lock.describe(), exc)
                return False
            if not self.is_leader():
                return True  # never led (client-go's only check)
            if self.config.check_holder_on_release and old.holder_identity != self.identity:
                return True  # someone took over after we failed to renew: theirs now, leave it
            now = self._clock.wall()
            record = LeaderElectionRecord(
                leader_transitions=old.leader_transitions,
                lease_duration_seconds=1,
                renew_time=now,
                acquire_time=now,
            )
            try:
                self.config.lock.update(record)
            except errors.Conflict:
                # A renew that our stop interrupted may have landed meanwhile: read again.
                if self._clock.now() < deadline:
                    log.debug("conflict when releasing lease %s, retrying", self.config.lock.describe())
                    continue
                break
            except Exception as exc:
                log.error("failed to release lease %s: %s", self.config.lock.describe(), exc)
                return False
            self._set_observed_record(record)
            return True
        log.error("failed to release lease %s: it kept changing under us", self.config.lock.describe())
        return False

    # -- one attempt -----------------------------------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the lock; True if this candidate holds it now."""
        lock = self.config.lock
        now = self._clock.now()
        wall = self._clock.wall()
        record = LeaderElectionRecord(
            holder_identity=lock.identity(),
            lease_duration_seconds=int(self.config.lease_duration),
            acquire_time=wall,
            renew_time=wall,
        )

        # 1. Fast path: the leader updates optimistically, assuming the Lease it
        # wrote last is still current (saves a GET per renewal).
        if self.is_leader() and self._is_lease_valid(now):
            old = self.observed_record
            record = dataclasses.replace(
                record, acquire_time=old.acquire_time, leader_transitions=old.leader_transitions
            )
            try:
                lock.update(record)
                self._set_observed_record(record)
                return True
            except Exception as exc:
                log.debug("failed to update lease %s optimistically, falling back to slow path: %s",
                          lock.describe(), exc)

        # 2. Read the record, or create the lock if there is none.
        try:
            old = lock.get()
        except errors.NotFound:
            try:
                lock.create(record)
            except Exception as exc:
                log.error("error initially creating lease lock %s: %s", lock.describe(), exc)
                return False
            self._set_observed_record(record)
            return True
        except Exception as exc:
            log.error("error retrieving lease lock %s: %s", lock.describe(), exc)
            return False

        # 3. A changed record restarts the expiry countdown, on our clock.
        if old != self.observed_record:
            self._set_observed_record(old)
        if old.holder_identity and self._is_lease_valid(now) and not self.is_leader():
            log.debug("lease %s is held by %s and has not yet expired", lock.describe(),
                      old.holder_identity)
            return False

        # 4. Take it (one more transition) or keep it (same acquire time).
        if self.is_leader():
            record = dataclasses.replace(
                record, acquire_time=old.acquire_time, leader_transitions=old.leader_transitions
            )
        else:
            record = dataclasses.replace(record, leader_transitions=old.leader_transitions + 1)
        try:
            lock.update(record)  # conditional on the resourceVersion just read
        except Exception as exc:
            log.error("failed to update lease %s: %s", lock.describe(), exc)
            return False
        self._set_observed_record(record)
        return True

    # -- what others read --------------------------------------------------------------

    @property
    def identity(self) -> str:
        return self.config.lock.identity()

    @property
    def observed_record(self) -> LeaderElectionRecord:
        with self._lock:
            return self._observed_record

    def get_leader(self) -> str:
        """The last observed holder ("" if none yet): informative only."""
        return self.observed_record.holder_identity

    def is_leader(self) -> bool:
        """True if the last observed holder is this candidate."""
        return self.observed_record.holder_identity == self.identity

    def check(self, max_tolerable_expired_lease: float) -> None:
        """Raise errors.LeaseNotRenewed if this leader has failed to renew for lease_duration + the tolerance.

        A leader that should have stopped but did not (a deadlock) shows up here;
        client-go's healthz adaptor calls it.
        """
        if not self.is_leader():
            return
        with self._lock:
            last = self._observed_time
        if self._clock.now() - last > self.config.lease_duration + max_tolerable_expired_lease:
            raise errors.LeaseNotRenewed(
                f"failed election to renew leadership on lease {self.config.name or self.config.lock.describe()}"
            )

    # -- bookkeeping ----------------------------------------------------------------------

    def _is_lease_valid(self, now: float) -> bool:
        with self._lock:
            return self._observed_time + self._observed_record.lease_duration_seconds > now

    def _set_observed_record(self, record: LeaderElectionRecord) -> None:
        with self._lock:
            self._observed_record = record
            self._observed_time = self._clock.now()

    def _maybe_report_transition(self) -> None:
        holder = self.observed_record.holder_identity
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        if self.config.callbacks.on_new_leader is not None:
            try:
                self.config.callbacks.on_new_leader(holder)
            except Exception:
                log.exception("on_new_leader raised")

    def _sleep(self, stop: threading.Event, seconds: float) -> bool:
        """Wait `seconds` of clock time, or until `stop`; True if stopped."""
        return sleep_or_stop(self._clock, stop, seconds)

    def __repr__(self) -> str:
        return f"<LeaderElector {self.identity} on {self.config.lock.describe()}, leader {self.get_leader()!r}>"
