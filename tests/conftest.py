"""Fixtures shared by every test, on k8slab's own pytest plugin (k8slab/pytest_plugin.py).

Labs: one cluster lab per pytest process (per xdist worker), started on first
use and stopped at the end (`lab`, `api_client`). Tests isolate themselves by
namespace (`namespace`), never by labs, with one exception: a test marked
`disruptive` restarts or compacts the API server, which would leave every
client of a shared lab (kube-controller-manager included) in client-go's
backoff for the tests after it. Such tests get a lab of their own, shared only
with other disruptive tests (`@pytest.mark.disruptive`: a minimal lab;
`@pytest.mark.disruptive(profile="cluster")`: a cluster lab), and run on one
xdist worker, one after the other.

Settings (environment):
  K8SLAB_TEST_LAB      the labs' base name (default "pytest-<pid>"; `k8slab test` sets
                       "pytest"); under xdist each worker appends its id
  K8SLAB_TEST_PROFILE  cluster (default) or minimal, for the shared lab
  K8SLAB_TEST_KEEP     1: leave labs running after the session (faster reruns)
"""

from __future__ import annotations

import os
import threading

import pytest

from k8slab.pytest_plugin import namespace_name
from tests._threads import leaked_threads

PROFILE = os.environ.get("K8SLAB_TEST_PROFILE", "cluster")
_DISRUPTIVE_LABS = {"minimal": "dm", "cluster": "dc"}  # profile -> lab name suffix


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Under `--dist loadgroup` all disruptive tests of a profile go to one worker, in order.
    for item in items:
        marker = item.get_closest_marker("disruptive")
        if marker is not None:
            item.add_marker(pytest.mark.xdist_group(f"disruptive-{_disruptive_profile(marker)}"))


def _disruptive_profile(marker: pytest.Mark) -> str:
    profile = marker.kwargs.get("profile", "minimal")
    if profile not in _DISRUPTIVE_LABS:
        raise pytest.UsageError(f"disruptive(profile={profile!r}): use one of {sorted(_DISRUPTIVE_LABS)}")
    return profile


@pytest.fixture(scope="session")
def shared_lab(k8slab_lab_pool):
    """The session's lab for everything that leaves the API server running."""
    lab = k8slab_lab_pool.get(PROFILE)
    os.environ["K8SLAB_LAB"] = lab.name  # notebooks and subprocesses find it
    return lab


@pytest.fixture
def lab(request, k8slab_lab_pool, shared_lab):
    """The test's lab: the shared one, or for a `disruptive` test a lab of its own kind."""
    marker = request.node.get_closest_marker("disruptive")
    if marker is None:
        return shared_lab
    profile = _disruptive_profile(marker)
    return k8slab_lab_pool.get(profile, _DISRUPTIVE_LABS[profile])


@pytest.fixture
def api_client(lab, k8slab_lab_pool):
    """An admin `kubernetes.client.ApiClient` for the test's lab (one per lab, reused)."""
    return k8slab_lab_pool.api_client(lab)


@pytest.fixture
def namespace(lab, api_client, request):
    """A fresh namespace for one test, deleted afterwards; ready for Pods on a cluster lab."""
    from k8slab.lab.helpers import create_namespace, delete_namespace

    name = create_namespace(api_client, namespace_name(request.node.name), labels={"k8slab.test": "true"},
                            for_pods=lab.profile == "cluster")
    yield name
    delete_namespace(api_client, name)


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Fail a test that leaves a `k8slab-` thread (daemon or not) or a non-daemon thread running."""
    before = set(threading.enumerate())
    yield
    leaked = leaked_threads(before)
    assert not leaked, f"test left threads running: {leaked}"
