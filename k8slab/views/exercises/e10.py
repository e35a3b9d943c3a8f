"""Notebook 10's checked exercises: sample-controller (k8s.io/sample-controller `controller.go`).

    10.1  predict: with `update` on `foos/status` taken from the controller's ClusterRole,
          which line of `sync_handler` fails (its text, or its line number in controller.py)
    10.2  write handle_object(obj, foos_lister, enqueue): the Foo that controls a Deployment
          (or the last state a tombstone carries) is enqueued; nothing else is
    10.3  predict the API calls one `sync_handler` makes for a Foo whose Deployment is cached
          with fewer replicas than the Foo asks for

The scenarios run k8slab's own controller (10.1, 10.3) against fake clientsets
that record every call (k8slab.testing), with informers whose caches are filled
by hand, as sample-controller's `controller_test.go` does; expected answers are
read from what that controller does, so they follow its code.
"""

from __future__ import annotations

import inspect
import sys
import traceback
from typing import Any

from k8slab import errors
from k8slab.cache import DeletedFinalStateUnknown, Lister, SharedIndexInformer, new_indexer
from k8slab.cache.testing import FakeSource
from k8slab.meta import new_controller_ref
from k8slab.record import FakeRecorder
from k8slab.samplecontroller.controller import Controller, new_controller, new_deployment
from k8slab.samplecontroller.crd import API_VERSION, KIND, new_foo
from k8slab.samplecontroller.fake import Action, FakeClientset
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []

NS = "demo"


def _foo(name: str, replicas: int = 1, deployment_name: str | None = None) -> dict[str, Any]:
    foo = new_foo(name, NS, replicas=replicas, deployment_name=deployment_name)
    foo["metadata"].update(uid=f"uid-{name}", resourceVersion="1")
    return foo


def _fake_controller(run: Run, foo: dict[str, Any], deployment: dict[str, Any] | None = None) -> tuple[
        Controller, FakeClientset, FakeClientset]:
    """A controller whose caches hold `foo` (and `deployment`), over fake clientsets, as the Go tests build it."""
    objects = [deployment] if deployment else []
    kubeclient, sampleclient = FakeClientset(*objects), FakeClientset(foo)
    foo_informer = SharedIndexInformer(FakeSource(KIND, API_VERSION, resource="foos"), "foos")
    deployment_informer = SharedIndexInformer(FakeSource("Deployment", "apps/v1", resource="deployments"), "deployments")
    controller = new_controller(kubeclient, sampleclient, deployment_informer, foo_informer, recorder=FakeRecorder())
    run.defer(controller.workqueue.shut_down)
    foo_informer.get_indexer().add(foo)
    if deployment is not None:
        deployment_informer.get_indexer().add(deployment)
    return controller, kubeclient, sampleclient


def _calls(*clients: FakeClientset) -> list[str]:
    return [f"{a.verb} {a.resource}{'/' + a.subresource if a.subresource else ''}" for c in clients for a in c.actions]


def _forbidden_status_updates(action: Action) -> tuple[bool, Any]:
    if action.resource == "foos" and action.subresource == "status":
        message = (f'foos.samplecontroller.k8s.io "{action.obj["metadata"]["name"]}" is forbidden: User '
                   '"sample-controller" cannot update resource "foos/status" in API group "samplecontroller.k8s.io"')
        raise errors.APIError.from_status(403, errors.new_status(403, "Forbidden", message))
    return False, None


# -- 10.1 ------------------------------------------------------------------------------------

failing_line = define(
    "10.1", "the line of sync_handler that fails once the controller may not update foos/status",
    answer="the line's text as show_source shows it (a string), or its line number in controller.py (an int)",
    callable_answer=False)


def _normal(text: str) -> str:
    return " ".join(text.split())


def _sync_lines() -> tuple[int, list[str]]:
    lines, first = inspect.getsourcelines(Controller.sync_handler)
    return first, lines


