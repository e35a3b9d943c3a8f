"""The controller's permissions: exactly what its code calls, and nothing else.

Each rule below answers one call in controller.py, k8slab/record.py or leader
election; remove one and that call fails with 403 Forbidden (notebook 10
shows it). The controller runs as its own user (a client certificate from
`lab.user("sample-controller")`), bound to:

    ClusterRole sample-controller
      foos                 get list watch     informer (list + watch), lister reads
      foos/status          update             update_foo_status
      deployments          get list watch     informer
      deployments          create update      sync_handler
      events               create patch       the event recorder (patch: repeated events)
    Role sample-controller:leader-election   (in the Lease's namespace only)
      leases               get create update  the Lease lock

`extra_rules` adds rules (the operator of notebook 12 also updates Foos, to
add and remove its finalizer); `omit` removes verbs, e.g. {"create deployments"}.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from k8slab import errors

__all__ = ["LEADER_ELECTION_ROLE", "ROLE_NAME", "binding", "cluster_role", "create_or_replace", "install_rbac",
           "leader_election_role"]

ROLE_NAME = "sample-controller"
LEADER_ELECTION_ROLE = "sample-controller:leader-election"

_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["samplecontroller.k8s.io"], "resources": ["foos"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["samplecontroller.k8s.io"], "resources": ["foos/status"], "verbs": ["update"]},
    {"apiGroups": ["apps"], "resources": ["deployments"],
     "verbs": ["get", "list", "watch", "create", "update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]
_LEASE_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]},
]


def _without(rules: list[dict[str, Any]], omit: Iterable[str]) -> list[dict[str, Any]]:
    dropped = {tuple(o.split()) for o in omit}  # {("create", "deployments"), ...}
    out = []
    for rule in copy.deepcopy(rules):
        rule["verbs"] = [v for v in rule["verbs"]
                         if not any((v, r) in dropped for r in rule["resources"])]
        if rule["verbs"]:
            out.append(rule)
    return out


def cluster_role(
    *, omit: Iterable[str] = (), extra_rules: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The ClusterRole, less the `omit`ted "verb resource" pairs, plus `extra_rules`."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ROLE_NAME},
        "rules": _without(_RULES, omit) + [copy.deepcopy(r) for r in extra_rules],
    }


def leader_election_role(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": LEADER_ELECTION_ROLE, "namespace": namespace},
        "rules": copy.deepcopy(_LEASE_RULES),
    }


def binding(kind: str, role_kind: str, role: str, user: str, namespace: str = "") -> dict[str, Any]:
    """A RoleBinding or ClusterRoleBinding of `role` to `user`, named after the role."""
    metadata = {"name": role, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def create_or_replace(client: Any, obj: dict[str, Any]) -> None:
    """Create `obj` through a resource client, or replace what is there (a rerun with other rules)."""
    try:
        current = client.get(obj["metadata"]["name"])
    except errors.NotFound:
        client.create(obj)
        return
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    client.update(obj)


def install_rbac(
    admin: Any,
    user: str = ROLE_NAME,
    *,
    leader_election_namespace: str | None = None,
    omit: Iterable[str] = (),
    extra_rules: Iterable[dict[str, Any]] = (),
) -> None:
    """Create or replace the ClusterRole and its binding to `user` (and the Lease Role).

    `admin` is a DictClientset allowed to grant these rights (RBAC refuses to
    let anyone grant what they do not hold themselves).
    """
    rbac = admin.rbac_v1()
    create_or_replace(rbac.cluster_roles(), cluster_role(omit=omit, extra_rules=extra_rules))
    create_or_replace(rbac.cluster_role_bindings(), binding("ClusterRoleBinding", "ClusterRole",
                                                               ROLE_NAME, user))
    if leader_election_namespace:
        ns = leader_election_namespace
        create_or_replace(rbac.roles(ns), leader_election_role(ns))
        create_or_replace(rbac.role_bindings(ns), binding("RoleBinding", "Role", LEADER_ELECTION_ROLE,
                                                            user, ns))
