"""The Foo custom resource: its CRD, installing it, and building Foos.

Mirrors sample-controller's `artifacts/examples/crd-status-subresource.yaml`
and `pkg/apis/samplecontroller/v1alpha1/types.go`:

    Foo            samplecontroller.k8s.io/v1alpha1, namespaced
      spec         deploymentName (string), replicas (integer, 1..10)
      status       availableReplicas (integer)      <- the status subresource

The CRD lives in `foo-crd.yaml` beside this file (so `kubectl apply -f`
works too); its OpenAPI schema makes the API server itself refuse a Foo
with 0 or 11 replicas, with a message naming the field, before any
controller sees it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from k8slab import errors

__all__ = [
    "API_VERSION",
    "CRD_NAME",
    "DEPLOYMENTS_RESOURCE",
    "FOOS_RESOURCE",
    "GROUP",
    "KIND",
    "VERSION",
    "foo_crd",
    "install_crd",
    "new_foo",
]

GROUP = "samplecontroller.k8s.io"
VERSION = "v1alpha1"
KIND = "Foo"
API_VERSION = f"{GROUP}/{VERSION}"
CRD_NAME = f"foos.{GROUP}"
# Resource keys for k8slab's SharedInformerFactory ("resource.version.group").
FOOS_RESOURCE = f"foos.{VERSION}.{GROUP}"
DEPLOYMENTS_RESOURCE = "deployments.v1.apps"

CRD_FILE = Path(__file__).with_name("foo-crd.yaml")


def foo_crd() -> dict[str, Any]:
    """The CustomResourceDefinition, as a dict (a fresh copy each call)."""
    return yaml.safe_load(CRD_FILE.read_text())


def install_crd(clientset: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Create (or update) the Foo CRD and wait until Foos are served. Needs an admin clientset.

    Returns the CRD as stored. Established means the API server serves the
    new resource; we also wait for a LIST of Foos to answer, since discovery
    can lag Established by a moment.
    """
    crds = clientset.apiextensions_v1().custom_resource_definitions()
    wanted = foo_crd()
    try:
        current = crds.get(CRD_NAME)
    except errors.NotFound:
        crds.create(wanted)
    else:
        if current.get("spec") != wanted["spec"]:
            wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            crds.update(wanted)
    deadline = time.monotonic() + timeout
    while True:
        crd = crds.get(CRD_NAME)
        conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
        if conditions.get("Established") == "True":
            try:
                clientset.samplecontroller_v1alpha1().foos("default").list(limit=1)
                return crd
            except errors.NotFound:
                pass
        if time.monotonic() > deadline:
            raise errors.CRDNotEstablished(
                f"CRD {CRD_NAME} not established after {timeout:.0f} s (conditions: {conditions}); "
                "check the API server's log"
            )
        time.sleep(0.1)


def new_foo(
    name: str, namespace: str, *, replicas: int | None = 1, deployment_name: str | None = None
) -> dict[str, Any]:
    """A Foo dict. The Deployment is named `<name>-deployment` unless told otherwise."""
    spec: dict[str, Any] = {"deploymentName": f"{name}-deployment" if deployment_name is None else deployment_name}
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