@failing_line.scenario("sync_handler for a new Foo, with update on foos/status forbidden (403)")
def _which_line(answer: Any, run: Run) -> None:
    foo = _foo("web")
    controller, kubeclient, sampleclient = _fake_controller(run, foo)
    sampleclient.prepend_reactor("update", "foos", _forbidden_status_updates)
    try:
        controller.sync_handler(f"{NS}/web")
    except errors.Forbidden:
        frames = traceback.extract_tb(sys.exc_info()[2])
    else:
        raise Mismatch("sync_handler to raise Forbidden", "it returned: the check's own setup is broken")
    ours = [f for f in frames if f.filename == inspect.getsourcefile(Controller)]
    sync = [f for f in ours if f.name == "sync_handler"][-1]
    accepted = {sync.lineno: _normal(sync.line or "")}
    inner = [f for f in ours if f.name == "update_foo_status"]
    if inner:  # the call inside update_foo_status is a right answer too
        accepted[inner[-1].lineno] = _normal(inner[-1].line or "")
    calls = ", ".join(f"{c} (403)" if c == "update foos/status" else c for c in _calls(kubeclient, sampleclient))
    expected = "the line of sync_handler that leads to the refused call"
    hint = (f"the calls that sync made, in order: {calls}; find the line of sync_handler (show_source shows it) "
            "that leads to the refused one")
    if isinstance(answer, bool) or not isinstance(answer, (int, str)):
        raise Mismatch("a line's text (str) or its number in controller.py (int)", f"{type(answer).__name__} {answer!r}")
    first, lines = _sync_lines()
    if isinstance(answer, int):
        if answer not in accepted:
            said = _normal(lines[answer - first]) if 0 <= answer - first < len(lines) else "not a line of sync_handler"
            raise Mismatch(expected, f"line {answer} ({said})", hint)
        return
    given = _normal(answer)
    matching = [_normal(line) for line in lines if given and given in _normal(line)]
    if given in accepted.values() or (len(given) >= 8 and len(matching) == 1 and matching[0] in accepted.values()):
        return
    if len(matching) > 1:
        raise Mismatch(expected, f"{answer!r}, which is part of {len(matching)} lines", "quote more of the line")
    raise Mismatch(expected, f"{answer!r}", hint)


# -- 10.2 ------------------------------------------------------------------------------------

handler = define("10.2", "handle_object: enqueue the Foo that controls a Deployment, tombstones included",
                 answer="a function handle_object(obj, foos_lister, enqueue)")


def _deployment(name: str, owner: dict[str, Any] | None, controller: bool = True, kind: str = KIND) -> dict[str, Any]:
    d = new_deployment(_foo("x", deployment_name=name))
    d["metadata"]["ownerReferences"] = []
    if owner is not None:
        ref = new_controller_ref(owner, API_VERSION if kind == KIND else "apps/v1", kind)
        ref["controller"] = controller
        d["metadata"]["ownerReferences"] = [ref]
    return d


def _lister(*foos: dict[str, Any]) -> Lister:
    indexer = new_indexer()
    for foo in foos:
        indexer.add(foo)
    return Lister(indexer, "foos.samplecontroller.k8s.io")


def _enqueued(answer: Any, obj: Any, lister: Lister) -> list[str]:
    got: list[Any] = []
    answer(obj, lister, got.append)
    # enqueue(the Foo), as handleObject calls enqueueFoo(foo); a key string is taken too
    return [f if isinstance(f, str) else f"{f['metadata']['namespace']}/{f['metadata']['name']}"
            if isinstance(f, dict) else repr(f) for f in got]


@handler.scenario("a Deployment controlled by a cached Foo enqueues that Foo")
def _owned(answer: Any, run: Run) -> None:
    web = _foo("web")
    got = _enqueued(answer, _deployment("web-deployment", web), _lister(web, _foo("other")))
    expect("the Foos enqueued for web-deployment", got, [f"{NS}/web"],
           hint="get_controller_of(obj) names the owner; read it from the lister, then enqueue(the Foo)")


