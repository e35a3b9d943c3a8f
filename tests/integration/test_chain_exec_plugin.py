"""Exec credential plugins against the lab: a plugin that hands out a lab client certificate, one that
hands out a ServiceAccount token, expired and rejected credentials and how a re-run recovers, a plugin
that fails; through the chain and through `k8slab.connect()` (the official client's exec support)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import yaml

from k8slab.chain import RESTClient, api_client_for, build_config_from_flags, load_kubeconfig, new_for_config, trace
from k8slab.errors import ExecPluginFailed, Unauthorized
from tests.unit._exec_plugin import V1, Plugin, credential

pytestmark = pytest.mark.lab


def whoami(clientset) -> tuple[str, list[str]]:
    review = clientset.authentication_v1().self_subject_reviews().create(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return review.status.user_info.username, sorted(review.status.user_info.groups or [])


def exec_kubeconfig(lab, plugin: Plugin, **exec_fields) -> str:
    """A kubeconfig beside the plugin: the lab's server and CA, a user whose credentials come from `./plugin.py`."""
    ca = base64.b64encode((lab.dir / "pki" / "ca.crt").read_bytes()).decode()
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "exec@lab",
           "clusters": [{"name": "lab", "cluster": {"server": lab.server, "certificate-authority-data": ca}}],
           "users": [{"name": "exec", "user": {"exec": {"apiVersion": V1, "command": "./plugin.py", "interactiveMode": "Never",
                                                        **exec_fields}}}],
           "contexts": [{"name": "exec@lab", "context": {"cluster": "lab", "user": "exec"}}]}
    path = plugin.folder / "kubeconfig"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def lab_certificate(lab, name: str, groups=(), *, expired: bool = False) -> dict:
    """An ExecCredential status with a client certificate the lab's CA signed (one that expired an hour ago, if asked)."""
    if not expired:
        user = yaml.safe_load(lab.user(name, groups=list(groups)).read_text())["users"][0]["user"]
        cert, key = (base64.b64decode(user[k]).decode() for k in ("client-certificate-data", "client-key-data"))
        return {"clientCertificateData": cert, "clientKeyData": key}
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from k8slab.lab.pki import CA

    ca = CA.load(lab.dir / "pki")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=2)).not_valid_after(now - dt.timedelta(hours=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return {"clientCertificateData": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "clientKeyData": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()).decode()}


@pytest.fixture
def service_account_token(lab, namespace, api_client):
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "robot"}})
    status = core.create_namespaced_service_account_token("robot", namespace, {"spec": {"expirationSeconds": 600}}).status
    return status.token, status.expiration_timestamp.isoformat(), f"system:serviceaccount:{namespace}:robot"


def test_a_plugin_that_hands_out_a_lab_client_certificate(lab, tmp_path):
    plugin = Plugin(tmp_path / "cert", {"stdout": credential(**lab_certificate(lab, "exec-alice", ["exec-team"]))})
    path = exec_kubeconfig(lab, plugin)
    config = load_kubeconfig(path).client_config()
    assert config.auth_method() == "exec plugin" and plugin.runs() == []  # nothing runs before a request
    with new_for_config(config) as cs, new_for_config(build_config_from_flags("", path)) as other:
        assert whoami(cs) == ("exec-alice", ["exec-team", "system:authenticated"])
        assert whoami(other)[0] == "exec-alice"
        RESTClient(api_client_for(config)).get().abs_path("/version").do()
    assert len(plugin.runs()) == 1  # one Authenticator per exec config and cluster: every client shares the run


def test_a_plugin_that_hands_out_a_service_account_token(lab, tmp_path, service_account_token):
    token, expires, username = service_account_token
    plugin = Plugin(tmp_path / "token", {"stdout": credential(token=token, expirationTimestamp=expires)})
    with trace() as t, new_for_config(build_config_from_flags("", exec_kubeconfig(lab, plugin))) as cs:
        assert whoami(cs)[0] == username
        assert whoami(cs)[0] == username
    assert len(plugin.runs()) == 1  # valid for ten minutes: cached
    assert [e.headers.get("authorization") for e in t] == ["REDACTED", "REDACTED"]
    assert token not in t.frame().to_string() + str([e.headers for e in t])


