"""Exec credential plugins: the kubeconfig section, one run of a plugin, caching, expiry, the 401 rule.

The plugins are small Python scripts written to tmp_path: real processes, real environment,
real stdout and stderr. client-go's exec.go is the reference (and its exec_test.go the model:
a plugin whose answer the test sets, a fake clock for expiry)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from k8slab.chain.exec_credential import Authenticator, ExecConfig, configuration_for, get_authenticator
from k8slab.chain.kubeconfig import load_kubeconfig
from k8slab.chain.rest_client import RESTClient, api_client_for
from k8slab.chain.rest_config import RestConfig, TLSClientConfig
from k8slab.chain.testing import mock_api_client
from k8slab.chain.trace import trace
from k8slab.errors import ConfigError, ExecPluginFailed, KubeconfigInvalid, ServerUnreachable, Unauthorized
from tests.unit._exec_plugin import V1, V1BETA1, Plugin, credential

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLWZvci10ZXN0cw.c2lnbmF0dXJl"  # shaped like a JWT
NOW = dt.datetime(2030, 1, 2, 15, 4, 5, tzinfo=dt.timezone.utc)

def authenticator(plugin: Plugin, clock: list[dt.datetime] | None = None, terminal: bool = False, cluster=None,
                  **fields) -> Authenticator:
    return Authenticator(plugin.config(**fields), cluster, now=(lambda: clock[0]) if clock else None,
                         environ=lambda: {"PATH": os.environ["PATH"], "FROM_PARENT": "yes"},
                         is_terminal=lambda: terminal, stderr=io.StringIO())


@pytest.fixture
def plugin(tmp_path):
    return Plugin(tmp_path / "plugin", {"stdout": credential(token=TOKEN)})


@pytest.fixture
def stdin_pipe():
    """This process's stdin (fd 0) is a pipe while the test runs, so a plugin can tell ours from /dev/null."""
    saved, (read, write) = os.dup(0), os.pipe()
    os.dup2(read, 0)
    try:
        yield
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read, write):
            os.close(fd)


# -- the kubeconfig section ----------------------------------------------------------------------


