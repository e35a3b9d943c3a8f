"""The Foo story: one script every Foo controller is put through, and what it should end in.

    for step in STEPS:
        step.act(admin, namespace)                    # change the world
        wait_for(step.name, lambda: step.expected(...) == snapshot(admin, namespace))

The reference is the Go sample-controller (controller.go at v0.37.1):

    create      Foo "story" (1 replica): Deployment story-deployment, controlled by it; status 1
    scale       spec.replicas 3: the Deployment follows; status 3
    delete      the Deployment behind the Foo's back: made again (a new uid)
    foreign     a Deployment "taken" that nobody controls, then Foo "squatter" naming it: refused
                with a Warning ErrResourceExists, "taken" left alone, squatter's status unwritten
    freed       "taken" deleted: the retry (with backoff) makes squatter's own
    rename      story's deploymentName -> story-renamed: a new Deployment; the old one is left
                as it was, still controlled by the Foo (syncHandler only looks up the name in
                the spec; nothing deletes what it named before)
    delete-foo  both Foos deleted: the garbage collector deletes every Deployment they controlled

`snapshot` reduces the namespace to what the controllers decide: each
Deployment's replicas, selector, Pod template and controller reference, and
each Foo's status; the Events are summarised apart (`events`), since each
framework writes its own.

Kept: every branch of syncHandler is visited (create, update replicas,
recreate, refuse, retry, a second Deployment). Left out: a Foo without
deploymentName (absorbed: nothing to see) and schema violations (the API
server refuses them before any controller sees them).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from k8slab import errors
from k8slab.meta import get_controller_of
from k8slab.samplecontroller import new_deployment, new_foo

__all__ = ["STEPS", "Step", "deployment_view", "events", "reached", "snapshot", "uids"]


def deployment_view(d: dict[str, Any]) -> dict[str, Any]:
    """What a controller decided about a Deployment (the rest is the API server's defaults)."""
    ref = get_controller_of(d)
    pod = d["spec"]["template"]
    return {
        "replicas": d["spec"].get("replicas"),
        "selector": d["spec"]["selector"].get("matchLabels"),
        "labels": (pod.get("metadata") or {}).get("labels"),
        "containers": [(c["name"], c["image"]) for c in pod["spec"]["containers"]],
        "controller": None if ref is None else {k: ref.get(k) for k in
                                                ("apiVersion", "kind", "name", "controller", "blockOwnerDeletion")},
    }


def snapshot(admin: Any, namespace: str) -> dict[str, Any]:
    """{"deployments": {name: view}, "foos": {name: status}}, with controller references checked by uid."""
    foos = admin.samplecontroller_v1alpha1().foos(namespace).list()["items"]
    uids = {f["metadata"]["uid"]: f["metadata"]["name"] for f in foos}
    deployments = {}
    for d in admin.apps_v1().deployments(namespace).list()["items"]:
        view = deployment_view(d)
        ref = get_controller_of(d)
        if ref is not None and uids.get(ref["uid"]) != ref["name"]:
            view["controller"]["name"] += " (uid of no Foo here)"
        deployments[d["metadata"]["name"]] = view
    return {"deployments": deployments,
            "foos": {f["metadata"]["name"]: f.get("status") or {} for f in foos}}


def _owned(foo: str, replicas: int, deployment_name: str) -> dict[str, Any]:
    return deployment_view(new_deployment({**new_foo(foo, "x", replicas=replicas, deployment_name=deployment_name),
                                           "metadata": {"name": foo, "namespace": "x", "uid": "u"}}))


FOREIGN = "taken"


def _foreign() -> dict[str, Any]:
    labels = {"app": "foreign"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": FOREIGN},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}}}


@dataclasses.dataclass(frozen=True)
class Step:
    """One act of the story; done when the snapshot is `expected` and `event` (object, type, reason)
    has been written, and, after a deletion, the Deployment `remade` has a new uid."""

    name: str
    act: Callable[[Any, str], None]
    expected: dict[str, Any]
    event: tuple[str, str, str] | None = None
    remade: str = ""


def _create(admin: Any, ns: str) -> None:
    admin.samplecontroller_v1alpha1().foos(ns).create(new_foo("story", ns, replicas=1))


def _scale(admin: Any, ns: str) -> None:
    admin.samplecontroller_v1alpha1().foos(ns).patch("story", {"spec": {"replicas": 3}})


def _delete_deployment(admin: Any, ns: str) -> None:
    admin.apps_v1().deployments(ns).delete("story-deployment")


def _foreign_then_squatter(admin: Any, ns: str) -> None:
    admin.apps_v1().deployments(ns).create(_foreign())
    admin.samplecontroller_v1alpha1().foos(ns).create(new_foo("squatter", ns, replicas=1, deployment_name=FOREIGN))


def _free(admin: Any, ns: str) -> None:
    admin.apps_v1().deployments(ns).delete(FOREIGN)


def _rename(admin: Any, ns: str) -> None:
    admin.samplecontroller_v1alpha1().foos(ns).patch("story", {"spec": {"deploymentName": "story-renamed"}})


def _delete_foos(admin: Any, ns: str) -> None:
    for name in ("story", "squatter"):
        try:
            admin.samplecontroller_v1alpha1().foos(ns).delete(name)
        except errors.NotFound:
            pass


_FOREIGN_VIEW = {"replicas": 1, "selector": {"app": "foreign"}, "labels": {"app": "foreign"},
                 "containers": [("web", "nginx:latest")], "controller": None}

STEPS = [
    Step("create", _create, {"deployments": {"story-deployment": _owned("story", 1, "story-deployment")},
                             "foos": {"story": {"availableReplicas": 1}}}),
    Step("scale", _scale, {"deployments": {"story-deployment": _owned("story", 3, "story-deployment")},
                           "foos": {"story": {"availableReplicas": 3}}}),
    Step("delete the Deployment", _delete_deployment,
         {"deployments": {"story-deployment": _owned("story", 3, "story-deployment")},
          "foos": {"story": {"availableReplicas": 3}}}, remade="story-deployment"),
    Step("a foreign Deployment", _foreign_then_squatter,
         {"deployments": {"story-deployment": _owned("story", 3, "story-deployment"), FOREIGN: _FOREIGN_VIEW},
          "foos": {"story": {"availableReplicas": 3}, "squatter": {}}},
         event=("squatter", "Warning", "ErrResourceExists")),
    Step("the foreign one deleted", _free,
         {"deployments": {"story-deployment": _owned("story", 3, "story-deployment"),
                          FOREIGN: _owned("squatter", 1, FOREIGN)},
          "foos": {"story": {"availableReplicas": 3}, "squatter": {"availableReplicas": 1}}}),
    Step("rename", _rename,
         {"deployments": {"story-deployment": _owned("story", 3, "story-deployment"),
                          "story-renamed": _owned("story", 3, "story-renamed"),
                          FOREIGN: _owned("squatter", 1, FOREIGN)},
          "foos": {"story": {"availableReplicas": 3}, "squatter": {"availableReplicas": 1}}}),
    Step("delete the Foos", _delete_foos, {"deployments": {}, "foos": {}}),
]


def events(admin: Any, namespace: str) -> list[dict[str, Any]]:
    """Every Event in the namespace, one row each: object, type, reason, who wrote it, how many times."""
    rows = []
    for e in admin.core_v1().events(namespace).list()["items"]:
        obj = e.get("involvedObject") or {}
        series = (e.get("series") or {}).get("count")
        rows.append({"kind": obj.get("kind"), "object": obj.get("name"), "type": e.get("type"),
                     "reason": e.get("reason"), "message": e.get("message"),
                     "by": e.get("reportingComponent") or (e.get("source") or {}).get("component") or "",
                     "count": series or e.get("count") or 1})
    return rows


def uids(admin: Any, namespace: str) -> dict[str, str]:
    """Deployment name -> uid, to tell a Deployment made again from the one deleted."""
    return {d["metadata"]["name"]: d["metadata"]["uid"] for d in admin.apps_v1().deployments(namespace).list()["items"]}


def reached(admin: Any, namespace: str, step: Step, uids_before: dict[str, str]) -> tuple[bool, dict[str, Any]]:
    """Whether `step` is done (see Step), and the snapshot it was judged on."""
    now = snapshot(admin, namespace)
    if now != step.expected:
        return False, now
    if step.remade and uids(admin, namespace).get(step.remade) in (None, uids_before.get(step.remade)):
        return False, now
    if step.event is not None:
        obj, type_, reason = step.event
        if not any((e["object"], e["type"], e["reason"]) == (obj, type_, reason) for e in events(admin, namespace)):
            return False, now
    return True, now