@handler.scenario("a tombstone of such a Deployment (a delete only a relist saw) enqueues its Foo too")
def _tombstone(answer: Any, run: Run) -> None:
    web = _foo("web")
    tombstone = DeletedFinalStateUnknown(f"{NS}/web-deployment", _deployment("web-deployment", web))
    try:
        got = _enqueued(answer, tombstone, _lister(web))
    except Exception as exc:
        raise Mismatch(f"the Foos enqueued = ['{NS}/web']", f"{type(exc).__name__}: {exc}",
                       "a DeletedFinalStateUnknown is not a dict: take its .obj, the last state the cache knew") from None
    expect("the Foos enqueued for a tombstone of web-deployment", got, [f"{NS}/web"],
           hint="unwrap the tombstone (.obj), then do as for a Deployment")


@handler.scenario("a Deployment no Foo controls is ignored: no owner, another kind, an owner that is not the controller")
def _not_ours(answer: Any, run: Run) -> None:
    web = _foo("web")
    cases = {
        "no ownerReferences": _deployment("plain", None),
        "controlled by a ReplicaSet named web": _deployment("by-rs", web, kind="ReplicaSet"),
        "owned by Foo web with controller: false": _deployment("weak", web, controller=False),
    }
    for what, d in cases.items():
        expect(f"the Foos enqueued for a Deployment with {what}", _enqueued(answer, d, _lister(web)), [],
               hint="only the ownerReference with controller: true counts, and only if its kind is Foo")


@handler.scenario("a Deployment whose Foo is no longer cached (an orphan) is ignored, without an error")
def _orphan(answer: Any, run: Run) -> None:
    gone = _foo("gone")
    try:
        got = _enqueued(answer, _deployment("gone-deployment", gone), _lister(_foo("web")))
    except errors.NotFound:
        raise Mismatch("nothing enqueued and no exception", "errors.NotFound escaped from handle_object",
                       "a handler must never raise: catch the lister's NotFound and return") from None
    expect("the Foos enqueued for an orphaned Deployment", got, [])


@handler.scenario("something that is neither an object nor a tombstone is ignored, without an error")
def _garbage(answer: Any, run: Run) -> None:
    for thing in ("web-deployment", None, DeletedFinalStateUnknown(f"{NS}/x", "not an object")):
        try:
            got = _enqueued(answer, thing, _lister(_foo("web")))
        except Exception as exc:
            raise Mismatch(f"handle_object({thing!r}) to enqueue nothing", f"{type(exc).__name__}: {exc}",
                           "check the type first (a dict with metadata), as handleObject's type assertions do") from None
        expect(f"the Foos enqueued for {thing!r}", got, [])


# -- 10.3 ------------------------------------------------------------------------------------

calls = define("10.3", "the API calls of one sync of a Foo (replicas 3) whose Deployment is cached with 1",
               answer='a list of "verb resource" strings in order, e.g. ["create deployments"]',
               callable_answer=False)


@calls.scenario("one sync_handler call: the Deployment exists, is controlled by the Foo, has 1 replica of 3")
def _scale(answer: Any, run: Run) -> None:
    if isinstance(answer, str) or not all(isinstance(x, str) for x in answer):
        raise Mismatch('a list of "verb resource" strings, e.g. ["create deployments", "update foos/status"]',
                       repr(answer))
    foo = _foo("web", replicas=3)
    cached = new_deployment({**foo, "spec": {**foo["spec"], "replicas": 1}})
    cached["metadata"]["resourceVersion"] = "1"
    controller, kubeclient, sampleclient = _fake_controller(run, foo, cached)
    controller.sync_handler(f"{NS}/web")
    want = _calls(kubeclient, sampleclient)
    got = [" ".join(x.split()) for x in answer]
    hint = ""
    if any(x.startswith(("get ", "list ")) for x in got):
        hint = "sync_handler reads the Foo and the Deployment from the listers (the informers' caches): no GET, no LIST"
    elif "update deployments" not in got:
        hint = "1 replica cached, 3 wanted: the Deployment is updated"
    elif "update foos/status" not in got:
        hint = "every successful sync ends by writing the Foo's status (update_foo_status)"
    expect("the calls, in order", got, want, hint=hint)