def kubeconfig(tmp_path: Path, exec_section, **user) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "x",
           "clusters": [{"name": "c", "cluster": {"server": "https://c:6443", "extensions": [
               {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "lab"}}]}}],
           "users": [{"name": "u", "user": {**({"exec": exec_section} if exec_section is not None else {}), **user}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kube" / "config"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def test_an_exec_user_becomes_the_rest_configs_exec_provider_and_nothing_runs_yet(tmp_path):
    path = kubeconfig(tmp_path, {"apiVersion": V1, "command": "./bin/get-token", "args": ["--id", "s3cr3t-arg"],
                                 "env": [{"name": "PROFILE", "value": "s3cr3t-env"}], "interactiveMode": "Never",
                                 "provideClusterInfo": True, "installHint": "brew install \x1b[1mget-token\x1b[0m"})
    cfg = load_kubeconfig(path).client_config()
    ex = cfg.exec_provider
    assert ex.command == str(path.parent.resolve() / "bin" / "get-token")  # relative to the kubeconfig's folder
    assert (ex.args, ex.env, ex.api_version, ex.interactive_mode) == (["--id", "s3cr3t-arg"], [("PROFILE", "s3cr3t-env")], V1, "Never")
    assert ex.provide_cluster_info and ex.config == {"audience": "lab"}  # the cluster's exec extension
    assert ex.install_hint == "brew install U+001B[1mget-tokenU+001B[0m"  # cleanANSIEscapeCodes
    assert cfg.auth_method() == "exec plugin"
    shown = repr(cfg) + repr(ex) + cfg.fields().to_string() + yaml.safe_dump(load_kubeconfig(path).to_dict())
    assert "s3cr3t" not in shown and "get-token" in shown


def test_a_command_without_a_slash_is_looked_up_on_path_and_v1beta1_defaults_to_if_available(tmp_path):
    ex = load_kubeconfig(kubeconfig(tmp_path, {"apiVersion": V1BETA1, "command": "aws"})).client_config().exec_provider
    assert (ex.command, ex.interactive_mode, ex.provide_cluster_info, ex.config) == ("aws", "IfAvailable", False, {"audience": "lab"})


@pytest.mark.parametrize(
    "section, message",
    [
        pytest.param({"apiVersion": V1, "interactiveMode": "Never"}, "command must be specified", id="no command"),
        pytest.param({"command": "aws", "interactiveMode": "Never"}, "apiVersion must be specified", id="no apiVersion"),
        pytest.param({"command": "aws", "apiVersion": "client.authentication.k8s.io/v1alpha1"},
                     "invalid apiVersion .*v1alpha1.*removed in Kubernetes 1.24", id="v1alpha1 is gone"),
        pytest.param({"command": "aws", "apiVersion": V1}, "interactiveMode must be specified for .*/v1", id="v1 needs interactiveMode"),
        pytest.param({"command": "aws", "apiVersion": V1, "interactiveMode": "Sometimes"}, "invalid interactiveMode 'Sometimes'",
                     id="an unknown interactiveMode"),
        pytest.param({"command": "aws", "apiVersion": V1, "interactiveMode": "Never", "env": [{"value": "v"}]},
                     "env variable name must be specified", id="an env entry without a name"),
        pytest.param({"command": "aws", "apiVersion": V1, "interactiveMode": "Never", "args": "--flag"},
                     "args must be a list of strings", id="args as one string"),
    ],
)
def test_exec_sections_that_cannot_work_say_why_and_where(tmp_path, section, message):
    with pytest.raises(KubeconfigInvalid, match=f"user 'u' in .*config: exec: {message}"):
        load_kubeconfig(kubeconfig(tmp_path, section)).client_config()


def test_a_token_of_the_users_own_wins_over_its_exec_plugin(tmp_path, plugin):
    path = kubeconfig(tmp_path, {"apiVersion": V1, "command": str(plugin.path), "interactiveMode": "Never"}, token="own")
    cfg = load_kubeconfig(path).client_config()
    assert cfg.exec_authenticator() is None and cfg.auth_method() == "bearer token"
    api = mock_api_client(lambda req: (200, {}), config=cfg)
    RESTClient(api).get().resource("pods").do()
    assert api.rest_client.requests[0].headers["authorization"] == "Bearer own" and plugin.runs() == []


@pytest.mark.parametrize(
    "provider, successor",
    [
        pytest.param({"name": "gcp", "config": {"access-token": "s3cr3t"}}, "exec plugin gke-gcloud-auth-plugin", id="gcp"),
        pytest.param({"name": "azure"}, "exec plugin kubelogin", id="azure"),
        pytest.param({"name": "oidc", "config": {"id-token": "s3cr3t"}}, "exec plugin kubelogin", id="oidc"),
        pytest.param({"name": "acme"}, "gke-gcloud-auth-plugin on GKE, kubelogin on AKS.*`aws eks get-token` on EKS",
                     id="any other provider"),
    ],
)
def test_auth_providers_stay_refused_naming_the_exec_plugin_that_replaced_them(tmp_path, provider, successor):
    with pytest.raises(ConfigError, match=f"auth-provider '{provider['name']}'.*{successor}") as info:
        load_kubeconfig(kubeconfig(tmp_path, None, **{"auth-provider": provider})).client_config()
    assert "s3cr3t" not in str(info.value)


def test_an_auth_provider_beside_an_exec_plugin_is_refused(tmp_path):
    path = kubeconfig(tmp_path, {"apiVersion": V1, "command": "aws", "interactiveMode": "Never"}, **{"auth-provider": {"name": "gcp"}})
    with pytest.raises(ConfigError, match="both an auth-provider and an exec plugin"):
        load_kubeconfig(path).client_config()


# -- one run ---------------------------------------------------------------------------------------


def test_the_plugin_gets_args_env_and_exec_info_and_its_token_is_used(plugin):
    auth = authenticator(plugin, args=["--cluster", "prod"], env=[("EXTRA", "from-kubeconfig")])
    creds = auth.get_creds()
    assert creds.token == TOKEN and creds.expiry is None and creds.kind() == "token"
    (run,) = plugin.runs()
    assert run["argv"] == ["--cluster", "prod"]
    assert run["env"] == {"EXTRA": "from-kubeconfig", "FROM_PARENT": "yes"}  # ours, plus the kubeconfig's
    assert run["info"] == '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}'
    assert run["stdin_is_devnull"]  # not interactive: no stdin at all
    assert TOKEN not in repr(creds) + repr(auth)


def test_provide_cluster_info_tells_the_plugin_which_cluster_it_is_for(plugin):
    cfg = RestConfig(host="https://api.example:6443", proxy="http://proxy:3128",
                     tls=TLSClientConfig(ca_data=b"CA PEM", server_name="api", insecure=False),
                     exec_provider=plugin.config(provide_cluster_info=True, config={"audience": "lab"}))
    api = mock_api_client(lambda req: (200, {}), config=cfg)
    RESTClient(api).get().resource("pods").do()
    info = json.loads(plugin.runs()[0]["info"])
    assert info["spec"] == {"cluster": {"server": "https://api.example:6443", "tls-server-name": "api",
                                        "certificate-authority-data": base64.b64encode(b"CA PEM").decode(),
                                        "proxy-url": "http://proxy:3128", "config": {"audience": "lab"}},
                            "interactive": False}


def test_without_an_extension_the_clusters_config_is_null(plugin):
    cfg = RestConfig(host="https://h", exec_provider=plugin.config(provide_cluster_info=True))
    RESTClient(mock_api_client(lambda req: (200, {}), config=cfg)).get().resource("pods").do()
    assert plugin.runs()[0]["info"].endswith('"spec":{"cluster":{"server":"https://h","config":null},"interactive":false}}')


@pytest.mark.parametrize(
    "mode, terminal, unavailable, interactive",
    [
        pytest.param("Never", True, False, False, id="Never, even on a terminal"),
        pytest.param("IfAvailable", True, False, True, id="IfAvailable on a terminal"),
        pytest.param("IfAvailable", False, False, False, id="IfAvailable without a terminal"),
        pytest.param("IfAvailable", True, True, False, id="IfAvailable while stdin is in use"),
        pytest.param("Always", True, False, True, id="Always on a terminal"),
    ],
)
def test_interactive_mode_follows_client_gos_stdin_rules(plugin, stdin_pipe, mode, terminal, unavailable, interactive):
    authenticator(plugin, terminal=terminal, interactive_mode=mode, stdin_unavailable=unavailable).get_creds()
    (run,) = plugin.runs()
    assert json.loads(run["info"])["spec"]["interactive"] is interactive
    assert (run["stdin_is_a_pipe"], run["stdin_is_devnull"]) == ((True, False) if interactive else (False, True))  # ours, or none


@pytest.mark.parametrize(
    "terminal, unavailable, message",
    [
        pytest.param(False, False, "needs an interactive terminal .*standard input is not a terminal", id="no terminal"),
        pytest.param(True, True, "standard input is unavailable: stdin holds the manifest", id="stdin in use"),
    ],
)
def test_always_needs_a_terminal_and_stdin(plugin, terminal, unavailable, message):
    auth = authenticator(plugin, terminal=terminal, interactive_mode="Always", stdin_unavailable=unavailable,
                         stdin_unavailable_message="stdin holds the manifest")
    with pytest.raises(ExecPluginFailed, match=message):
        auth.get_creds()
    assert plugin.runs() == []


# -- what the plugin answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        pytest.param({"stdout": "token=" + TOKEN}, r"not an ExecCredential \(no JSON object on stdout", id="not JSON"),
        pytest.param({"stdout": {"apiVersion": "v1", "kind": "Secret", "status": {"token": TOKEN}}},
                     "kind 'Secret' of apiVersion 'v1', not an ExecCredential", id="another kind"),
        pytest.param({"stdout": credential(V1BETA1, token=TOKEN)},
                     "configured to use API version .*/v1, and the plugin returned version .*/v1beta1", id="another version"),
        pytest.param({"stdout": {"apiVersion": V1, "kind": "ExecCredential"}}, "didn't return a status field", id="no status"),
        pytest.param({"stdout": credential()}, "didn't return a token or cert/key pair", id="an empty status"),
        pytest.param({"stdout": credential(clientCertificateData="-----BEGIN CERTIFICATE-----")}, "only a certificate or a key",
                     id="a certificate without its key"),
        pytest.param({"stdout": credential(clientCertificateData="junk", clientKeyData="-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n")},
                     "failed parsing the client key/certificate", id="a certificate that is not PEM"),
        pytest.param({"stdout": credential(token=TOKEN, expirationTimestamp="tomorrow")},
                     "expirationTimestamp 'tomorrow' is not an RFC 3339 time", id="a bad timestamp"),
        pytest.param({"exit": 3, "stderr": f"contacting the IdP\nerror: refresh token {TOKEN} expired; run `login`\n"},
                     r"exit code 3; its stderr ends: \"error: refresh token \[REDACTED\] expired; run `login`\"",
                     id="a non-zero exit quotes stderr's last line without secrets"),
        pytest.param({"exit": 1}, "exit code 1 and wrote nothing to stderr", id="a silent failure"),
    ],
)
def test_answers_that_cannot_be_used_say_what_was_wrong_and_leak_nothing(plugin, answer, message):
    plugin.answer(answer)
    with pytest.raises(ExecPluginFailed, match=message) as info:
        authenticator(plugin, env=[("EXTRA", "kubeconfig-s3cr3t")]).get_creds()
    assert TOKEN not in str(info.value) and "s3cr3t" not in str(info.value)
    assert str(info.value).startswith("getting credentials from the exec plugin")


