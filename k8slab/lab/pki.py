"""The lab's certificates and kubeconfigs, made with the `cryptography` package.

What kubeadm and envtest make, trimmed to one loopback machine:

- a CA that signs everything (`ca.crt`, `ca.key`);
- the API server's serving certificate, valid for `localhost`, `127.0.0.1` and
  the first Service IP (`kubernetes.default` resolves there inside a cluster);
- client certificates, one per user: the subject's CN is the user name and
  each O is a group (`admin` in `system:masters` is the lab's administrator);
- the service-account key pair that signs and verifies ServiceAccount tokens.

Keys are ECDSA P-256: fast to make and accepted by every component. Every file
holding a key, and every kubeconfig (they embed keys), is written with mode
0600 from the start (never created readable, then narrowed).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import Iterable

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import UsageError

__all__ = ["CA", "kubeconfig_dict", "write_kubeconfig", "write_lab_pki", "write_private"]

_VALIDITY = dt.timedelta(days=365)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600, never wider, even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, data)
    finally:
        os.close(fd)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(**on: bool) -> x509.KeyUsage:
    """An `x509.KeyUsage` with every one of its nine flags off except those in `on`."""
    flags = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
        False,
    )
    flags.update(on)
    return x509.KeyUsage(**flags)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CA:
    """A certificate authority held in a directory (`ca.crt`, `ca.key`)."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, directory: Path):
        self.cert = cert
        self.key = key
        self.directory = directory

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def cert_pem(self) -> bytes:
        return _cert_pem(self.cert)

    @classmethod
    def create(cls, directory: Path, common_name: str = "k8slab-ca") -> "CA":
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + 10 * _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.crt").write_bytes(_cert_pem(cert))
        write_private(directory / "ca.key", _key_pem(key))
        return cls(cert, key, directory)

    @classmethod
    def load(cls, directory: Path) -> "CA":
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(cert, key, directory)

    def issue(
        self,
        common_name: str,
        *,
        organizations: Iterable[str] = (),
        server_names: Iterable[str] = (),
        server_ips: Iterable[str] = (),
        client: bool = True,
    ) -> tuple[bytes, bytes]:
        """Issue a leaf certificate; returns (cert PEM, key PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = dt.datetime.now(dt.timezone.utc)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
        if sans:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(digital_signature=True),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _cert_pem(cert), _key_pem(key)

    def write_pair(self, stem: str, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
        """Store a leaf pair next to the CA as `<stem>.crt` / `<stem>.key` (0600)."""
        crt, key = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        crt.write_bytes(cert_pem)
        write_private(key, key_pem)
        return crt, key


def service_account_keys(directory: Path) -> tuple[Path, Path]:
    """Write the ServiceAccount token signing key and its public half."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / "sa.key", directory / "sa.pub"
    write_private(private, _key_pem(key))
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def kubeconfig_dict(
    *, server: str, ca_pem: bytes | None, user: str, cert_pem: bytes = b"", key_pem: bytes = b"", token: str = "",
    cluster: str = "k8slab",
) -> dict:
    """A one-cluster, one-user kubeconfig with the credentials embedded: a client certificate, or a `token`.

    `ca_pem` None: the server's certificate is checked against the system's trust store.
    """

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    if bool(token) == bool(cert_pem and key_pem):
        raise UsageError("kubeconfig_dict needs either a client certificate and key or a token, not both")
    credentials = {"token": token} if token else {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
    server_entry = {"server": server, **({"certificate-authority-data": b64(ca_pem)} if ca_pem else {})}
    context = f"{user}@{cluster}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": server_entry}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user, "namespace": "default"}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: dict) -> Path:
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
    return path


# The identities RBAC's bootstrap policy names, one per component (kwok, not a
# Kubernetes component, gets administrator rights, as kwokctl gives it).
COMPONENT_IDENTITIES = {
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok", ("system:masters",)),
}


def write_lab_pki(lab_dir: Path, server: str, components: Iterable[str]) -> None:
    """Everything a lab needs: CA, serving cert, SA keys, the admin and component kubeconfigs."""
    pki = lab_dir / "pki"
    ca = CA.create(pki)
    ca.write_pair("apiserver", *ca.issue(
        "kube-apiserver",
        server_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                      "kubernetes.default.svc.cluster.local"],
        server_ips=["127.0.0.1", "10.96.0.1"],  # loopback, and the `kubernetes` Service's IP
        client=False,
    ))
    # The nodes' kubelet port (the kubelet gate in front of kwok), and the
    # API server's identity there, as kubeadm names it.
    ca.write_pair("kubelet", *ca.issue("kubelet-gate", server_names=["localhost"], server_ips=["127.0.0.1"],
                                       client=False))
    ca.write_pair("apiserver-kubelet-client", *ca.issue("kube-apiserver-kubelet-client"))
    admin_cert, admin_key = ca.issue("admin", organizations=["system:masters"])
    ca.write_pair("admin", admin_cert, admin_key)
    service_account_keys(pki)
    write_kubeconfig(lab_dir / "kubeconfig", kubeconfig_dict(
        server=server, ca_pem=ca.cert_pem, user="admin", cert_pem=admin_cert, key_pem=admin_key))
    for component in components:
        if component in COMPONENT_IDENTITIES:
            cn, groups = COMPONENT_IDENTITIES[component]
            cert, key = ca.issue(cn, organizations=groups)
            write_kubeconfig(lab_dir / "components" / f"{component}.kubeconfig", kubeconfig_dict(
                server=server, ca_pem=ca.cert_pem, user=cn, cert_pem=cert, key_pem=key))
