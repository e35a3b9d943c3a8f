"""Notebook 03's checked exercises: the clientset (client-go `kubernetes/clientset.go`).

    03.1  write accessor(group, version): client-gen's name for a group version's client,
          as `kubernetes.Interface` spells it: "" v1 -> "CoreV1",
          rbac.authorization.k8s.io v1 -> "RbacV1" (the group's first word)
    03.2  predict: one clientset sends to core/v1, apps/v1 and coordination.k8s.io/v1 as
          fast as its limiters allow. How many requests per second in the steady state with
          QPS 0 (the default), and with QPS 20 and Burst 30?

The expected names are the ones k8slab's discovery table prints in its client-go
column; the expected rates are read off the limiters that k8slab's
`new_for_config` (which mirrors `NewForConfigAndClient` and
`RESTClientForConfigAndClient`) gives those three group versions. No request is
sent: a clientset connects only when it is used.
"""

from __future__ import annotations

from typing import Any

from k8slab.chain.clientset import _accessor, new_for_config
from k8slab.chain.rest_config import RestConfig
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []


def _client_go_name(group: str, version: str) -> str:
    return "".join(w.capitalize() for w in _accessor(group, version).split("_"))


accessor = define("03.1", "client-gen's accessor names: the group's first word, then the version",
                  answer='a function accessor(group, version) -> str, e.g. accessor("apps", "v1") == "AppsV1"')


def _names(answer: Any, cases: list[tuple[str, str]], hint: str) -> None:
    for group, version in cases:
        expect(f"accessor({group!r}, {version!r})", answer(group, version), _client_go_name(group, version), hint=hint)


@accessor.scenario("the core group (its name is empty) is CoreV1")
def _core(answer: Any, run: Run) -> None:
    _names(answer, [("", "v1")], "the core group has no name in the API; client-gen calls it core")


@accessor.scenario("a one-word group and its version: AppsV1, BatchV1, AutoscalingV2")
def _one_word(answer: Any, run: Run) -> None:
    _names(answer, [("apps", "v1"), ("batch", "v1"), ("autoscaling", "v2")], "capitalise the group and the version")


@accessor.scenario("a dotted group keeps only its first word: RbacV1, FlowcontrolV1, StorageV1")
def _dotted(answer: Any, run: Run) -> None:
    _names(answer, [("rbac.authorization.k8s.io", "v1"), ("flowcontrol.apiserver.k8s.io", "v1"),
                    ("storage.k8s.io", "v1")],
           "client-gen names a group after its first word; the Python client spells the whole group "
           "(RbacAuthorizationV1Api), client-go does not")


@accessor.scenario("alpha and beta versions keep their lower case: AdmissionregistrationV1alpha1, ResourceV1beta2")
def _prerelease(answer: Any, run: Run) -> None:
    _names(answer, [("admissionregistration.k8s.io", "v1alpha1"), ("resource.k8s.io", "v1beta2")],
           "only the first letter of each part is upper case: str.capitalize(), not str.title()")


# -- 03.2 ------------------------------------------------------------------------------

rates = define("03.2", "requests per second to core, apps and coordination: with QPS 0, and with QPS 20 / Burst 30",
               answer="a pair of numbers (requests per second with QPS 0, with QPS 20)", callable_answer=False)

_GROUP_VERSIONS = ("core_v1", "apps_v1", "coordination_v1")


def _steady_rate(qps: float, burst: int) -> float:
    """The summed QPS of the distinct limiters behind three group versions of one clientset."""
    clientset = new_for_config(RestConfig(host="https://127.0.0.1:6443", qps=qps, burst=burst))
    try:
        limiters = {id(lim): lim for lim in (getattr(clientset, gv)().rest_client().rate_limiter
                                             for gv in _GROUP_VERSIONS)}
        return sum(lim.qps for lim in limiters.values())
    finally:
        clientset.close()


@rates.scenario("the steady request rate to three group versions of one clientset, with QPS 0 and with QPS 20")
def _rates(answer: Any, run: Run) -> None:
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__len__") or len(answer) != 2 or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in answer):
        raise Mismatch("a pair of numbers, e.g. (5, 20)", repr(answer))
    want = (_steady_rate(0, 0), _steady_rate(20, 30))
    expect("(requests/s with QPS 0, with QPS 20)", tuple(float(x) for x in answer), want,
           hint="QPS 0 shares no bucket: each group version's RESTClient makes its own at 5 QPS; "
                "a QPS above 0 makes one bucket that every group version of the clientset shares")