def test_a_key_that_is_not_the_certificates_is_refused(plugin, tmp_path):
    from k8slab.lab.pki import CA

    ca = CA.create(tmp_path / "pki")
    cert, _ = ca.issue("alice")
    _, other_key = ca.issue("bob")
    plugin.answer({"stdout": credential(clientCertificateData=cert.decode(), clientKeyData=other_key.decode())})
    with pytest.raises(ExecPluginFailed, match="does not belong to its certificate") as info:
        authenticator(plugin).get_creds()
    assert "PRIVATE KEY" not in str(info.value)


def test_the_plugins_stderr_is_passed_on(plugin):
    plugin.answer({"stdout": credential(token=TOKEN), "stderr": "opening browser for login...\n"})
    auth = authenticator(plugin)
    auth.get_creds()
    assert auth._stderr.getvalue() == "opening browser for login...\n"


def test_a_command_not_on_path_shows_the_install_hint():
    auth = Authenticator(ExecConfig(command="k8slab-no-such-plugin", api_version=V1, install_hint="pip install k8slab-plugin",
                                    source="user 'u' in kubeconfig"))
    with pytest.raises(ExecPluginFailed, match="user 'u' in kubeconfig: executable k8slab-no-such-plugin not found on PATH: "
                                               ".*not installed; the kubeconfig's install hint: pip install k8slab-plugin"):
        auth.get_creds()


