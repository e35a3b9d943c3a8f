"""kubeconfig: loading, merging as kubectl does, resolving a context, BuildConfigFromFlags.

kubectl itself is the oracle in tests/integration/test_chain_kubeconfig_kubectl.py; these tests
pin the same rules without a binary, plus the errors and the redaction."""

from __future__ import annotations

import base64
import os
import warnings
from pathlib import Path

import pytest
import yaml

from k8slab.chain.kubeconfig import ConfigWarning, build_config_from_flags, default_kubeconfig_paths, load_kubeconfig
from k8slab.chain.rest_config import in_cluster_config
from k8slab.errors import ConfigError, ContextNotFound, KubeconfigInvalid, KubeconfigNotFound

SECRET_KEY = "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END EC PRIVATE KEY-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write(path: Path, doc: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def config(*, current="", clusters=(), users=(), contexts=()) -> dict:
    doc = {"apiVersion": "v1", "kind": "Config"}
    if current:
        doc["current-context"] = current
    doc["clusters"] = [{"name": n, "cluster": c} for n, c in clusters]
    doc["users"] = [{"name": n, "user": u} for n, u in users]
    doc["contexts"] = [{"name": n, "context": c} for n, c in contexts]
    return doc


@pytest.fixture
def two_files(tmp_path):
    a = write(tmp_path / "a.yaml", config(
        clusters=[("shared", {"server": "https://a:6443", "certificate-authority": "ca.crt"}), ("only-a", {"server": "https://only-a"})],
        users=[("alice", {"token": "token-of-a"})],
        contexts=[("ctx-a", {"cluster": "shared", "user": "alice", "namespace": "team-a"})],
    ))
    b = write(tmp_path / "b.yaml", config(
        current="ctx-b",
        clusters=[("shared", {"server": "https://b:6443", "tls-server-name": "b"})],
        users=[("alice", {"username": "alice", "password": "pw-of-b"}), ("bob", {"token": "token-of-b"})],
        contexts=[("ctx-a", {"cluster": "only-b", "user": "bob"}), ("ctx-b", {"cluster": "shared", "user": "bob"})],
    ))
    return a, b


# -- merging ---------------------------------------------------------------------------------


def test_the_first_file_that_defines_a_name_wins_and_its_entry_is_taken_whole(two_files):
    a, b = two_files
    kc = load_kubeconfig([a, b])
    assert kc.clusters["shared"] == {"server": "https://a:6443", "certificate-authority": "ca.crt"}  # no tls-server-name from b
    assert kc.users["alice"] == {"token": "token-of-a"}
    assert kc.contexts["ctx-a"]["cluster"] == "shared"
    assert kc.origin[("users", "bob")] == b


def test_current_context_comes_from_the_first_file_that_sets_one(two_files, tmp_path):
    a, b = two_files
    c = write(tmp_path / "c.yaml", config(current="ctx-c", contexts=[("ctx-c", {"cluster": "shared"})]))
    assert load_kubeconfig([a, b, c]).current_context == "ctx-b"  # a sets none
    assert load_kubeconfig([c, b]).current_context == "ctx-c"


def test_listed_files_that_do_not_exist_are_skipped(two_files, tmp_path):
    a, _ = two_files
    kc = load_kubeconfig([tmp_path / "missing.yaml", a])
    assert kc.files == [a]


def test_when_no_listed_file_exists_it_says_which_were_tried(tmp_path):
    with pytest.raises(KubeconfigNotFound, match="none of the kubeconfig files exist: .*x.yaml, .*y.yaml"):
        load_kubeconfig([tmp_path / "x.yaml", tmp_path / "y.yaml"])


def test_an_explicit_path_must_exist(tmp_path):
    with pytest.raises(KubeconfigNotFound, match=r"kubeconfig .*nope.yaml does not exist; give the path of an existing file"):
        load_kubeconfig(tmp_path / "nope.yaml")


def test_an_empty_file_is_an_empty_config(two_files, tmp_path):
    empty = write(tmp_path / "empty.yaml", "")
    kc = load_kubeconfig([empty, two_files[1]])
    assert kc.current_context == "ctx-b" and set(kc.users) == {"alice", "bob"}


def test_kubeconfig_env_lists_files_in_order_without_duplicates(tmp_path):
    env = {"KUBECONFIG": os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "a"), ""])}
    assert default_kubeconfig_paths(env) == [tmp_path / "a", tmp_path / "b"]
    assert default_kubeconfig_paths({}) == [Path("~/.kube/config").expanduser()]


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("clusters: [\n  - name: a\n   bad", r"not valid YAML at line 2", id="malformed YAML names the line"),
        pytest.param("- just\n- a list\n", "is not a mapping", id="a list is not a kubeconfig"),
        pytest.param("kind: Pod\n", "has kind 'Pod'", id="another kind is refused"),
        pytest.param("clusters: {a: b}\n", "clusters must be a list", id="sections are lists"),
        pytest.param("users:\n- user: {token: x}\n", r"users\[0\] needs a name", id="entries need names"),
        pytest.param("clusters:\n- {name: x, cluster: {server: s}}\n- {name: x, cluster: {server: t}}\n",
                     "duplicate name 'x' in clusters", id="duplicate names in one file"),
    ],
)
def test_files_that_are_not_kubeconfigs_raise_kubeconfig_invalid_naming_the_file(tmp_path, text, message):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(KubeconfigInvalid, match=message) as info:
        load_kubeconfig(path)
    assert str(path) in str(info.value)


