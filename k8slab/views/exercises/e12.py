"""Notebook 12's checked exercises: finalizers and conditions.

    12.1  write reconcile(foo, foos, registry), the finalizer part of the operator's sync
          (k8slab/samplecontroller/operator.py): claim a new Foo with the finalizer before
          anything exists outside; register a live one; on deletion clean up outside, then
          let go of the finalizer; never touch the cached object
    12.2  predict the `lastTransitionTime` of the Available condition after each of four
          `set_status_condition` calls (apimachinery `pkg/api/meta/conditions.go`)

12.1's scenarios hand the answer a Foo from an in-memory API server
(k8slab.testing: writes are checked against the stored resourceVersion), a
client for Foos that records every call, and an `ExternalRegistry` whose
calls are logged in the same order. 12.2's expected times come from running
k8slab's `set_status_condition` with the four clock readings.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from k8slab.meta import set_status_condition
from k8slab.samplecontroller.crd import new_foo
from k8slab.samplecontroller.fake import FakeClientset
from k8slab.samplecontroller.operator import FINALIZER, ExternalRegistry
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []

NS = "demo"
DELETED_AT = "2030-01-01T12:00:00Z"

finalizer = define("12.1", "a finalizer-aware reconcile: claim, register, clean up, let go",
                   answer="a function reconcile(foo, foos, registry)")


class _Log:
    """One ordered log of what the answer did outside (the registry) and inside (updates)."""

    def __init__(self) -> None:
        self.entries: list[str] = []


class _Registry(ExternalRegistry):
    def __init__(self, log: _Log, fail: bool = False) -> None:
        super().__init__()
        self._log, self._fail = log, fail

    def register(self, key: str, replicas: int) -> None:
        self._log.entries.append(f"register {key} {replicas}")
        super().register(key, replicas)

    def deregister(self, key: str) -> None:
        self._log.entries.append(f"deregister {key}")
        if self._fail:
            raise RuntimeError("the cloud API answered 503")
        super().deregister(key)


class _Foos:
    """The Foos client handed to the answer: a fake clientset's, with its writes in the log."""

    def __init__(self, client: Any, log: _Log) -> None:
        self._client, self._log = client, log

    def update(self, obj: dict[str, Any], **options: Any) -> dict[str, Any]:
        self._log.entries.append(f"update finalizers={list(obj['metadata'].get('finalizers') or [])}")
        return self._client.update(obj, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _setup(run: Run, *, finalizers: list[str], deleted: bool = False, fail: bool = False) -> tuple[
        dict[str, Any], _Foos, _Registry, _Log, FakeClientset]:
    foo = new_foo("web", NS, replicas=2)
    foo["metadata"]["finalizers"] = list(finalizers)
    if deleted:
        foo["metadata"]["deletionTimestamp"] = DELETED_AT
    clientset = FakeClientset(foo)
    client = clientset.samplecontroller_v1alpha1().foos(NS)
    cached = client.get("web")  # as an informer's cache holds it: with its resourceVersion
    clientset.clear_actions()
    log = _Log()
    return cached, _Foos(client, log), _Registry(log, fail), log, clientset


def _call(answer: Any, cached: dict[str, Any], foos: _Foos, registry: _Registry) -> None:
    before = copy.deepcopy(cached)
    answer(cached, foos, registry)
    if cached != before:
        raise Mismatch("the cached Foo left as it was", f"it was changed (finalizers now {cached['metadata'].get('finalizers')})",
                       "objects from an informer's cache are shared: deep_copy(foo), then change the copy")


def _stored_finalizers(clientset: FakeClientset) -> list[str]:
    return list(clientset.samplecontroller_v1alpha1().foos(NS).get("web")["metadata"].get("finalizers") or [])


@finalizer.scenario("a new Foo gets the finalizer first, and nothing is registered outside yet")
def _claim(answer: Any, run: Run) -> None:
    cached, foos, registry, log, clientset = _setup(run, finalizers=[])
    _call(answer, cached, foos, registry)
    expect("what reconcile did, in order", log.entries, [f"update finalizers=['{FINALIZER}']"],
           hint="add the finalizer (on a copy), update, and return: the update's watch event brings the Foo back; "
                "only a Foo that carries the finalizer may have something outside")
    expect("the Foo's finalizers on the server", _stored_finalizers(clientset), [FINALIZER])


@finalizer.scenario("a Foo that carries the finalizer is registered outside (key, replicas), with no write")
def _register(answer: Any, run: Run) -> None:
    cached, foos, registry, log, _ = _setup(run, finalizers=[FINALIZER])
    _call(answer, cached, foos, registry)
    expect("what reconcile did, in order", log.entries, [f"register {NS}/web 2"],
           hint="the finalizer is there already: no update; register(f'{namespace}/{name}', spec.replicas)")


@finalizer.scenario("a deleted Foo is cleaned up outside, then lets go of our finalizer only (others stay)")
def _finalize(answer: Any, run: Run) -> None:
    cached, foos, registry, log, clientset = _setup(run, finalizers=["other.example.com/keep", FINALIZER],
                                                    deleted=True)
    _call(answer, cached, foos, registry)
    expect("what reconcile did, in order", log.entries,
           [f"deregister {NS}/web", "update finalizers=['other.example.com/keep']"],
           hint="deletionTimestamp set: deregister first, then remove our finalizer (and no other) and update; "
                "never register a Foo that is being deleted")


@finalizer.scenario("a deleted Foo without our finalizer is left alone: nothing outside, no write")
def _done_already(answer: Any, run: Run) -> None:
    cached, foos, registry, log, _ = _setup(run, finalizers=["other.example.com/keep"], deleted=True)
    _call(answer, cached, foos, registry)
    expect("what reconcile did, in order", log.entries, [],
           hint="being deleted and not ours any more (we cleaned up already): never register it, and never add a "
                "finalizer to it (the API server refuses: \"no new finalizers can be added if the object is being "
                "deleted\")")


@finalizer.scenario("a clean-up that fails keeps the finalizer, and the error goes up (so the key is retried)")
def _cleanup_fails(answer: Any, run: Run) -> None:
    cached, foos, registry, log, clientset = _setup(run, finalizers=[FINALIZER], deleted=True, fail=True)
    try:
        _call(answer, cached, foos, registry)
    except RuntimeError:
        pass
    else:
        raise Mismatch("the registry's RuntimeError to escape from reconcile", "reconcile returned",
                       "a swallowed error is never retried: let it propagate (process_next_work_item requeues)")
    expect("what reconcile did, in order", log.entries, [f"deregister {NS}/web"],
           hint="remove the finalizer only after the clean-up succeeded, or what is outside is leaked forever")
    expect("the Foo's finalizers on the server", _stored_finalizers(clientset), [FINALIZER])


# -- 12.2 ------------------------------------------------------------------------------------

transitions = define("12.2", "lastTransitionTime of Available after four set_status_condition calls",
                     answer='a list of four times "HH:MM", one after each call', callable_answer=False)

CALLS = [  # (the clock, the condition set)
    ("10:00", "True", "MinimumReplicasAvailable", "2 of 2 replicas available"),
    ("10:05", "True", "MinimumReplicasAvailable", "3 of 3 replicas available"),
    ("10:07", "False", "ReplicasUnavailable", "3 of 5 replicas available"),
    ("10:09", "False", "ReplicasUnavailable", "4 of 5 replicas available"),
]


@transitions.scenario("Available: True at 10:00, True (new message) at 10:05, False at 10:07, False (new message) at 10:09")
def _predict(answer: Any, run: Run) -> None:
    if isinstance(answer, str) or not all(isinstance(x, str) for x in answer):
        raise Mismatch('a list of four "HH:MM" strings, e.g. ["10:00", "10:05", "10:07", "10:09"]', repr(answer))
    conditions: list[dict[str, Any]] = []
    want = []
    for clock, status, reason, message in CALLS:
        hours, minutes = map(int, clock.split(":"))
        now = dt.datetime(2030, 1, 1, hours, minutes, tzinfo=dt.timezone.utc)
        set_status_condition(conditions, {"type": "Available", "status": status, "reason": reason, "message": message},
                             now=now)
        want.append(conditions[0]["lastTransitionTime"][11:16])
    expect("lastTransitionTime after each call", [x.strip() for x in answer], want,
           hint="it moves only when the status flips (or the condition is new); a new message or reason does not move it")
