"""How the lab finds, checks and builds its binaries (no cluster needed)."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from k8slab.errors import BinaryBroken, BuildFailed, ToolchainMissing, UsageError
from k8slab.lab import build, gobuild

UPSTREAM = """\
// generated

module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tgithub.com/blang/semver/v4 v4.0.0
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

require (
\tk8s.io/streaming v0.0.0 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
\tk8s.io/streaming => ./staging/src/k8s.io/streaming
)
"""


def test_wrapper_go_mod_points_staging_modules_at_published_versions():
    text = gobuild.wrapper_go_mod(UPSTREAM, "v1.37.2", "v0.37.2")
    assert "module k8slab.local/kubebuild" in text
    assert "\tk8s.io/kubernetes v1.37.2" in text
    assert "k8s.io/api => k8s.io/api v0.37.2" in text
    assert "k8s.io/client-go => k8s.io/client-go v0.37.2" in text
    assert "./staging" not in text
    assert "godebug default=go1.26" in text  # only the main module's godebug counts


def test_wrapper_go_mod_drops_replaces_of_modules_nothing_requires():
    text = gobuild.wrapper_go_mod(UPSTREAM, "v1.37.2", "v0.37.2")
    assert "sample-controller" not in text  # not published at v0.37.2, and not needed
    assert "k8s.io/streaming => k8s.io/streaming v0.37.2" in text  # required (indirect) stays


def test_version_stamp_covers_both_version_packages():
    flags = gobuild.kubernetes_ldflags("v1.37.2")
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion=v1.37.2" in flags
        assert f"-X {pkg}.gitMinor=37" in flags


def _fake_binary(path: Path, prints: str, exit_code: int = 0) -> Path:
    path.write_text(f"#!/bin/sh\necho '{prints}'\nexit {exit_code}\n")
    path.chmod(0o755)
    return path


def test_supplied_binaries_are_used_without_go(tmp_path, monkeypatch):
    _fake_binary(tmp_path / "etcd", "etcd Version: 3.6.16")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert build.resolve_binaries(["etcd"], progress=None) == {"etcd": tmp_path / "etcd"}


@pytest.mark.parametrize(
    "content, exit_code, why",
    [
        pytest.param("etcd Version: 3.4.23", 0, "not v3.6.16", id="wrong version"),
        pytest.param("segfault", 139, "exited 139", id="crashes"),
    ],
)
def test_a_broken_supplied_binary_is_named(tmp_path, monkeypatch, content, exit_code, why):
    _fake_binary(tmp_path / "etcd", content, exit_code)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    with pytest.raises(BinaryBroken) as err:
        build.resolve_binaries(["etcd"], progress=None)
    assert str(tmp_path / "etcd") in str(err.value) and "KUBEBUILDER_ASSETS" in str(err.value)
    assert why in str(err.value)


def test_a_supplied_directory_without_the_binary_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    with pytest.raises(BinaryBroken, match="has no kube-apiserver"):
        build.resolve_binaries(["kube-apiserver"], progress=None)


def test_unknown_binary_names_are_usage_errors():
    with pytest.raises(UsageError, match="unknown binaries"):
        build.resolve_binaries(["kube-proxy"], progress=None)


def test_no_go_and_no_binaries_says_exactly_that(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no `go` here
    with pytest.raises(ToolchainMissing) as err:
        build.resolve_binaries(["etcd"], progress=None)
    text = str(err.value)
    assert "no `go` command" in text and "etcd" in text and "KUBEBUILDER_ASSETS" in text


def test_a_failed_build_names_the_command_and_its_log(tmp_path, monkeypatch):
    fake_go = tmp_path / "bin" / "go"
    fake_go.parent.mkdir()
    _fake_binary(fake_go, "go: module lookup disabled", 1)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{fake_go.parent}:/usr/bin:/bin")
    with pytest.raises(BuildFailed) as err:
        build.resolve_binaries(["etcd"], progress=None)
    assert "go get go.etcd.io/etcd/server/v3@v3.6.16" in err.value.command
    assert err.value.log and Path(err.value.log).exists()
    assert err.value.log in str(err.value)
    assert "module lookup disabled" in Path(err.value.log).read_text()


@pytest.mark.slow
def test_a_corrupt_cached_binary_is_detected_and_rebuilt(tmp_path, monkeypatch):
    """Needs Go (the real build of etcd into a fresh cache; warm Go caches make it quick)."""
    if shutil.which("go") is None:
        pytest.skip("needs Go")
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path))
    cached = tmp_path / "bin" / f"etcd-{build.ETCD_VERSION}" / "etcd"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\x7fELF this is not a program")
    cached.chmod(0o755)
    said: list[str] = []
    path = build.resolve_binaries(["etcd"], progress=said.append)["etcd"]
    assert any("is broken" in s and "building it again" in s for s in said)
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True)
    assert "3.6.16" in out.stdout
    # The next call trusts the verified binary without running it again.
    assert build.resolve_binaries(["etcd"], progress=said.append)["etcd"] == path


def test_pki_files_holding_keys_are_0600(tmp_path):
    from k8slab.lab.pki import CA, kubeconfig_dict, write_kubeconfig

    ca = CA.create(tmp_path)
    cert, key = ca.issue("alice", organizations=["devs"])
    ca.write_pair("alice", cert, key)
    write_kubeconfig(tmp_path / "kc", kubeconfig_dict(
        server="https://127.0.0.1:1", ca_pem=ca.cert_pem, user="alice", cert_pem=cert, key_pem=key))
    for name in ("ca.key", "alice.key", "kc"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((tmp_path / "ca.crt").stat().st_mode) & 0o077 != 0o077  # certificates are public


def test_issued_certificates_carry_user_groups_and_server_names(tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from k8slab.lab.pki import CA

    ca = CA.create(tmp_path)
    cert_pem, _ = ca.issue("kube-apiserver", server_names=["localhost"], server_ips=["127.0.0.1"], client=False)
    cert = x509.load_pem_x509_certificate(cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    user_pem, _ = ca.issue("bob", organizations=["system:masters", "ops"])
    subject = x509.load_pem_x509_certificate(user_pem).subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters", "ops"]
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "bob"
