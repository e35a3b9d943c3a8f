"""On a cluster k8slab did not start, an operator runs as a ServiceAccount with the same role.

The lab stands in for "a cluster of your own": it is handed over only as a
kubeconfig (`ExternalCluster`), so nothing of the lab's PKI is used.
"""

from __future__ import annotations

import stat

import pytest
from kubernetes import config

from k8slab import errors
from k8slab.lab.external import ExternalCluster
from k8slab.meta import GroupVersionResource
from k8slab.operators import kubeconfig_for
from k8slab.samplecontroller import DictClientset, install_crd

pytestmark = [pytest.mark.lab]


def test_kubeconfig_for_a_foreign_cluster_is_a_least_privilege_service_account(lab, api_client, namespace, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("K8SLAB_STATE_DIR", str(tmp_path))
    admin = DictClientset(api_client)
    install_crd(admin)
    cluster = ExternalCluster(lab.kubeconfig, say=lambda _: None)

    path = kubeconfig_for(cluster, admin, "kopf", namespace=namespace)

    assert path.is_relative_to(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "client-key-data" not in path.read_text()
    operator = DictClientset(config.new_client_from_config(config_file=str(path)))
    try:
        review = operator.resource(GroupVersionResource("authentication.k8s.io", "v1", "selfsubjectreviews")).create(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:foo-kopf"
        assert operator.samplecontroller_v1alpha1().foos(namespace).list()["items"] == []
        with pytest.raises(errors.Forbidden):
            operator.samplecontroller_v1alpha1().foos("default").list()  # its role is bound in its namespace only
        with pytest.raises(errors.Forbidden):
            operator.core_v1().pods(namespace).list()  # and grants nothing beyond kopf's rules
    finally:
        operator.close()

    again = kubeconfig_for(cluster, admin, "kopf", namespace=namespace)  # a rerun: the account exists, a new token
    assert again == path