def test_a_missing_or_unrunnable_path_says_what_to_do(plugin, tmp_path):
    with pytest.raises(ExecPluginFailed, match="No such file or directory .*relative to the kubeconfig's folder"):
        Authenticator(ExecConfig(command=str(tmp_path / "missing.py"), api_version=V1)).get_creds()
    plugin.path.chmod(0o644)
    with pytest.raises(ExecPluginFailed, match=r"Permission denied \(make it executable"):
        authenticator(plugin).get_creds()


# -- caching, expiry, the 401 rule ----------------------------------------------------------------


def test_credentials_are_cached_until_their_expiration_timestamp(plugin):
    clock = [NOW]
    plugin.answer({"stdout": credential(token="t1", expirationTimestamp="2030-01-02T16:04:05Z")},
                  {"stdout": credential(token="t2")})
    auth = authenticator(plugin, clock)
    assert [auth.get_creds().token for _ in range(3)] == ["t1"] * 3 and auth.runs == 1
    clock[0] = NOW + dt.timedelta(hours=1)  # exactly the expiry: not after it yet
    assert auth.get_creds().token == "t1"
    clock[0] += dt.timedelta(seconds=1)
    assert auth.get_creds().token == "t2" and auth.runs == 2
    clock[0] += dt.timedelta(days=365)  # no expirationTimestamp: kept until a 401
    assert auth.get_creds().token == "t2" and auth.runs == 2


def test_a_401_reruns_the_plugin_once_unless_the_credentials_already_rotated(plugin):
    plugin.answer({"stdout": credential(token="t1")}, {"stdout": credential(token="t2")}, {"stdout": credential(token="t3")})
    auth = authenticator(plugin)
    first = auth.get_creds()
    auth.maybe_refresh_creds(first)
    assert auth.get_creds().token == "t2"
    auth.maybe_refresh_creds(first)  # a second request that also carried t1: t2 is already there
    assert auth.get_creds().token == "t2" and auth.runs == 2


def test_one_authenticator_per_exec_config_and_cluster(plugin):
    config = plugin.config()
    same = plugin.config()
    assert get_authenticator(config) is get_authenticator(same)
    assert get_authenticator(config, {"server": "https://a"}) is not get_authenticator(config, {"server": "https://b"})
    assert get_authenticator(config) is not get_authenticator(plugin.config(args=["--other"]))


# -- through the client: the header, the 401, the trace ------------------------------------------


