"""Notebook 08's checked exercise: an index function (client-go `tools/cache/index.go`, `thread_safe_store.go`).

    08.1  write by_image(pod) -> list[str]: every image the Pod runs, init containers
          included, each once; checked on Pods and as an index of a real Indexer
          (which Pods share an image, and what an update moves)

An index function maps an object to a list of values (client-go's `IndexFunc`
returns `[]string`); the Indexer files the object's key under each value, and
moves it on every write (`storeIndex.updateSingleIndex`).
"""

from __future__ import annotations

from typing import Any

from k8slab.cache import deletion_handling_meta_namespace_key_func, new_indexer
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []


def _pod(name: str, *images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": f"init{i}", "image": image} for i, image in enumerate(init)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def _values(answer: Any, pod: dict[str, Any], what: str) -> list[str]:
    got = answer(pod)
    if isinstance(got, str) or not isinstance(got, (list, tuple)) or not all(isinstance(v, str) for v in got):
        raise Mismatch(f"by_image({what}) to be a list of strings", repr(got),
                       "an index function returns a list of values; a bare string would be read as its characters")
    return list(got)


by_image = define("08.1", "an index function: every image a Pod runs, init containers included, each once",
                  answer="a function by_image(pod) -> list of image names")


@by_image.scenario("a Pod with one container is indexed under its image")
def _one(answer: Any, run: Run) -> None:
    expect("by_image(a Pod running nginx:1.27)", _values(answer, _pod("web-0", "nginx:1.27"), "a Pod running nginx"),
           ["nginx:1.27"])


@by_image.scenario("init containers' images are images the Pod runs too")
def _init(answer: Any, run: Run) -> None:
    pod = _pod("web-1", "nginx:1.27", init=("busybox:1.37",))
    expect("sorted(by_image(a Pod with init container busybox:1.37 and container nginx:1.27))",
           sorted(_values(answer, pod, "a Pod with an init container")), ["busybox:1.37", "nginx:1.27"],
           hint="read spec.initContainers as well as spec.containers (either may be missing)")


@by_image.scenario("an image two containers of one Pod share is one value, and a Pod without containers has none")
def _once(answer: Any, run: Run) -> None:
    pod = _pod("sidecars", "envoy:1.33", "envoy:1.33", "app:2")
    got = _values(answer, pod, "a Pod whose two containers run envoy:1.33")
    expect("by_image(a Pod running envoy:1.33 twice and app:2), as a sorted list", sorted(got), ["app:2", "envoy:1.33"],
           hint="each image once, however many containers run it: dedupe with a set")
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "shop"}, "spec": {}}
    expect("by_image(a Pod whose spec has no containers)", _values(answer, bare, "a Pod without containers"), [],
           hint="no containers, no value: the Pod is in no bucket (use .get with a default)")


@by_image.scenario("in an Indexer: which Pods share an image with web-0, and an update moves a Pod")
def _indexed(answer: Any, run: Run) -> None:
    indexer = new_indexer(deletion_handling_meta_namespace_key_func, {"by_image": answer})
    web0 = _pod("web-0", "nginx:1.27", "log-agent:3")
    for pod in (web0, _pod("web-1", "nginx:1.27"), _pod("db-0", "postgres:17", init=("log-agent:3",)),
                _pod("cache-0", "redis:8")):
        indexer.add(pod)
    shared = sorted(o["metadata"]["name"] for o in indexer.index("by_image", web0))
    expect('Pods sharing an image with web-0: indexer.index("by_image", web0)', shared, ["db-0", "web-0", "web-1"])
    indexer.update(_pod("web-1", "nginx:1.28"))  # web-1 upgraded
    expect('indexer.index_keys("by_image", "nginx:1.27") after web-1 moved to nginx:1.28',
           indexer.index_keys("by_image", "nginx:1.27"), ["shop/web-0"])
    expect('sorted(indexer.list_index_func_values("by_image"))', sorted(indexer.list_index_func_values("by_image")),
           ["log-agent:3", "nginx:1.27", "nginx:1.28", "postgres:17", "redis:8"])
