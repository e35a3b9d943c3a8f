"""The rest config: everything a client needs to reach and authenticate to one API server.

Mirrors client-go v0.37.2 `rest/config.go` (`rest.Config`, `TLSClientConfig`,
`InClusterConfig`); stands for the `kubernetes` 37.x client's
`kubernetes.client.Configuration`, which `to_configuration()` builds and `fields()`
lays beside the Go names. Two differences show there: the Python client hands
*file names* to urllib3, so certificate data is written to private temporary files
(mode 0600, removed at exit), as `kubernetes.config.load_kube_config` does; and
QPS/Burst and Timeout have no home in `Configuration` (k8slab applies them in
`rest_client.ThrottledApiClient`).

Kept: host, bearer token (and token file), basic auth, client certificate and key
(file or data), CA (file or data), insecure, TLS server name, proxy, user agent,
QPS, Burst, Timeout, a ready-made `RateLimiter`, `ExecProvider` (an exec credential
plugin, used only when the config has no token, basic auth or certificate of its own,
as `TransportConfig` and the plugin's `UpdateTransportConfig` decide; see
`exec_credential.py`); the in-cluster config.
Left out: auth-provider plugins, impersonation, `WrapTransport`, `Dial`, content
negotiation (JSON only), `WarningHandler`. Secrets never appear in `repr`,
`fields()` or error messages.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping

from k8slab.chain.exec_credential import Authenticator, ExecConfig, configuration_for, exec_cluster, get_authenticator
from k8slab.chain.flowcontrol import RateLimiter
from k8slab.errors import CredentialsUnreadable, NotInCluster

__all__ = ["DATA_OMITTED", "REDACTED", "RestConfig", "TLSClientConfig", "client_certificate_files", "in_cluster_config"]

REDACTED = "REDACTED"  # what `kubectl config view` prints for tokens
DATA_OMITTED = "DATA+OMITTED"  # ... and for certificate and key data

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclasses.dataclass
class TLSClientConfig:
    """client-go's `rest.TLSClientConfig`: how to check the server and prove who we are."""

    insecure: bool = False
    server_name: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    ca_data: bytes = dataclasses.field(default=b"", repr=False)
    cert_data: bytes = dataclasses.field(default=b"", repr=False)
    key_data: bytes = dataclasses.field(default=b"", repr=False)