def test_clients_carry_the_token_and_a_401_makes_the_next_request_carry_a_new_one(plugin):
    plugin.answer({"stdout": credential(token="stale")}, {"stdout": credential(token=TOKEN)})
    cfg = RestConfig(host="https://mock.invalid", exec_provider=plugin.config(args=["--client-test"]))
    api = mock_api_client(lambda req: (200, {}) if req.headers.get("authorization") == f"Bearer {TOKEN}"
                          else (401, {"kind": "Status", "reason": "Unauthorized", "code": 401, "message": "Unauthorized"}), config=cfg)
    assert plugin.runs() == []  # building the client runs nothing
    rest = RESTClient(api)
    with trace() as t:
        with pytest.raises(Unauthorized):
            rest.get().resource("pods").do()  # the 401 comes back: client-go does not resend
        assert len(plugin.runs()) == 2  # ...but the plugin already ran again
        rest.get().resource("pods").do()
        rest.get().resource("pods").do()
    assert [r.headers["authorization"] for r in api.rest_client.requests] == ["Bearer stale", f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
    assert len(plugin.runs()) == 2
    assert [e.status for e in t] == [401, 200, 200]
    assert {e.headers["authorization"] for e in t} == {"REDACTED"} and TOKEN not in t.frame().to_string()


def test_a_failing_plugin_fails_the_request_with_its_error(plugin):
    plugin.answer({"exit": 2, "stderr": "no session\n"})
    cs_api = mock_api_client(lambda req: (200, {}), config=RestConfig(host="https://mock.invalid",
                                                                        exec_provider=plugin.config(args=["--failing"])))
    from k8slab.chain.clientset import Clientset

    with pytest.raises(ExecPluginFailed, match='exit code 2; its stderr ends: "no session"'):
        Clientset(cs_api).core_v1().pods("default").list()
    assert cs_api.rest_client.requests == []  # nothing was sent without credentials


def test_a_plain_api_client_of_the_configuration_carries_the_token_too(plugin):
    from kubernetes.client import ApiClient

    conf = configuration_for(authenticator(plugin))
    assert ApiClient(conf).param_serialize("GET", "/api", auth_settings=["BearerToken"])[2]["authorization"] == f"Bearer {TOKEN}"
    assert conf.__deepcopy__({}).exec_authenticator is conf.exec_authenticator  # shared, never copied


def test_a_client_certificate_from_the_plugin_gets_a_pool_of_its_own(plugin, tmp_path):
    from k8slab.lab.pki import CA

    ca = CA.create(tmp_path / "pki")
    (c1, k1), (c2, k2) = ca.issue("first"), ca.issue("second")
    plugin.answer({"stdout": credential(clientCertificateData=c1.decode(), clientKeyData=k1.decode())},
                  {"stdout": credential(clientCertificateData=c2.decode(), clientKeyData=k2.decode())})
    api = api_client_for(RestConfig(host="https://127.0.0.1:9", exec_provider=plugin.config(args=["--cert-test"])))
    pools = []
    for _ in range(2):  # nothing listens on port 9: each request fails after the pool was chosen
        with pytest.raises(ServerUnreachable):
            RESTClient(api).get().resource("pods").do()
        pools.append(api.rest_client)
    assert pools[0] is pools[1] and Path(api.configuration.cert_file).read_bytes() == c1
    assert pools[0].pool_manager.connection_pool_kw["cert_file"] == api.configuration.cert_file
    assert stat.S_IMODE(os.stat(api.configuration.key_file).st_mode) == 0o600
    api._exec.maybe_refresh_creds(api._exec.cached())  # as a 401 would
    with pytest.raises(ServerUnreachable):
        RESTClient(api).get().resource("pods").do()
    assert api.rest_client is not pools[0] and Path(api.configuration.cert_file).read_bytes() == c2
    assert api.rest_client.pool_manager.connection_pool_kw["key_file"] == api.configuration.key_file
    api.close()


def test_a_rerun_that_fails_after_a_401_is_logged_and_the_caller_gets_the_401(plugin, caplog):
    plugin.answer({"stdout": credential(token="stale")}, {"exit": 1, "stderr": "the IdP is down\n"})
    cfg = RestConfig(host="https://mock.invalid", exec_provider=plugin.config(args=["--rerun-fails"]))
    api = mock_api_client(lambda req: (401, {"kind": "Status", "reason": "Unauthorized", "code": 401, "message": "Unauthorized"}),
                          config=cfg)
    with caplog.at_level("WARNING", logger="k8slab.chain.rest_client"), pytest.raises(Unauthorized):
        RESTClient(api).get().resource("pods").do()
    assert len(plugin.runs()) == 2
    assert 'refreshing credentials after a 401: ' in caplog.text and '"the IdP is down"' in caplog.text
