"""Notebook 13's checked exercises: the RESTMapper, and RBAC from kubebuilder markers.

    13.1  write url_for(mapper, obj): the REST path of an object given as a dict,
          found through a RESTMapper (client-go `restmapper`, apimachinery `meta.RESTMapper`),
          as controller-runtime's client finds it for a Go object
    13.2  write rules_from_markers(source): the (group, resource, verb) triples that
          controller-gen's rbac generator grants for the `+kubebuilder:rbac` markers in a Go file

13.1 runs the answer against a RESTMapper built by k8slab's
`new_discovery_rest_mapper` from a fixed discovery table: the core group,
apps, autoscaling in two versions, a custom resource whose plural no rule of
English guesses. 13.2 runs it on made-up marker lines and on the markers of
k8slab's own controller-runtime reconciler, whose expected rules are the ones
k8slab grants it by hand (k8slab/operators/rbac.py): the markers and the
hand-written role must agree.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from k8slab.chain.dynamic import new_discovery_rest_mapper
from k8slab.operators import rbac
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []


def _resource(plural: str, kind: str, scope: str = "Namespaced", singular: str = "") -> dict[str, Any]:
    return {"resource": plural, "responseKind": {"kind": kind}, "scope": scope,
            "singularResource": singular or kind.lower()}


# Aggregated discovery's shape (APIGroupDiscoveryList items), the preferred version first.
DISCOVERY = [
    {"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
        _resource("pods", "Pod"), _resource("nodes", "Node", "Cluster"), _resource("endpoints", "Endpoints"),
        _resource("namespaces", "Namespace", "Cluster")]}]},
    {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [_resource("deployments", "Deployment")]}]},
    {"metadata": {"name": "autoscaling"}, "versions": [
        {"version": "v2", "resources": [_resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")]},
        {"version": "v1", "resources": [_resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")]}]},
    {"metadata": {"name": "zoo.example.com"}, "versions": [{"version": "v1", "resources": [
        _resource("octopi", "Octopus", singular="octopus")]}]},
    {"metadata": {"name": "samplecontroller.k8s.io"}, "versions": [{"version": "v1alpha1", "resources": [
        _resource("foos", "Foo")]}]},
]


def _obj(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def _ask(answer: Any, obj: dict[str, Any]) -> Any:
    mapper = new_discovery_rest_mapper(DISCOVERY)
    got = answer(mapper, obj)
    if not isinstance(got, str):
        raise Mismatch("a string, the path", f"{type(got).__name__} {got!r:.60}")
    return got


url = define("13.1", "the REST path of an object, found through a RESTMapper",
             answer="a function url_for(mapper, obj) -> str")


def _path_scenario(name: str, obj: dict[str, Any], expected: str, hint: str) -> None:
    @url.scenario(name)
    def _(answer: Any, run: Run) -> None:
        expect(f"url_for(mapper, {obj['kind']} {obj['metadata']['name']!r})", _ask(answer, obj), expected, hint=hint)


_path_scenario("a Pod: the core group lives under /api/v1, and a Pod in its namespace",
               _obj("v1", "Pod", "web", "shop"), "/api/v1/namespaces/shop/pods/web",
               "the core group (apiVersion 'v1', no group) is served under /api/<version>, every other "
               "group under /apis/<group>/<version>")
_path_scenario("a Deployment: /apis/<group>/<version>/namespaces/<ns>/<resource>/<name>",
               _obj("apps/v1", "Deployment", "web", "shop"), "/apis/apps/v1/namespaces/shop/deployments/web",
               "split apiVersion into group and version (k8slab.meta.parse_group_version)")
_path_scenario("a Node is cluster-scoped: no namespace in its path", _obj("v1", "Node", "node-1"),
               "/api/v1/nodes/node-1", "the mapping's scope says whether the kind lives in a namespace "
               "(SCOPE_NAMESPACE) or not (SCOPE_ROOT)")
_path_scenario("an Octopus is served as octopi: ask the mapper, do not guess",
               _obj("zoo.example.com/v1", "Octopus", "inky", "sea"), "/apis/zoo.example.com/v1/namespaces/sea/octopi/inky",
               "the plural is whatever the CRD says (spec.names.plural); guessing from the kind "
               "(unsafe_guess_kind_to_resource) says octopuses; mapper.rest_mapping(group, kind, version) knows")
_path_scenario("a v1 HorizontalPodAutoscaler keeps its own version, though v2 is preferred",
               _obj("autoscaling/v1", "HorizontalPodAutoscaler", "web", "shop"),
               "/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers/web",
               "pass the object's version to rest_mapping: without one it answers with the preferred version")
_path_scenario("a Foo, a custom resource, is found like any other kind",
               _obj("samplecontroller.k8s.io/v1alpha1", "Foo", "example-foo", "default"),
               "/apis/samplecontroller.k8s.io/v1alpha1/namespaces/default/foos/example-foo", "")


rules = define("13.2", "RBAC rules from +kubebuilder:rbac markers, as controller-gen's rbac generator reads them",
               answer="a function rules_from_markers(source: str) -> set of (group, resource, verb)")


def _triples(answer: Any, source: str) -> set[tuple[str, str, str]]:
    got = answer(source)
    try:
        triples = {tuple(t) for t in got}
    except TypeError:
        raise Mismatch("a set of (group, resource, verb) tuples", f"{type(got).__name__} {got!r:.60}") from None
    if not all(len(t) == 3 and all(isinstance(x, str) for x in t) for t in triples):
        raise Mismatch("a set of (group, resource, verb) tuples of strings", f"{sorted(triples)[:3]!r:.80}")
    return triples  # type: ignore[return-value]


def _granted(rules_list: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules_list for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def _show(triples: set[tuple[str, str, str]]) -> str:
    return "{" + ", ".join(f"{g or '(core)'} {r} {v}" for g, r, v in sorted(triples)) + "}"


@rules.scenario("one marker: each verb of the ;-separated list")
def _one(answer: Any, run: Run) -> None:
    got = _triples(answer, "// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch\n")
    want = {("apps", "deployments", v) for v in ("get", "list", "watch")}
    if got != want:
        raise Mismatch(_show(want), _show(got), "fields are separated by ',' and the values of one field by ';'")


@rules.scenario("groups and resources lists multiply: every group with every resource and verb")
def _product(answer: Any, run: Run) -> None:
    got = _triples(answer, "//+kubebuilder:rbac:groups=apps;batch,resources=deployments;jobs,verbs=get\n")
    want = {(g, r, "get") for g in ("apps", "batch") for r in ("deployments", "jobs")}
    if got != want:
        raise Mismatch(_show(want), _show(got), "a marker may start '//+' or '// +'")


@rules.scenario("the core group: groups=core and groups=\"\" both mean the group named \"\"")
def _core(answer: Any, run: Run) -> None:
    src = '// +kubebuilder:rbac:groups=core,resources=events,verbs=create\n// +kubebuilder:rbac:groups="",resources=pods,verbs=get\n'
    got = _triples(answer, src)
    want = {("", "events", "create"), ("", "pods", "get")}
    if got != want:
        raise Mismatch(_show(want), _show(got), "controller-gen writes 'core' as \"\" (the core group has no "
                       "name), and a quoted \"\" is the empty string, not two quote marks")


@rules.scenario("other markers and ordinary comments grant nothing")
def _others(answer: Any, run: Run) -> None:
    src = ("// +kubebuilder:object:root=true\n// +kubebuilder:subresource:status\n"
           "// kubebuilder:rbac:groups=apps,resources=deployments,verbs=delete  (no +: not a marker)\n"
           "x := \"+kubebuilder:rbac:groups=apps,resources=pods,verbs=delete\"\n")
    got = _triples(answer, src)
    if got:
        raise Mismatch("{} (no rules)", _show(got), "only comment lines starting with +kubebuilder:rbac: are RBAC markers")


@rules.scenario("k8slab's controller-runtime reconciler: its markers grant what k8slab grants it by hand")
def _crfoo(answer: Any, run: Run) -> None:
    source = (resources.files("k8slab.operators") / "assets" / "crfoo" / "main.go").read_text()
    want = _granted(rbac.cluster_role("controller-runtime", operator=True)["rules"])
    got = _triples(answer, source)
    if got != want:
        missing, extra = want - got, got - want
        raise Mismatch(_show(want), f"missing {_show(missing)}, extra {_show(extra)}",
                       "read every marker line of k8slab/operators/assets/crfoo/main.go")
