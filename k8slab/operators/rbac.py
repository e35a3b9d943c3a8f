"""Each Foo controller's permissions: what its framework's requests need, and nothing else.

Every controller runs as a user of its own (a client certificate the lab
mints, `lab.user("foo-kopf")`), so the API server (and its audit log) can
tell their requests apart. On a cluster k8slab did not start, the same
name is a ServiceAccount with a token instead (`kubeconfig_for`). The rules,
per controller:

    resource                  k8slab (0)  sample-controller   controller-runtime   kopf
    foos                      get list watch  list watch   get list watch       get list watch patch (1)
    foos/status               update          update       update               patch (2)
    deployments               get list watch  list watch   get list watch       list watch
                              create update   create update create update       create update
    events (core/v1)          create patch    create patch create patch (3)     create (4)
    events (events.k8s.io)    -               -            create patch (5)     -
    leases (leader election)  get create update  -         get create update    - (6)

(0) and k8slab-one-bucket, the same controller with one shared rate limiter. (1) kopf keeps its state in annotations on each Foo (last-handled
configuration, handler progress). (2) a merge patch of the status
subresource (kopf_foo.py says why). (3) leader election's events, on the
Lease, through client-go's old recorder. (4) kopf posts every Event anew,
never patches a repeat. (5) the reconciler's own Events: controller-runtime's
`GetEventRecorder` writes events.k8s.io/v1 (and patches a series). (6) kopf
elects with KopfPeering objects; it runs standalone here. The Go
sample-controller reads from its informers only (no `get`) and has no leader
election. A controller that watches one namespace gets its ClusterRole
through a RoleBinding there; the Go sample-controller watches every
namespace (main.go has no flag for one), so it gets a ClusterRoleBinding.

`operator=True` adds what the operator's patterns need (`run(...,
external_dir=...)`): `update` on foos, to add and remove the finalizer
(k8slab's and controller-runtime's; kopf adds its own with the `patch` it has).
`omit=["create deployments", "update foos/status"]` leaves those verbs out,
so a notebook can make a controller fail where it wants, and put them back
by installing again without `omit`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from k8slab import errors
from k8slab.samplecontroller.crd import GROUP
from k8slab.samplecontroller.rbac import binding, create_or_replace

__all__ = ["CLUSTER_SCOPED", "LEASE_RULES", "OPERATOR_RULES", "RULES", "cluster_role", "install_rbac",
           "kubeconfig_for", "service_account_namespace", "user_name"]

_GET_LIST_WATCH = ["get", "list", "watch"]
_WRITE_DEPLOYMENTS = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "update"]}
_CORE_EVENTS = {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}


def _rule(group: str, resource: str, verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}


RULES: dict[str, list[dict[str, Any]]] = {
    "k8slab": [_rule(GROUP, "foos", _GET_LIST_WATCH), _rule(GROUP, "foos/status", ["update"]),
               _rule("apps", "deployments", _GET_LIST_WATCH), _WRITE_DEPLOYMENTS, _CORE_EVENTS],
    "sample-controller": [_rule(GROUP, "foos", ["list", "watch"]), _rule(GROUP, "foos/status", ["update"]),
                          _rule("apps", "deployments", ["list", "watch"]), _WRITE_DEPLOYMENTS, _CORE_EVENTS],
    "controller-runtime": [_rule(GROUP, "foos", _GET_LIST_WATCH), _rule(GROUP, "foos/status", ["update"]),
                           _rule("apps", "deployments", _GET_LIST_WATCH), _WRITE_DEPLOYMENTS, _CORE_EVENTS,
                           _rule("events.k8s.io", "events", ["create", "patch"])],
    "kopf": [_rule(GROUP, "foos", [*_GET_LIST_WATCH, "patch"]), _rule(GROUP, "foos/status", ["patch"]),
             _rule("apps", "deployments", ["list", "watch"]), _WRITE_DEPLOYMENTS,
             _rule("", "events", ["create"])],
}
RULES["k8slab-one-bucket"] = copy.deepcopy(RULES["k8slab"])  # the same controller, one rate limiter
LEASE_RULES = [_rule("coordination.k8s.io", "leases", ["get", "create", "update"])]
OPERATOR_RULES = {"k8slab": [_rule(GROUP, "foos", ["update"])], "controller-runtime": [_rule(GROUP, "foos", ["update"])],
                  "kopf": []}  # kopf's finalizer goes on with its patch of foos
CLUSTER_SCOPED = {"sample-controller"}  # watches every namespace, whatever it is asked


def user_name(controller: str) -> str:
    """The user a controller runs as: foo-k8slab, foo-sample-controller, ..."""
    if controller not in RULES:
        raise errors.UsageError(f"unknown controller {controller!r}; known: {', '.join(RULES)}")
    return f"foo-{controller}"


def _role_name(controller: str) -> str:
    return f"k8slab:{user_name(controller)}"


def cluster_role(controller: str, *, operator: bool = False, omit: Any = ()) -> dict[str, Any]:
    """The controller's ClusterRole; `operator`: plus OPERATOR_RULES; less each "verb resource" in `omit`."""
    rules = copy.deepcopy(RULES[controller])
    if operator:
        if controller not in OPERATOR_RULES:
            raise errors.UsageError(f"{controller} has no operator patterns; these have: {', '.join(OPERATOR_RULES)}")
        rules += copy.deepcopy(OPERATOR_RULES[controller])
    for pair in omit:
        verb, _, resource = pair.partition(" ")
        if not any(resource in r["resources"] and verb in r["verbs"] for r in rules):
            raise errors.UsageError(f"omit={pair!r}: {controller}'s role has no such rule; write 'verb resource', "
                                    "e.g. 'create deployments' or 'update foos/status'")
        for r in rules:
            if resource in r["resources"]:
                r["verbs"] = [v for v in r["verbs"] if v != verb]
    rules = [r for r in rules if r["verbs"]]
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": _role_name(controller)}, "rules": rules}