def test_an_expired_certificate_gets_a_401_and_the_next_request_a_new_certificate(lab, tmp_path):
    plugin = Plugin(tmp_path / "expired", {"stdout": credential(**lab_certificate(lab, "exec-old", expired=True))},
                    {"stdout": credential(**lab_certificate(lab, "exec-new"))})
    api = api_client_for(build_config_from_flags("", exec_kubeconfig(lab, plugin)))
    rest = RESTClient(api)
    with pytest.raises(Unauthorized):
        rest.get().abs_path("/version").do()  # the apiserver refuses the expired certificate: 401
    first_pool = api.rest_client
    assert len(plugin.runs()) == 2  # the 401 ran the plugin again; client-go does not resend the request
    rest.get().abs_path("/version").do()
    assert api.rest_client is not first_pool  # the new certificate, a new pool
    review = rest.post().abs_path("/apis/authentication.k8s.io/v1/selfsubjectreviews").body(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).do().json()
    assert review["status"]["userInfo"]["username"] == "exec-new" and len(plugin.runs()) == 2
    api.close()


def test_a_rejected_token_is_replaced_after_one_401(lab, tmp_path, service_account_token):
    token, _, username = service_account_token
    plugin = Plugin(tmp_path / "rejected", {"stdout": credential(token="not-a-token-the-server-knows")},
                    {"stdout": credential(token=token)})
    with new_for_config(build_config_from_flags("", exec_kubeconfig(lab, plugin))) as cs:
        with pytest.raises(Unauthorized):
            whoami(cs)
        assert whoami(cs)[0] == username
        assert whoami(cs)[0] == username
    assert len(plugin.runs()) == 2


def test_credentials_that_are_already_expired_make_every_request_run_the_plugin(lab, tmp_path, service_account_token):
    token, _, _ = service_account_token
    plugin = Plugin(tmp_path / "stale", {"stdout": credential(token=token, expirationTimestamp="2020-01-01T00:00:00Z")})
    with new_for_config(build_config_from_flags("", exec_kubeconfig(lab, plugin))) as cs:
        for _ in range(3):
            whoami(cs)
    assert len(plugin.runs()) == 3


def test_a_plugin_that_fails_fails_the_request_and_sends_nothing(lab, tmp_path):
    plugin = Plugin(tmp_path / "failing", {"exit": 1, "stderr": "error: no cached session; run `lab-login` first\n"})
    with trace() as t, new_for_config(build_config_from_flags("", exec_kubeconfig(lab, plugin))) as cs:
        with pytest.raises(ExecPluginFailed, match=r"user 'exec' in .*kubeconfig: executable .*plugin.py failed with "
                                                   r"exit code 1; its stderr ends: \"error: no cached session; run `lab-login` first\""):
            cs.core_v1().namespaces().list()
    assert len(t) == 0


def test_cluster_info_reaches_the_plugin(lab, tmp_path, service_account_token):
    plugin = Plugin(tmp_path / "info", {"stdout": credential(token=service_account_token[0])})
    with new_for_config(build_config_from_flags("", exec_kubeconfig(lab, plugin, provideClusterInfo=True))) as cs:
        whoami(cs)
    import json

    cluster = json.loads(plugin.runs()[0]["info"])["spec"]["cluster"]
    assert cluster["server"] == lab.server
    assert base64.b64decode(cluster["certificate-authority-data"]) == (lab.dir / "pki" / "ca.crt").read_bytes()


@pytest.mark.parametrize("kind", ["certificate", "token"])
def test_connect_with_an_exec_kubeconfig_goes_through_the_official_clients_exec_support(lab, tmp_path, monkeypatch, kind,
                                                                                         service_account_token):
    import k8slab
    from kubernetes import client

    status = lab_certificate(lab, "exec-official") if kind == "certificate" else {"token": service_account_token[0]}
    plugin = Plugin(tmp_path / kind, {"stdout": credential(**status)})
    monkeypatch.setenv("K8SLAB_KUBECONFIG", exec_kubeconfig(lab, plugin))
    cluster = k8slab.connect(progress=None)
    assert not cluster.is_lab and cluster.server == lab.server
    with cluster.api_client() as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review.status.user_info.username == ("exec-official" if kind == "certificate" else service_account_token[2])
    with new_for_config(build_config_from_flags("", cluster.kubeconfig)) as cs:  # and the chain, from the same file
        assert whoami(cs)[0] == review.status.user_info.username
