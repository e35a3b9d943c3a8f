"""Notebook 01's checked exercises: how kubeconfig files merge (client-go `tools/clientcmd/loader.go`).

    01.1  predict: with the two files of the notebook in the other order,
          `load_kubeconfig([team, admin])`, which current-context wins, and which server
          the cluster `k8slab` has
    01.2  write merge(docs): kubectl's merge of several kubeconfig files
          (`ClientConfigLoadingRules.Load`): by name, the first file that defines an entry
          wins and its entry is taken whole; current-context from the first file that sets one

The scenarios write the files to a temporary directory and load them with
k8slab's `load_kubeconfig`, which mirrors client-go's loader (notebook 01 checks it
against kubectl): its result is the expected answer.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from k8slab.chain.kubeconfig import load_kubeconfig
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []

LAB_SERVER = "https://127.0.0.1:6443"
OLD_SERVER = "https://old-cluster.example:6443"


def _config(current: str = "", clusters: dict | None = None, users: dict | None = None,
            contexts: dict | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if current:
        doc["current-context"] = current
    for section, inner, entries in (("clusters", "cluster", clusters), ("users", "user", users),
                                    ("contexts", "context", contexts)):
        if entries is not None:
            doc[section] = [{"name": name, inner: entry} for name, entry in entries.items()]
    return doc


def _admin() -> dict[str, Any]:
    """The shape of notebook 01's admin.yaml (its data fields stand in for the certificates)."""
    return _config("admin@k8slab",
                   clusters={"k8slab": {"server": LAB_SERVER, "certificate-authority-data": "Q0EgZGF0YQ=="}},
                   users={"admin": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}},
                   contexts={"admin@k8slab": {"cluster": "k8slab", "user": "admin", "namespace": "default"}})


def _team() -> dict[str, Any]:
    """... and of its team.yaml: alice, her context, and a cluster also named k8slab."""
    return _config("alice@k8slab",
                   clusters={"k8slab": {"server": OLD_SERVER}},
                   users={"alice": {"token": "alice-placeholder"}},
                   contexts={"alice@k8slab": {"cluster": "k8slab", "user": "alice", "namespace": "default"}})


def _load(run: Run, docs: list[dict[str, Any]]) -> Any:
    """k8slab's merge of `docs`, written as files in this order."""
    directory = Path(tempfile.mkdtemp(prefix="k8slab-exercise-01-"))
    run.defer(lambda: shutil.rmtree(directory, ignore_errors=True))
    paths = []
    for i, doc in enumerate(docs):
        paths.append(directory / f"file-{i}.yaml")
        paths[-1].write_text(yaml.safe_dump(doc))
    return load_kubeconfig(paths)


# -- 01.1 ------------------------------------------------------------------------------

swapped = define("01.1", "load_kubeconfig([team, admin]): the current-context, and the server of cluster k8slab",
                 answer="a pair (current-context, server of cluster 'k8slab')", callable_answer=False)


@swapped.scenario("the current-context and the k8slab cluster's server, as kubectl merges team.yaml then admin.yaml")
def _swapped(answer: Any, run: Run) -> None:
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(isinstance(x, str) for x in answer):
        raise Mismatch("a pair of strings, e.g. ('admin@k8slab', 'https://127.0.0.1:6443')", repr(answer))
    merged = _load(run, [_team(), _admin()])
    want = (merged.current_context, merged.clusters["k8slab"]["server"])
    expect("(current-context, server of cluster 'k8slab')", tuple(answer), want,
           hint="both rules favour the first file: the first to set current-context, the first to define a name")


# -- 01.2 ------------------------------------------------------------------------------

merge = define("01.2", "kubectl's merge of kubeconfig files: the first file wins, per name and for current-context",
               answer='a function merge(docs) -> {"current-context": ..., "clusters": {...}, "users": {...}, '
                      '"contexts": {...}}')


def _merged(answer: Any, run: Run, docs: list[dict[str, Any]], hint: str) -> None:
    try:
        got = answer(copy.deepcopy(docs))
    except Exception as exc:
        if isinstance(exc, NotImplementedError):
            raise
        raise Mismatch("merge(docs) to return the merged config", f"{type(exc).__name__}: {exc}",
                       "a section may be missing or null in a file (`doc.get('users') or []`)") from None
    if not isinstance(got, dict):
        raise Mismatch('a dict with "current-context", "clusters", "users" and "contexts"', f"{type(got).__name__}")
    want = _load(run, docs)
    expect('merged["current-context"]', got.get("current-context") or "", want.current_context, hint=hint)
    for section in ("clusters", "users", "contexts"):
        expect(f'merged["{section}"]', got.get(section) or {}, getattr(want, section), hint=hint)


@merge.scenario("admin.yaml then team.yaml: admin's current-context and cluster, alice's user and context from team")
def _notebook(answer: Any, run: Run) -> None:
    _merged(answer, run, [_admin(), _team()],
            "the first file that defines a name keeps it: a later file's k8slab cluster is dropped, not merged in")


@merge.scenario("current-context comes from the first file that sets one, even when an earlier file sets none")
def _first_current(answer: Any, run: Run) -> None:
    bare = _config(clusters={"lab": {"server": LAB_SERVER}})
    _merged(answer, run, [bare, _team(), _admin()],
            "a file without a current-context does not count; of those that set one, the first wins "
            "(the Python client's KubeConfigMerger lets the last win: client-go does not)")


@merge.scenario("an entry is taken whole from the first file: no field comes from a later file's namesake")
def _whole(answer: Any, run: Run) -> None:
    first = _config(clusters={"k8slab": {"server": LAB_SERVER}})
    later = _config(clusters={"k8slab": {"server": OLD_SERVER, "insecure-skip-tls-verify": True,
                                         "certificate-authority-data": "Q0EgZGF0YQ=="}})
    _merged(answer, run, [first, later],
            "take the first file's entry as it is: even fields it lacks are not filled in from a later file "
            "(the comment above ClientConfigLoadingRules.Load says so)")


@merge.scenario("an empty file and a file whose sections are null merge as nothing")
def _empty(answer: Any, run: Run) -> None:
    nulls = {"apiVersion": "v1", "kind": "Config", "clusters": None, "users": None, "contexts": None}
    _merged(answer, run, [{}, nulls, _admin()], "treat a missing or null section as an empty list")
