"""Notebook 14's checked exercises: a finalizer step, and a status a reader can trust.

    14.1  write finalize(foo, registry): the finalizer part of an operator's sync (what
          k8slab's OperatorController.sync_handler, the controller-runtime reconciler's
          guardDeletion and kopf's on.delete do): claim first, clean up before letting go
    14.2  write status_is_current(foo): whether a Foo's status describes its latest spec
          (observedGeneration, and its Available condition's observedGeneration)

Both are pure: 14.1 runs the answer on Foo dicts against an `ExternalRegistry`
(k8slab/samplecontroller/operator.py) and checks what it returns (the Foo to
write back, or None), what the registry holds, and that the Foo it was given
(an object from the cache) is left as it was.
"""

from __future__ import annotations

import copy
from typing import Any

from k8slab.samplecontroller.operator import FINALIZER, ExternalRegistry
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []

KEY = "shop/web"


def _foo(finalizers: list[str] | None = None, deleting: bool = False, replicas: int = 2) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "shop", "uid": "u-1", "generation": 1, "resourceVersion": "7"}
    if finalizers is not None:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "samplecontroller.k8s.io/v1alpha1", "kind": "Foo", "metadata": meta,
            "spec": {"deploymentName": "web", "replicas": replicas}}


def _call(answer: Any, foo: dict[str, Any], registry: Any) -> Any:
    cached = copy.deepcopy(foo)
    got = answer(foo, registry)
    expect("the Foo it was given (an object from the cache)", foo, cached,
           hint="never change an object from the cache: deep-copy it (k8slab.cache.deep_copy), change the copy, "
                "return the copy")
    if got is not None and not (isinstance(got, dict) and "metadata" in got):
        raise Mismatch("a Foo dict to write back, or None", f"{type(got).__name__} {got!r:.60}")
    return got


def _finalizers(foo: Any) -> Any:
    return None if foo is None else foo["metadata"].get("finalizers")


step = define("14.1", "a finalizer step: claim a new Foo, register a claimed one, clean up a deleted one, then let go",
              answer="a function finalize(foo, registry) -> the Foo to write back, or None")


@step.scenario("a Foo seen for the first time gets the finalizer first, and nothing outside yet")
def _claim(answer: Any, run: Run) -> None:
    registry = ExternalRegistry()
    got = _call(answer, _foo(), registry)
    expect("the finalizers of the Foo to write back", _finalizers(got), [FINALIZER],
           hint=f"add {FINALIZER!r} (k8slab.meta.add_finalizer) and return the Foo, so the caller updates it")
    expect("the registry's records", registry.keys(), [],
           hint="claim before you create anything outside: a Foo deleted before its finalizer is on would "
                "leave a record behind that nothing cleans up")


@step.scenario("a claimed Foo is registered, and there is nothing to write back")
def _register(answer: Any, run: Run) -> None:
    registry = ExternalRegistry()
    got = _call(answer, _foo([FINALIZER], replicas=3), registry)
    expect("what finalize returns", got, None, hint="the finalizer is there already: no update needed")
    expect("the registry's records", registry.keys(), [KEY], hint="registry.register('shop/web', replicas)")


@step.scenario("a deleted Foo: its record goes, then only our finalizer is removed")
def _let_go(answer: Any, run: Run) -> None:
    registry = ExternalRegistry()
    registry.register(KEY, 2)
    got = _call(answer, _foo(["foregroundDeletion", FINALIZER], deleting=True), registry)
    expect("the registry's records", registry.keys(), [], hint="deletionTimestamp set: deregister the Foo's key")
    expect("the finalizers of the Foo to write back", _finalizers(got), ["foregroundDeletion"],
           hint="remove ours only (k8slab.meta.remove_finalizer): the others belong to someone else, "
                "here the garbage collector's foreground deletion")


@step.scenario("a deleted Foo that is no longer ours is left alone, and not registered again")
def _not_ours(answer: Any, run: Run) -> None:
    registry = ExternalRegistry()
    got = _call(answer, _foo(["foregroundDeletion"], deleting=True), registry)
    expect("what finalize returns", got, None, hint="without our finalizer there is nothing for us to let go")
    expect("the registry's records", registry.keys(), [],
           hint="a Foo being deleted is never registered (nor claimed) again")


class _Down(ExternalRegistry):
    def deregister(self, key: str) -> None:
        raise ConnectionError("the cloud API is down")


@step.scenario("when the cleanup fails, the error comes out and the finalizer stays")
def _cleanup_fails(answer: Any, run: Run) -> None:
    registry = _Down()
    registry.register(KEY, 2)
    try:
        got = _call(answer, _foo([FINALIZER], deleting=True), registry)
    except ConnectionError:
        return  # raised: the sync fails, the key is retried with backoff, the Foo keeps waiting
    raise Mismatch("ConnectionError raised (the sync fails and is retried)",
                   f"it returned {'a Foo with finalizers ' + repr(_finalizers(got)) if got else repr(got)}",
                   "let the error out: a finalizer removed after a failed cleanup leaks the record for good")


current = define("14.2", "whether a Foo's status describes its latest spec",
                 answer="a function status_is_current(foo) -> bool")


def _with_status(generation: int, observed: int | None, condition_observed: int | None = None,
                 resource_version: str = "7") -> dict[str, Any]:
    foo = _foo([FINALIZER])
    foo["metadata"]["generation"] = generation
    foo["metadata"]["resourceVersion"] = resource_version
    status: dict[str, Any] = {"availableReplicas": 2}
    if observed is not None:
        status["observedGeneration"] = observed
    if condition_observed is not None:
        status["conditions"] = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                 "message": "2 of 2 replicas available", "lastTransitionTime": "2026-01-01T00:00:00Z",
                                 "observedGeneration": condition_observed}]
    foo["status"] = status
    return foo


def _judge(name: str, foo: dict[str, Any], expected: bool, hint: str) -> None:
    @current.scenario(name)
    def _(answer: Any, run: Run) -> None:
        got = answer(copy.deepcopy(foo))
        if not isinstance(got, bool):
            raise Mismatch("True or False", f"{type(got).__name__} {got!r:.40}")
        m = foo["metadata"]
        st = foo.get("status") or {}
        what = (f"status_is_current(generation {m['generation']}, observedGeneration "
                f"{st.get('observedGeneration', '(none)')}, Available condition's "
                f"{(st.get('conditions') or [{}])[0].get('observedGeneration', '(none)')})")
        expect(what, got, expected, hint=hint)


_judge("the status and its condition were written for this generation", _with_status(3, 3, 3), True,
       "observedGeneration == metadata.generation, and so is the Available condition's")
_judge("the spec changed since (generation 4, status of 3)", _with_status(4, 3, 3), False,
       "every spec change bumps metadata.generation; until the controller has acted on it, "
       "observedGeneration lags")
_judge("a label or status change bumps no generation: still current", _with_status(3, 3, 3, resource_version="99"),
       True, "resourceVersion changes on every write, labels and status included: it says nothing about the spec")
_judge("sample-controller's status (availableReplicas only): no way to tell, so not current",
       _with_status(1, None), False,
       "without observedGeneration a reader cannot know which spec the status describes: treat it as stale")
_judge("the status is current but its Available condition predates the spec change", _with_status(4, 4, 3), False,
       "a condition carries its own observedGeneration: a condition set for generation 3 says nothing about 4")
