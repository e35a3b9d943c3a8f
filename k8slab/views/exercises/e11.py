"""Notebook 11's checked exercise: the Lease decision (client-go `tools/leaderelection/leaderelection.go`).

    11.1  write a Candidate(identity, lease_duration) whose attempt(record, now) returns
          the LeaderElectionRecord to write (to take the lock or keep it) or None (wait):
          the decision of client-go's `tryAcquireOrRenew`, without the API calls

`record` is the Lease's record as just read (None: there is no Lease yet);
`now` is a datetime from this candidate's own clock. The rules are
client-go's: a record held by someone else is valid while less than *its*
leaseDurationSeconds has passed, on the candidate's clock, since the
candidate first saw the record in that state (its timestamps come from
another machine's clock and are never compared); a takeover counts one more
leaderTransitions; a renewal keeps acquireTime and the count. Scenarios step
time by hand, so they are exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from k8slab.leaderelection import LeaderElectionRecord
from k8slab.views.exercises.framework import Mismatch, Run, define

__all__: list[str] = []

T0 = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
ME, OTHER = "me", "other"
DURATION = 10  # seconds, the candidate's lease_duration

decision = define("11.1", "a Lease decision: take, renew, or wait, on your own clock",
                  answer="a class Candidate(identity, lease_duration) with attempt(record, now) -> record or None")


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _held(by: str, renewed: float, transitions: int = 0, duration: int = DURATION, acquired: float = -100.0) -> \
        LeaderElectionRecord:
    """A record as its holder wrote it; the times are the holder's clock, which we never trust."""
    return LeaderElectionRecord(by, duration, _at(acquired), _at(renewed), transitions)


def _attempt(candidate: Any, record: LeaderElectionRecord | None, seconds: float) -> Any:
    got = candidate.attempt(record, _at(seconds))
    if got is not None and not isinstance(got, LeaderElectionRecord):
        raise Mismatch("a LeaderElectionRecord or None", f"{type(got).__name__} {got!r:.80}",
                       "build the record to write with LeaderElectionRecord(...) or dataclasses.replace(...)")
    return got


def _say(record: LeaderElectionRecord | None) -> str:
    if record is None:
        return "None (wait)"
    times = {k: f"t+{(v - T0).total_seconds():g}s" if v else None
             for k, v in (("acquire_time", record.acquire_time), ("renew_time", record.renew_time))}
    return (f"holder={record.holder_identity!r} leaseDurationSeconds={record.lease_duration_seconds} "
            f"transitions={record.leader_transitions} acquire={times['acquire_time']} renew={times['renew_time']}")


def _expect_write(when: str, got: Any, want: LeaderElectionRecord, hint: str) -> None:
    fields = ("holder_identity", "lease_duration_seconds", "leader_transitions", "acquire_time", "renew_time")
    if got is None or any(getattr(got, f) != getattr(want, f) for f in fields):
        raise Mismatch(f"{when}: {_say(want)}", f"{when}: {_say(got)}", hint)


def _expect_wait(when: str, got: Any, hint: str) -> None:
    if got is not None:
        raise Mismatch(f"{when}: None (wait)", f"{when}: {_say(got)}", hint)


@decision.scenario("no Lease yet: create one naming yourself, with your lease duration and 0 transitions")
def _create(answer: Any, run: Run) -> None:
    got = _attempt(answer(ME, DURATION), None, 0)
    _expect_write("attempt(None) at t+0s", got, LeaderElectionRecord(ME, DURATION, _at(0), _at(0), 0),
                  "acquire_time and renew_time are now; leaseDurationSeconds is your lease_duration in whole seconds")


@decision.scenario("a Lease its holder keeps renewing keeps you waiting, however long you watch")
def _renewed(answer: Any, run: Run) -> None:
    candidate = answer(ME, DURATION)
    for t in (0, 4, 8, 12, 16, 20, 24):
        _expect_wait(f"attempt(held by other, renewed at its t+{t}s) at t+{t + 1}s",
                     _attempt(candidate, _held(OTHER, renewed=t), t + 1),
                     "a record that changed restarts the countdown: count from when YOU first saw this state")


