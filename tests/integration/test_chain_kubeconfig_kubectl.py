"""Kubeconfig merging checked against `kubectl config view --merge --raw` of the lab's version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from k8slab.chain.kubeconfig import load_kubeconfig
from k8slab.lab.build import resolve_binaries

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def kubectl(shared_lab):
    return resolve_binaries(["kubectl"], progress=None)["kubectl"]


def kubectl_view(kubectl: Path, files: list[Path]) -> dict:
    env = {**os.environ, "KUBECONFIG": os.pathsep.join(str(f) for f in files)}
    out = subprocess.run([kubectl, "config", "view", "--merge", "--raw"], env=env, capture_output=True, text=True, check=True)
    return yaml.safe_load(out.stdout)


def without_empty(value):
    """kubectl leaves out empty and false fields; compare what is set."""
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v not in (None, "", False, [], {})}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


@pytest.fixture
def files(tmp_path, lab):
    def write(name, doc):
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
        return path

    admin = write("admin.yaml", lab.kubeconfig.read_text())
    alice_doc = yaml.safe_load(lab.user("alice-kubectl").read_text())
    team = write("team.yaml", {
        "apiVersion": "v1", "kind": "Config", "current-context": "team",
        "clusters": [{"name": "k8slab", "cluster": {"server": "https://elsewhere:6443", "insecure-skip-tls-verify": True}},
                     {"name": "team-cluster", "cluster": {"server": "https://team:6443", "certificate-authority": "certs/ca.crt"}}],
        "users": [{"name": "alice", "user": alice_doc["users"][0]["user"]},
                  {"name": "admin", "user": {"token": "shadowed-token"}}],
        "contexts": [{"name": "team", "context": {"cluster": "team-cluster", "user": "alice", "namespace": "team"}}],
    })
    extra = write("extra.yaml", {
        "current-context": "extra",
        "users": [{"name": "bob", "user": {"client-certificate": "bob.crt", "client-key": "/abs/bob.key"}}],
        "contexts": [{"name": "extra", "context": {"cluster": "k8slab", "user": "bob"}},
                     {"name": "team", "context": {"cluster": "k8slab", "user": "bob"}}],
    })
    empty = write("empty.yaml", "")
    return {"admin": admin, "team": team, "extra": extra, "empty": empty, "missing": tmp_path / "missing.yaml"}


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["admin", "team", "extra"], id="admin first: its current-context and cluster win"),
        pytest.param(["team", "admin", "extra"], id="team first: its shadowing cluster and admin token win"),
        pytest.param(["extra", "team", "admin"], id="extra first: its current-context and team context win"),
        pytest.param(["missing", "empty", "extra", "team"], id="missing and empty files change nothing"),
        pytest.param(["team"], id="one file, relative paths kept as written"),
    ],
)
def test_merge_matches_kubectl(kubectl, files, order):
    paths = [files[name] for name in order]
    ours = load_kubeconfig(paths).to_dict(raw=True)
    assert without_empty(ours) == without_empty(kubectl_view(kubectl, paths))


def test_the_python_client_disagrees_on_current_context(kubectl, files):
    from kubernetes.config.kube_config import KubeConfigMerger

    paths = [files["admin"], files["team"], files["extra"]]
    assert kubectl_view(kubectl, paths)["current-context"] == load_kubeconfig(paths).current_context == "admin@k8slab"
    assert KubeConfigMerger(os.pathsep.join(map(str, paths))).config.value["current-context"] == "extra"  # the last file's


def test_a_duplicate_name_is_an_error_for_both(kubectl, tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("clusters:\n- {name: x, cluster: {server: s}}\n- {name: x, cluster: {server: t}}\n")
    result = subprocess.run([kubectl, "config", "view", "--merge", "--raw"], env={**os.environ, "KUBECONFIG": str(dup)},
                            capture_output=True, text=True)
    assert result.returncode != 0 and 'duplicate name "x"' in result.stderr
    from k8slab.errors import KubeconfigInvalid

    with pytest.raises(KubeconfigInvalid, match="duplicate name 'x'"):
        load_kubeconfig(dup)