# -- resolving a context -----------------------------------------------------------------------


def test_an_unknown_context_lists_the_defined_ones(two_files):
    with pytest.raises(ContextNotFound, match="context 'prod' is not defined in .*; defined contexts: ctx-a, ctx-b"):
        load_kubeconfig(list(two_files)).client_config("prod")


def test_no_current_context_and_none_given(two_files):
    with pytest.raises(ContextNotFound, match="no context chosen: .* sets no current-context"):
        load_kubeconfig(two_files[0]).client_config()


def test_a_context_naming_a_missing_user_or_cluster(tmp_path):
    path = write(tmp_path / "k.yaml", config(
        clusters=[("c", {"server": "https://c"})], users=[("u", {"token": "t"})],
        contexts=[("no-user", {"cluster": "c", "user": "ghost"}), ("no-cluster", {"cluster": "gone", "user": "u"})],
    ))
    kc = load_kubeconfig(path)
    with pytest.raises(ContextNotFound, match="names user 'ghost', which no file defines \\(users: u\\)"):
        kc.client_config("no-user")
    with pytest.raises(ContextNotFound, match="names cluster 'gone', which no file defines \\(clusters: c\\)"):
        kc.client_config("no-cluster")


def test_a_cluster_without_a_server(tmp_path):
    path = write(tmp_path / "k.yaml", config(current="x", clusters=[("c", {})], contexts=[("x", {"cluster": "c"})]))
    with pytest.raises(ConfigError, match="cluster 'c' has no server"):
        load_kubeconfig(path).client_config()


def test_the_namespace_defaults_to_default(two_files):
    kc = load_kubeconfig(list(two_files))
    assert kc.namespace("ctx-a") == "team-a"
    assert kc.namespace("ctx-b") == "default"


# -- the rest config ------------------------------------------------------------------------------


def test_certificate_data_is_decoded(tmp_path):
    path = write(tmp_path / "k.yaml", config(
        current="x", clusters=[("c", {"server": "https://c:6443", "certificate-authority-data": b64("CA")})],
        users=[("u", {"client-certificate-data": b64("CERT"), "client-key-data": b64(SECRET_KEY)})],
        contexts=[("x", {"cluster": "c", "user": "u"})],
    ))
    cfg = load_kubeconfig(path).client_config()
    assert (cfg.host, cfg.tls.ca_data, cfg.tls.cert_data, cfg.tls.key_data) == ("https://c:6443", b"CA", b"CERT", SECRET_KEY.encode())
    assert cfg.auth_method() == "client certificate"


def test_relative_file_references_start_at_the_file_that_holds_them(tmp_path):
    write(tmp_path / "team" / "ca.crt", "CA")
    write(tmp_path / "team" / "token", "t0ken\n")
    path = write(tmp_path / "team" / "k.yaml", config(
        current="x", clusters=[("c", {"server": "https://c", "certificate-authority": "ca.crt"})],
        users=[("u", {"tokenFile": "token"})], contexts=[("x", {"cluster": "c", "user": "u"})],
    ))
    elsewhere = write(tmp_path / "other.yaml", config())
    kc = load_kubeconfig([elsewhere, path])
    assert kc.clusters["c"]["certificate-authority"] == "ca.crt"  # kept as written, as kubectl shows it
    cfg = kc.client_config()
    assert cfg.tls.ca_file == str((tmp_path / "team" / "ca.crt").resolve())
    assert cfg.bearer_token_file == str((tmp_path / "team" / "token").resolve())
    assert cfg.to_configuration().api_key["BearerToken"] == "Bearer t0ken"


@pytest.mark.parametrize(
    "user, error, message",
    [
        pytest.param({"client-certificate": "nope.crt", "client-key": "nope.key"}, ConfigError,
                     r"user 'u' in .*: client-certificate .*nope.crt does not exist", id="a referenced file is missing"),
        pytest.param({"client-certificate-data": "not base64!", "client-key-data": b64("k")}, KubeconfigInvalid,
                     "client-certificate-data is not valid base64", id="data that is not base64"),
        pytest.param({"client-certificate-data": b64("c")}, ConfigError, "a client certificate needs both", id="a certificate without its key"),
        pytest.param({"exec": {"command": "aws", "env": [{"name": "SECRET", "value": "s3cr3t"}]}}, KubeconfigInvalid,
                     "user 'u' in .*: exec: apiVersion must be specified", id="an exec section without apiVersion"),
    ],
)
def test_users_that_cannot_work_say_why(tmp_path, user, error, message):
    path = write(tmp_path / "k.yaml", config(current="x", clusters=[("c", {"server": "https://c"})], users=[("u", user)],
                                            contexts=[("x", {"cluster": "c", "user": "u"})]))
    with pytest.raises(error, match=message) as info:
        load_kubeconfig(path).client_config()
    assert "s3cr3t" not in str(info.value)


