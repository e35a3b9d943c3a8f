"""The lab as a pytest fixture, for testing your own controller (what envtest is to Go).

Installed with k8slab and registered through the `pytest11` entry point, so
every pytest run in an environment with k8slab can use these fixtures; a test
suite that asks for none of them starts nothing.

    def test_my_controller(k8slab_namespace, k8slab_api_client, k8slab_install_crds):
        k8slab_install_crds("config/crd/foo.yaml")     # created, then waited for until served
        ...                                            # run your controller against k8slab_kubeconfig

Fixtures:
    k8slab_lab           the session's lab: started on first use (or adopted if one of that name
                         runs), stopped at the end of the session even if pytest is killed
    k8slab_api_client    an admin `kubernetes.client.ApiClient` for it (session)
    k8slab_kubeconfig    the path of its admin kubeconfig (session)
    k8slab_namespace     a fresh namespace per test, deleted afterwards
    k8slab_install_crds  a function: CRD YAML paths or dicts -> installed and served

Options (command line, or the same names in the ini file without dashes):
    --k8slab-profile cluster|minimal   (default cluster: controller-manager, scheduler, kwok nodes)
    --k8slab-lab NAME                  (default $K8SLAB_TEST_LAB, else "pytest-<pid>")
    --k8slab-keep                      leave a lab this session started running afterwards

Under pytest-xdist each worker gets a lab of its own (`<name>-gw0`, ...), so
tests in different workers never share one; tests isolate themselves by
namespace inside a worker's lab. `LabPool` is the machinery, for conftests
that need more than one lab (k8slab's own test suite gives tests that restart
or compact the API server a lab of their own).
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Iterator

import pytest

__all__ = ["LabPool", "base_lab_name", "namespace_name"]


class LabPool:
    """The labs of one pytest process: started on first use, adopted if running, stopped by `close`.

    `base` names them: `get("cluster")` is the lab `base`, `get("minimal", "dm")`
    is `base-dm`. A lab that ran before the pool asked for it is adopted and
    left running; one the pool started is tied to this process (`stop_with`)
    and stopped by `close()` unless `keep`.
    """

    def __init__(self, base: str, *, keep: bool = False) -> None:
        self.base = base
        self.keep = keep
        self._labs: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._started: list[Any] = []

    def get(self, profile: str = "cluster", suffix: str = "") -> Any:
        from k8slab.lab import Lab

        name = f"{self.base}-{suffix}" if suffix else self.base
        lab = self._labs.get(name)
        if lab is None:
            lab = Lab(name, profile=profile, progress=None).up()
            if lab.started_here:
                lab.stop_with(os.getpid())  # even if pytest is killed, its labs go with it
                self._started.append(lab)
            self._labs[name] = lab
        return lab

    def api_client(self, lab: Any) -> Any:
        """One admin ApiClient per lab, closed by `close()`."""
        if lab.name not in self._clients:
            self._clients[lab.name] = lab.api_client()
        return self._clients[lab.name]

    def close(self) -> None:
        for api in self._clients.values():
            api.close()
        self._clients.clear()
        if not self.keep:
            for lab in reversed(self._started):
                lab.down()
        self._started.clear()
        self._labs.clear()


def base_lab_name(explicit: str | None = None, worker: str | None = None) -> str:
    """The session's lab name: explicit, else $K8SLAB_TEST_LAB, else pytest-<pid>; `-<worker>` under xdist."""
    base = explicit or os.environ.get("K8SLAB_TEST_LAB") or f"pytest-{os.getpid()}"
    return f"{base}-{worker}" if worker else base


def namespace_name(test_name: str) -> str:
    """A namespace name for a test: readable, unique, a valid DNS label."""
    stem = "".join(c for c in test_name[:30].lower().replace("_", "-") if c.isalnum() or c == "-").strip("-")
    return f"t-{stem}-{uuid.uuid4().hex[:5]}"


# -- the plugin -----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k8slab", "k8slab: a real Kubernetes control plane for tests")
    group.addoption("--k8slab-profile", default=None, help="cluster (default) or minimal")
    group.addoption("--k8slab-lab", default=None, help="the lab's name (default $K8SLAB_TEST_LAB or pytest-<pid>)")
    group.addoption("--k8slab-keep", action="store_true", default=None, help="leave a lab this session started running")
    parser.addini("k8slab_profile", "the lab profile for k8slab_lab", default="cluster")
    parser.addini("k8slab_lab", "the lab name for k8slab_lab", default="")
    parser.addini("k8slab_keep", "leave a lab this session started running", type="bool", default=False)


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"--k8slab-{name}")
    return config.getini(f"k8slab_{name}") if value is None else value


@pytest.fixture(scope="session")
def k8slab_lab_pool(pytestconfig: pytest.Config) -> Iterator[LabPool]:
    keep = bool(_option(pytestconfig, "keep")) or os.environ.get("K8SLAB_TEST_KEEP") == "1"
    # xdist tells its workers who they are in `workerinput` (not the environment, which a pytest
    # started from inside a worker would inherit).
    worker = getattr(pytestconfig, "workerinput", {}).get("workerid")
    pool = LabPool(base_lab_name(_option(pytestconfig, "lab") or None, worker), keep=keep)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def k8slab_lab(k8slab_lab_pool: LabPool, pytestconfig: pytest.Config) -> Any:
    profile = _option(pytestconfig, "profile") or "cluster"
    return k8slab_lab_pool.get(profile)


@pytest.fixture(scope="session")
def k8slab_api_client(k8slab_lab_pool: LabPool, k8slab_lab: Any) -> Any:
    return k8slab_lab_pool.api_client(k8slab_lab)


@pytest.fixture(scope="session")
def k8slab_kubeconfig(k8slab_lab: Any) -> str:
    return str(k8slab_lab.kubeconfig)


@pytest.fixture
def k8slab_namespace(k8slab_lab: Any, k8slab_api_client: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    from k8slab.lab.helpers import create_namespace, delete_namespace

    name = create_namespace(k8slab_api_client, namespace_name(request.node.name),
                            labels={"k8slab.test": "true"}, for_pods=k8slab_lab.profile == "cluster")
    yield name
    delete_namespace(k8slab_api_client, name)


@pytest.fixture(scope="session")
def k8slab_install_crds(k8slab_api_client: Any) -> Any:
    from k8slab.lab.helpers import install_crds

    def install(*sources: Any, timeout: float = 60.0) -> list[str]:
        return install_crds(k8slab_api_client, sources, timeout=timeout)

    return install