@decision.scenario("a Lease that stops changing is taken once unchanged for its lease duration on your clock")
def _expired(answer: Any, run: Run) -> None:
    candidate = answer(ME, DURATION)
    stale = _held(OTHER, renewed=0, transitions=2)
    for t in (0, 5, 9.5):
        _expect_wait(f"attempt(the same record) at t+{t:g}s", _attempt(candidate, stale, t),
                     "first seen at t+0s: valid until t+10s on your clock")
    _expect_write("attempt(the same record) at t+10.5s", _attempt(candidate, stale, 10.5),
                  LeaderElectionRecord(ME, DURATION, _at(10.5), _at(10.5), 3),
                  "take it: holder yourself, one more transition, acquire_time and renew_time now")


@decision.scenario("the countdown starts when you first see a record, never at its renewTime (another clock)")
def _skew(answer: Any, run: Run) -> None:
    candidate = answer(ME, DURATION)
    ancient = _held(OTHER, renewed=-3600)  # the holder's clock is an hour behind ours
    _expect_wait("attempt(a record renewed 'an hour ago' by the holder's clock) at t+0s, first sight",
                 _attempt(candidate, ancient, 0),
                 "never compare renew_time with your clock: you cannot know the holder's clock")
    future = _held(OTHER, renewed=3600)  # an hour ahead
    candidate = answer(ME, DURATION)
    _attempt(candidate, future, 0)
    _expect_write("attempt(a record renewed 'in an hour', unchanged since t+0s) at t+11s",
                  _attempt(candidate, future, 11), LeaderElectionRecord(ME, DURATION, _at(11), _at(11), 1),
                  "unchanged for the lease duration on your clock: take it, whatever its timestamps say")


@decision.scenario("the holder's leaseDurationSeconds, not yours, says how long its Lease is valid")
def _their_duration(answer: Any, run: Run) -> None:
    candidate = answer(ME, DURATION)
    long = _held(OTHER, renewed=0, duration=30)
    _attempt(candidate, long, 0)
    _expect_wait("attempt(a record with leaseDurationSeconds 30, unchanged) at t+20s", _attempt(candidate, long, 20),
                 "client-go's isLeaseValid adds the observed record's LeaseDurationSeconds")
    _expect_write("attempt(the same record) at t+31s", _attempt(candidate, long, 31),
                  LeaderElectionRecord(ME, DURATION, _at(31), _at(31), 1), "30 s unchanged: take it")


@decision.scenario("a released Lease (no holder) is taken at once, counting one more transition")
def _released(answer: Any, run: Run) -> None:
    free = LeaderElectionRecord("", 1, _at(0), _at(0), 4)  # what a release writes
    _expect_write("attempt(holder '', transitions 4) at t+0s, first sight", _attempt(answer(ME, DURATION), free, 0),
                  LeaderElectionRecord(ME, DURATION, _at(0), _at(0), 5),
                  "an empty holder is nobody's: no need to wait")


@decision.scenario("your own Lease is renewed: same acquire time and transitions, a new renew time")
def _renew(answer: Any, run: Run) -> None:
    candidate = answer(ME, DURATION)
    created = _attempt(candidate, None, 0)
    if created is None:
        raise Mismatch("attempt(None) at t+0s to create the Lease", "None (wait)")
    for t in (2, 4, 30):  # t+30s too: a holder renews its own Lease even if it renewed late
        _expect_write(f"attempt(your own record, read back) at t+{t}s", _attempt(candidate, created, t),
                      LeaderElectionRecord(ME, DURATION, _at(0), _at(t), created.leader_transitions),
                      "yours: renew it (renew_time now), keeping acquire_time and leader_transitions")
        created = LeaderElectionRecord(ME, DURATION, _at(0), _at(t), created.leader_transitions)  # now in the Lease