def test_secrets_never_show_in_repr_frame_or_view(tmp_path):
    path = write(tmp_path / "k.yaml", config(
        current="x", clusters=[("c", {"server": "https://c", "certificate-authority-data": b64("CA")})],
        users=[("u", {"client-certificate-data": b64("CERT"), "client-key-data": b64(SECRET_KEY)}),
               ("t", {"token": "tok3n"}), ("p", {"username": "me", "password": "passw0rd"}),
               ("e", {"exec": {"command": "helper", "env": [{"name": "K", "value": "s3cr3t"}]}})],
        contexts=[("x", {"cluster": "c", "user": "u"})],
    ))
    kc = load_kubeconfig(path)
    shown = repr(kc) + kc.frame().to_string() + yaml.safe_dump(kc.to_dict()) + repr(kc.client_config())
    for secret in (b64(SECRET_KEY), b64("CERT"), "tok3n", "passw0rd", "s3cr3t"):
        assert secret not in shown
    assert kc.to_dict()["users"][2]["user"] == {"token": "REDACTED"}
    assert kc.to_dict(raw=True)["users"][2]["user"] == {"token": "tok3n"}
    assert "DATA+OMITTED" in kc.frame().to_string()


# -- BuildConfigFromFlags ----------------------------------------------------------------------------


def test_a_kubeconfig_path_and_a_master_url_replace_the_server_and_keep_the_rest(tmp_path):
    path = write(tmp_path / "k.yaml", config(current="x", clusters=[("c", {"server": "https://c", "certificate-authority-data": b64("CA")})],
                                            users=[("u", {"token": "t"})], contexts=[("x", {"cluster": "c", "user": "u"})]))
    cfg = build_config_from_flags("https://other:6443", path)
    assert (cfg.host, cfg.tls.ca_data, cfg.bearer_token) == ("https://other:6443", b"CA", "t")


def test_a_master_url_alone_reads_no_file():
    cfg = build_config_from_flags("https://10.0.0.1:6443", "")
    assert cfg.host == "https://10.0.0.1:6443" and cfg.auth_method() == "none (anonymous)" and not cfg.tls.ca_data


def test_neither_flag_warns_tries_in_cluster_then_fails_without_reading_kubeconfig_or_home(two_files, tmp_path, monkeypatch):
    """client-go's "default config" here is empty loading rules: $KUBECONFIG and ~/.kube/config are never read."""
    home = tmp_path / "home"
    write(home / ".kube" / "config", yaml.safe_dump(yaml.safe_load(two_files[1].read_text())))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUBECONFIG", str(two_files[1]))
    monkeypatch.setenv("KUBERNETES_MASTER", "https://10.0.0.1:6443")  # named by client-go's message, read by nobody here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KubeconfigNotFound) as info:
            build_config_from_flags("", "", environ={"KUBECONFIG": str(two_files[1])})
    messages = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
    assert messages[0] == "Neither --kubeconfig nor --master was specified.  Using the inClusterConfig.  This might not work."
    assert messages[1].startswith("error creating inClusterConfig, falling back to default config: not running inside a Pod")
    assert len(messages) == 2
    assert str(info.value).startswith("invalid configuration: no configuration has been provided, "
                                      "try setting KUBERNETES_MASTER environment variable")
    assert "not $KUBECONFIG, not ~/.kube/config" in str(info.value) and "pass the kubeconfig's path" in str(info.value)


def test_neither_flag_inside_a_pod_is_the_in_cluster_config(tmp_path):
    write(tmp_path / "token", "sa-token\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = build_config_from_flags("", "", environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
                                      sa_dir=tmp_path)
    assert cfg.host == "https://10.96.0.1:443" and cfg.bearer_token == "sa-token"
    assert [str(w.message) for w in caught] == [
        "Neither --kubeconfig nor --master was specified.  Using the inClusterConfig.  This might not work."]


def test_load_kubeconfig_of_none_is_kubectls_default_rules_which_do_read_kubeconfig(two_files, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(two_files[1]))
    assert load_kubeconfig().client_config().host == "https://b:6443"


def test_in_cluster_config_reads_the_service_account_files(tmp_path):
    write(tmp_path / "token", "sa-token\n")
    write(tmp_path / "ca.crt", "CA")
    cfg = in_cluster_config({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, sa_dir=tmp_path)
    assert cfg.host == "https://[fd00::1]:443"
    assert (cfg.bearer_token, cfg.tls.ca_file) == ("sa-token", str(tmp_path / "ca.crt"))


def test_in_cluster_config_outside_a_pod_or_without_a_token(tmp_path):
    with pytest.raises(ConfigError, match="not running inside a Pod"):
        in_cluster_config({})
    with pytest.raises(ConfigError, match="cannot read the service-account token .*token"):
        in_cluster_config({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}, sa_dir=tmp_path)
