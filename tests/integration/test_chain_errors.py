"""Bad input against the live server: each a clear k8slab error that says what, where and what to do."""

from __future__ import annotations

import pytest

from k8slab.chain import build_config_from_flags, new_for_config
from k8slab.errors import Conflict, Forbidden, NotFound, ServerUnreachable, Unauthorized
from k8slab.lab.components import free_port
from k8slab.lab.pki import CA, kubeconfig_dict, write_kubeconfig

pytestmark = pytest.mark.lab


def test_connection_refused_names_the_server_and_the_call(lab):
    port = free_port()
    config = build_config_from_flags(f"https://127.0.0.1:{port}", lab.kubeconfig)
    with pytest.raises(ServerUnreachable) as info:
        new_for_config(config).core_v1().pods("default").list()
    assert str(info.value) == (
        f"list pods in namespace 'default': cannot reach the API server at https://127.0.0.1:{port}: connection refused "
        "(nothing listens there; is the API server running? `k8slab status` tells)"
    )


def test_a_server_certificate_from_another_ca_fails_the_tls_handshake(lab, tmp_path):
    other = CA.create(tmp_path / "other")
    cert, key = other.issue("x")
    write_kubeconfig(tmp_path / "k", kubeconfig_dict(server=lab.server, ca_pem=other.cert_pem, user="x", cert_pem=cert, key_pem=key))
    with pytest.raises(ServerUnreachable, match="the TLS handshake failed .*certificate-authority"):
        new_for_config(build_config_from_flags("", tmp_path / "k")).core_v1().namespaces().list()


def test_a_client_certificate_the_server_rejects_is_unauthorized(lab, tmp_path):
    rogue = CA.create(tmp_path / "rogue")
    cert, key = rogue.issue("mallory", organizations=["system:masters"])
    ca = (lab.dir / "pki" / "ca.crt").read_bytes()
    write_kubeconfig(tmp_path / "k", kubeconfig_dict(server=lab.server, ca_pem=ca, user="mallory", cert_pem=cert, key_pem=key))
    with pytest.raises(Unauthorized, match="list namespaces: Unauthorized .*check the kubeconfig's user") as info:
        new_for_config(build_config_from_flags("", tmp_path / "k")).core_v1().namespaces().list()
    assert info.value.code == 401


def test_a_forbidden_request_names_the_user_the_verb_and_the_resource(lab):
    alice = new_for_config(build_config_from_flags("", lab.user("alice-chain")))
    with pytest.raises(Forbidden) as info:
        alice.core_v1().secrets("kube-system").list()
    message = str(info.value)
    assert message.startswith("list secrets in namespace 'kube-system': ")
    for fact in ('User "alice-chain"', 'cannot list resource "secrets"', 'in the namespace "kube-system"', "grant the verb"):
        assert fact in message
    with pytest.raises(Forbidden, match='User "alice-chain" cannot delete resource "nodes"'):
        alice.core_v1().nodes().delete("node-1")


def test_not_found_and_a_stale_update(lab, namespace):
    cs = new_for_config(build_config_from_flags("", lab.kubeconfig))
    cms = cs.core_v1().config_maps(namespace)
    with pytest.raises(NotFound, match=f"get config_maps 'nope' in namespace '{namespace}': configmaps \"nope\" not found"):
        cms.get("nope")
    cms.create({"metadata": {"name": "c"}, "data": {"v": "1"}})
    first, second = cms.get("c"), cms.get("c")
    first.data["v"] = "2"
    cms.update(first)
    second.data["v"] = "3"
    with pytest.raises(Conflict, match="the object has been modified") as info:
        cms.update(second)
    assert (info.value.code, info.value.reason) == (409, "Conflict")