def install_rbac(admin: Any, controller: str, *, namespace: str = "", leader_election_namespace: str = "",
                 operator: bool = False, omit: Any = ()) -> str:
    """Grant `controller`'s rules to its user, in `namespace` only if it watches only that; returns the user.

    `admin` is a DictClientset allowed to grant them; `operator`, `omit`: see `cluster_role`.
    Each binding names two subjects: the user (a lab client certificate) and
    the ServiceAccount of that name in `service_account_namespace(...)` (the
    identity `kubeconfig_for` gives on a cluster k8slab did not start).
    """
    user, role = user_name(controller), _role_name(controller)
    sa_ns = service_account_namespace(namespace, leader_election_namespace)
    rbac = admin.rbac_v1()

    def bound(kind: str, role_kind: str, name: str, ns: str = "") -> dict[str, Any]:
        b = binding(kind, role_kind, name, user, ns)
        b["subjects"].append({"kind": "ServiceAccount", "name": user, "namespace": sa_ns})
        return b

    create_or_replace(rbac.cluster_roles(), cluster_role(controller, operator=operator, omit=omit))
    if namespace and controller not in CLUSTER_SCOPED:
        create_or_replace(rbac.role_bindings(namespace), bound("RoleBinding", "ClusterRole", role, namespace))
    else:
        create_or_replace(rbac.cluster_role_bindings(), bound("ClusterRoleBinding", "ClusterRole", role))
    if leader_election_namespace:
        ns = leader_election_namespace
        lease_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                      "metadata": {"name": f"{role}:leader-election", "namespace": ns},
                      "rules": copy.deepcopy(LEASE_RULES + [_CORE_EVENTS])}
        create_or_replace(rbac.roles(ns), lease_role)
        create_or_replace(rbac.role_bindings(ns), bound("RoleBinding", "Role", f"{role}:leader-election", ns))
    return user


def service_account_namespace(namespace: str = "", leader_election_namespace: str = "") -> str:
    """Where a controller's ServiceAccount lives: the namespace it watches, else its Lease's, else default."""
    return namespace or leader_election_namespace or "default"


def kubeconfig_for(lab: Any, admin: Any, controller: str, *, namespace: str = "",
                   leader_election_namespace: str = "", operator: bool = False) -> Path:
    """RBAC for `controller` (install_rbac), and a kubeconfig for its identity (mode 0600).

    On the lab, the identity is user `foo-<controller>`, a client certificate
    the lab mints. On a cluster k8slab did not start (`lab.is_lab` False) it is
    the ServiceAccount `foo-<controller>` with a one-hour token: any cluster can
    issue that, and the same bindings grant it the same role.
    """
    user = install_rbac(admin, controller, namespace=namespace, leader_election_namespace=leader_election_namespace,
                        operator=operator)
    if getattr(lab, "is_lab", True):
        path = Path(lab.user(user))
    else:
        path = lab.service_account(user, service_account_namespace(namespace, leader_election_namespace))
    os.chmod(path, 0o600)
    return path