@dataclasses.dataclass(repr=False)
class RestConfig:
    """client-go's `rest.Config`. QPS 0 and Burst 0 mean client-go's defaults (5, 10);
    Timeout 0 (seconds) means no deadline."""

    host: str
    bearer_token: str = ""
    bearer_token_file: str = ""
    username: str = ""
    password: str = ""
    tls: TLSClientConfig = dataclasses.field(default_factory=TLSClientConfig)
    proxy: str = ""
    user_agent: str = ""
    qps: float = 0.0
    burst: int = 0
    timeout: float = 0.0
    rate_limiter: RateLimiter | None = None
    exec_provider: ExecConfig | None = None

    def auth_method(self) -> str:
        """How this config proves who it is, in words."""
        if self.tls.cert_data or self.tls.cert_file:
            return "client certificate"
        if self.bearer_token or self.bearer_token_file:
            return "bearer token"
        if self.username:
            return "basic auth"
        if self.exec_provider is not None:
            return "exec plugin"
        return "none (anonymous)"

    def exec_authenticator(self) -> Authenticator | None:
        """The exec plugin's shared Authenticator, if this config's credentials come from one.
        Nothing runs yet: the first request runs the plugin."""
        t = self.tls
        has_own = (self.bearer_token or self.bearer_token_file or self.username
                   or ((t.cert_data or t.cert_file) and (t.key_data or t.key_file)))
        if self.exec_provider is None or has_own:  # a token or certificate of its own wins (UpdateTransportConfig)
            return None
        cluster = exec_cluster(self) if self.exec_provider.provide_cluster_info else None
        return get_authenticator(self.exec_provider, cluster)

    def __repr__(self) -> str:
        return (
            f"RestConfig(host={self.host!r}, auth={self.auth_method()!r}, "
            f"qps={self.qps:g}, burst={self.burst})"
        )

    # -- to the Python client ----------------------------------------------------------

    def to_configuration(self) -> Any:
        """A `kubernetes.client.Configuration` saying the same thing."""
        from kubernetes.client import Configuration

        authenticator = self.exec_authenticator()
        c = Configuration() if authenticator is None else configuration_for(authenticator)
        c.host = self.host.rstrip("/")
        c.verify_ssl = not self.tls.insecure
        c.ssl_ca_cert = self.tls.ca_file or _data_file(self.tls.ca_data, "ca.crt")
        c.cert_file = self.tls.cert_file or _data_file(self.tls.cert_data, "client.crt")
        c.key_file = self.tls.key_file or _data_file(self.tls.key_data, "client.key")
        if self.tls.server_name:
            c.tls_server_name = self.tls.server_name
        if self.proxy:
            c.proxy = self.proxy
        token = self.bearer_token
        if self.bearer_token_file and not token:
            token = _read(self.bearer_token_file, "the bearer token file").strip()
        if token:
            c.api_key["BearerToken"] = f"Bearer {token}"
        elif self.username:
            c.username, c.password = self.username, self.password
            c.api_key["BearerToken"] = c.get_basic_auth_token()
        return c

    def fields(self) -> Any:
        """A DataFrame: each rest.Config field, its value, and where the Python client keeps it."""
        import pandas as pd

        c, t = self.to_configuration(), self.tls
        temp = "(temporary file written from the data)"

        def show(value: Any, kind: str = "") -> str:  # kind: "secret" or "data"
            if value in ("", b"", None):
                return ""
            return {"secret": REDACTED, "data": DATA_OMITTED}.get(kind, str(value))

        rows = [
            ("Host", self.host, "host", c.host),
            ("BearerToken", show(self.bearer_token, "secret"), "api_key['BearerToken']", show(c.api_key.get("BearerToken"), "secret")),
            ("BearerTokenFile", self.bearer_token_file, "(read once into api_key)", ""),
            ("Username", self.username, "username", c.username or ""),
            ("Password", show(self.password, "secret"), "password", show(c.password, "secret")),
            ("TLSClientConfig.Insecure", str(t.insecure), "verify_ssl", str(c.verify_ssl)),
            ("TLSClientConfig.ServerName", t.server_name, "tls_server_name", c.tls_server_name or ""),
            ("TLSClientConfig.CAFile", t.ca_file, "ssl_ca_cert", t.ca_file or (temp if c.ssl_ca_cert else "")),
            ("TLSClientConfig.CAData", show(t.ca_data, "data"), "", ""),
            ("TLSClientConfig.CertFile", t.cert_file, "cert_file", t.cert_file or (temp if c.cert_file else "")),
            ("TLSClientConfig.CertData", show(t.cert_data, "data"), "", ""),
            ("TLSClientConfig.KeyFile", t.key_file, "key_file", t.key_file or (temp if c.key_file else "")),
            ("TLSClientConfig.KeyData", show(t.key_data, "data"), "", ""),
            ("ExecProvider", repr(self.exec_provider) if self.exec_provider else "",
             "(asked per request: exec_credential.py)" if self.exec_provider else "", ""),
            ("Proxy", self.proxy, "proxy", c.proxy or ""),
            ("UserAgent", self.user_agent, "ApiClient.user_agent", self.user_agent or _default_user_agent()),
            ("QPS", f"{self.qps:g}", "(none: k8slab's ThrottledApiClient)", ""),
            ("Burst", str(self.burst), "(none: k8slab's ThrottledApiClient)", ""),
            ("Timeout", f"{self.timeout:g}", "(none: k8slab's ThrottledApiClient)", ""),
        ]
        return pd.DataFrame(rows, columns=["rest.Config", "value", "Configuration", "value there"])


def in_cluster_config(environ: Mapping[str, str] | None = None, sa_dir: Path = SERVICE_ACCOUNT_DIR) -> RestConfig:
    """client-go's `rest.InClusterConfig`: the Pod's service account, the `kubernetes` Service.

    Raises NotInCluster outside a Pod (no KUBERNETES_SERVICE_HOST/PORT), CredentialsUnreadable
    when the token is not mounted."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise NotInCluster(
            "not running inside a Pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
            "(use a kubeconfig instead)"
        )
    token_file = sa_dir / "token"
    token = _read(str(token_file), "the service-account token").strip()
    ca = sa_dir / "ca.crt"
    host = f"[{host}]" if ":" in host else host  # net.JoinHostPort brackets IPv6
    return RestConfig(
        host=f"https://{host}:{port}",
        bearer_token=token,
        bearer_token_file=str(token_file),
        tls=TLSClientConfig(ca_file=str(ca) if ca.is_file() else ""),
    )


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CredentialsUnreadable(f"cannot read {what} {path}: {exc.strerror or exc}; check the path and its permissions") from None


# -- certificate data as files, for urllib3 --------------------------------------------

_files_lock = threading.Lock()
_files_dir: str | None = None


def _data_file(data: bytes, name: str) -> str | None:
    """A private file holding `data` (one per distinct content), removed at exit."""
    global _files_dir
    if not data:
        return None
    with _files_lock:
        if _files_dir is None:
            _files_dir = tempfile.mkdtemp(prefix="k8slab-tls-")
            atexit.register(shutil.rmtree, _files_dir, True)
        path = Path(_files_dir) / f"{hashlib.sha256(data).hexdigest()[:16]}-{name}"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        return str(path)


def client_certificate_files(cert_pem: bytes, key_pem: bytes) -> tuple[str | None, str | None]:
    """Private files for a client certificate and key that arrived as data (an exec plugin's)."""
    return _data_file(cert_pem, "client.crt"), _data_file(key_pem, "client.key")


def _default_user_agent() -> str:
    from kubernetes import __version__

    return f"OpenAPI-Generator/{__version__}/python"  # what ApiClient sends unless told otherwise
