"""Fixtures shared by every test.

One lab for the whole session (`lab`), started on first use and stopped at the
end. Tests isolate themselves by namespace (`namespace`), never by labs.

Settings (environment):
  K8SLAB_TEST_LAB      the lab's name (default "pytest-<pid>"); `k8slab test`
                       sets it and K8SLAB_LAB to "pytest", so notebooks adopt it
  K8SLAB_TEST_PROFILE  cluster (default) or minimal
  K8SLAB_TEST_KEEP     1: leave the lab running after the session (faster reruns)
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from tests._threads import leaked_threads

# One lab per pytest process unless a name is given: concurrent runs never share
# (and never stop) each other's lab. `k8slab test` names it "pytest".
LAB_NAME = os.environ.get("K8SLAB_TEST_LAB") or f"pytest-{os.getpid()}"
PROFILE = os.environ.get("K8SLAB_TEST_PROFILE", "cluster")


@pytest.fixture(scope="session")
def lab():
    """The session's lab: started (or adopted) once, stopped after the last test."""
    from k8slab.lab import Lab

    lab = Lab(LAB_NAME, profile=PROFILE, progress=None)
    lab.up()
    owned = lab.started_here and os.environ.get("K8SLAB_TEST_KEEP") != "1"
    if owned:
        lab.stop_with(os.getpid())  # even if this run is killed, its lab goes with it
    os.environ["K8SLAB_LAB"] = LAB_NAME  # notebooks and subprocesses find it
    yield lab
    if owned:
        lab.down()


@pytest.fixture(scope="session")
def api_client(lab):
    """An admin `kubernetes.client.ApiClient` for the session's lab."""
    client = lab.api_client()
    yield client
    client.close()


@pytest.fixture
def namespace(api_client, request):
    """A fresh namespace for one test, deleted afterwards."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    name = f"t-{request.node.name[:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    core.create_namespace({"metadata": {"name": name, "labels": {"k8slab.test": "true"}}})
    if PROFILE == "cluster":
        # The controller-manager adds the `default` ServiceAccount a moment later; until then
        # ServiceAccount admission refuses Pods. Tests start when the namespace is usable. After
        # tests that restart kube-apiserver, the controller-manager's watches may still be in
        # client-go's backoff (up to 30 s, with jitter): hence the long limit.
        deadline = time.monotonic() + 120
        while not core.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
            assert time.monotonic() < deadline, f"no default ServiceAccount in {name} after 120 s"
            time.sleep(0.05)
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Fail a test that leaves a `k8slab-` thread (daemon or not) or a non-daemon thread running."""
    before = set(threading.enumerate())
    yield
    leaked = leaked_threads(before)
    assert not leaked, f"test left threads running: {leaked}"
