"""Exec credential plugins: a command that hands the client a token or a client certificate.

    users:
    - name: eks
      user:
        exec:
          apiVersion: client.authentication.k8s.io/v1
          command: aws
          args: [eks, get-token, --cluster-name, prod]
          interactiveMode: Never

Mirrors client-go v0.37.2 `plugin/pkg/client/auth/exec/exec.go` (`GetAuthenticator` and
its cache, `Authenticator.getCreds`, `maybeRefreshCreds`, `refreshCredsLocked`,
`isInteractive`, `wrapCmdRunErrorLocked`, the round tripper's 401 rule), the
`client.authentication.k8s.io` types of `pkg/apis/clientauthentication` (`v1`, `v1beta1`:
`ExecCredential`, its spec, its status, `Cluster`), the kubeconfig's `ExecConfig`
(`tools/clientcmd/api/types.go`, defaulted in `api/v1/defaults.go`, checked in
`validation.go`) and `rest/exec.go` (`ConfigToExecCluster`). Stands for the `kubernetes`
37.x client's `kubernetes.config.exec_provider.ExecProvider`, which runs the plugin once,
while the kubeconfig loads, runs it again only when a token expires, and logs a failure
instead of raising it.

The protocol, as client-go runs it:
1. building a config or a client runs nothing; the first request asks for credentials;
2. the plugin runs with our environment plus the kubeconfig's `env`, and with
   `KUBERNETES_EXEC_INFO`: an ExecCredential whose spec says whether the plugin may talk
   to the user (`interactive`) and, with `provideClusterInfo`, which cluster it is for;
3. it prints an ExecCredential of the same apiVersion whose status holds a token, or a
   client certificate and key (PEM), or both, and maybe an `expirationTimestamp`;
4. the credentials are kept until that time; a 401 answer runs the plugin again, once,
   unless another request already did. The 401 itself goes back to the caller (client-go
   does not resend the request): the next request carries the new credentials;
5. one Authenticator per exec config and cluster: every client built from the same
   kubeconfig shares the plugin's runs and its credentials.

Kept: the rules above; `v1` and `v1beta1` (`interactiveMode` defaults to IfAvailable
for v1beta1, and v1 requires it); the install hint when a command is not on PATH;
`Never`, `IfAvailable` and `Always` with client-go's stdin rules (and `StdinUnavailable`);
a command with a slash resolved against the kubeconfig's folder; the cluster's
`client.authentication.k8s.io/exec` extension as `spec.cluster.config`; the checks on
the answer (kind, apiVersion, a status, a token or a certificate and key that match).
As in client-go, a plugin has no deadline (an interactive login may take minutes), and a
re-run after a 401 that fails is logged, not raised: the caller gets the 401.
Left out: the plugin allowlist (set from kuberc), metrics, rate-limiting the install
hint (`sometimes`), closing connections still in use when a certificate rotates
(`connrotation`): new requests get a new pool, an open watch ends on the old one.
One difference: unless the plugin runs interactively, its stderr is captured and then
copied to ours (client-go lets it write to the terminal), so a failure can quote it.
Tokens, keys, `env` values and `args` never appear in a repr or an error message.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from k8slab.errors import ExecPluginFailed, KubeconfigInvalid

__all__ = ["API_VERSIONS", "Authenticator", "CLUSTER_EXTENSION", "Credentials", "EXEC_INFO_ENV", "ExecConfig",
           "INTERACTIVE_MODES", "configuration_for", "exec_cluster", "get_authenticator"]

GROUP = "client.authentication.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1")
EXEC_INFO_ENV = "KUBERNETES_EXEC_INFO"
CLUSTER_EXTENSION = f"{GROUP}/exec"  # clientcmd's clusterExtensionKey
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
PLUGINS_DOC = "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins"


@dataclasses.dataclass(repr=False)
class ExecConfig:
    """A kubeconfig user's `exec` section (client-go's `clientcmdapi.ExecConfig`), defaulted and checked.

    `config` is the cluster's exec extension; `stdin_unavailable` is for programs that read
    stdin themselves (`kubectl apply -f -`); `source` names the user and file, for messages."""

    command: str
    api_version: str
    args: list[str] = dataclasses.field(default_factory=list)
    env: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "Never"
    config: Any = None
    stdin_unavailable: bool = False
    stdin_unavailable_message: str = ""
    source: str = dataclasses.field(default="", compare=False)

    def __repr__(self) -> str:  # as client-go's ExecConfig.String(): args and env may hold secrets
        return (f"ExecConfig(command={self.command!r}, args={'[REDACTED]' if self.args else '[]'}, "
                f"env={'[REDACTED]' if self.env else '[]'}, api_version={self.api_version!r}, "
                f"interactive_mode={self.interactive_mode!r}, provide_cluster_info={self.provide_cluster_info})")

    @classmethod
    def from_kubeconfig(cls, section: Any, *, user: str, file: Path, cluster_extensions: Any = None) -> "ExecConfig":
        """Read, default and check a user's `exec` section, as clientcmd's loader and validation do."""
        where = f"user {user!r} in {file}: exec"

        def bad(problem: str) -> KubeconfigInvalid:
            return KubeconfigInvalid(f"{where}: {problem}")

        if not isinstance(section, Mapping):
            raise bad("must be a mapping with command and apiVersion")
        command, version = section.get("command"), section.get("apiVersion")
        if not command or not isinstance(command, str):
            raise bad("command must be specified (the plugin's program, e.g. `aws` or `./get-token.sh`)")
        if not version:
            raise bad(f"apiVersion must be specified ({' or '.join(API_VERSIONS)})")
        if version not in API_VERSIONS:
            raise bad(f"invalid apiVersion {version!r}; client-go speaks {' and '.join(API_VERSIONS)}"
                      + (" (v1alpha1 was removed in Kubernetes 1.24)" if version == f"{GROUP}/v1alpha1" else ""))
        args = section.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise bad("args must be a list of strings")
        env = []
        for item in section.get("env") or []:
            if not isinstance(item, Mapping) or not item.get("name"):
                raise bad("env variable name must be specified (env is a list of {name, value})")
            env.append((str(item["name"]), "" if item.get("value") is None else str(item["value"])))
        mode = section.get("interactiveMode") or ("IfAvailable" if version == f"{GROUP}/v1beta1" else "")
        if not mode:
            raise bad(f"interactiveMode must be specified for {version} (one of {', '.join(INTERACTIVE_MODES)})")
        if mode not in INTERACTIVE_MODES:
            raise bad(f"invalid interactiveMode {mode!r}; use one of {', '.join(INTERACTIVE_MODES)}")
        if os.sep in command and not os.path.isabs(command):  # GetAuthInfoFileReferences: a PATH name stays as it is
            command = str(file.resolve().parent / command)
        extension = next((e.get("extension") for e in cluster_extensions or []
                          if isinstance(e, Mapping) and e.get("name") == CLUSTER_EXTENSION), None)
        return cls(command=command, api_version=version, args=list(args), env=env,
                   install_hint=_clean_control_characters(str(section.get("installHint") or "")),
                   provide_cluster_info=bool(section.get("provideClusterInfo", False)), interactive_mode=mode,
                   config=extension, source=f"user {user!r} in {file}")


def exec_cluster(config: Any) -> dict[str, Any]:
    """client-go's `rest.ConfigToExecCluster`: the cluster a plugin is told about (`spec.cluster`),
    in the JSON the plugin reads. `config` is a `RestConfig`."""
    tls = config.tls
    ca = tls.ca_data
    if not ca and tls.ca_file:
        try:
            ca = Path(tls.ca_file).read_bytes()
        except OSError as exc:
            raise ExecPluginFailed(f"failed to load CA bundle {tls.ca_file} for the exec plugin: {exc.strerror or exc}") from None
    cluster: dict[str, Any] = {"server": config.host}
    if tls.server_name:
        cluster["tls-server-name"] = tls.server_name
    if tls.insecure:
        cluster["insecure-skip-tls-verify"] = True
    if ca:
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    if config.proxy:
        cluster["proxy-url"] = config.proxy
    cluster["config"] = config.exec_provider.config  # a RawExtension: null when the cluster sets none
    return cluster


@dataclasses.dataclass(frozen=True, eq=False)
class Credentials:
    """What one run of the plugin handed out (client-go's `credentials`), compared by identity."""

    token: str = dataclasses.field(default="", repr=False)
    cert_pem: bytes = dataclasses.field(default=b"", repr=False)
    key_pem: bytes = dataclasses.field(default=b"", repr=False)
    expiry: dt.datetime | None = None

    def kind(self) -> str:
        return " and ".join(k for k, v in (("token", self.token), ("client certificate", self.cert_pem)) if v)

    def __repr__(self) -> str:
        return f"Credentials({self.kind()}, expires={self.expiry.isoformat() if self.expiry else 'never'})"


class Authenticator:
    """Runs one exec plugin and keeps what it handed out (client-go's exec `Authenticator`).

    `now`, `environ`, `is_terminal` and `stderr` stand in for the clock, the process
    environment, the stdin check and the terminal in tests, as in client-go's."""

    def __init__(self, config: ExecConfig, cluster: Mapping[str, Any] | None = None, *,
                 now: Callable[[], dt.datetime] | None = None, environ: Callable[[], Mapping[str, str]] | None = None,
                 is_terminal: Callable[[], bool] | None = None, stderr: TextIO | None = None) -> None:
        if config.api_version not in API_VERSIONS:
            raise ExecPluginFailed(f"exec plugin: invalid apiVersion {config.api_version!r}; use one of {', '.join(API_VERSIONS)}")
        self.config, self.cluster = config, cluster
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self._environ = environ or (lambda: os.environ)
        self._is_terminal = is_terminal or _stdin_is_terminal
        self._stderr = stderr
        self._lock = threading.Lock()  # guards the plugin's runs too: an interactive one must run once
        self._creds: Credentials | None = None
        self.runs = 0  # how many times the plugin was started

    def __repr__(self) -> str:
        return f"<Authenticator for {self.config.command!r}: {self._creds!r}, {self.runs} run(s)>"

    def __deepcopy__(self, memo: dict[int, Any]) -> "Authenticator":
        return self  # shared, as client-go's cache shares it (Configuration is deep-copied by the Python client)

    def get_creds(self) -> Credentials:
        """The credentials to send now: the cached ones unless they expired, else a fresh run."""
        with self._lock:
            if self._creds is None or self._expired_locked():
                self._refresh_locked()
            assert self._creds is not None
            return self._creds

    def cached(self) -> Credentials | None:
        """The credentials of the last run, expired or not, without running anything."""
        return self._creds

    def maybe_refresh_creds(self, creds: Credentials) -> None:
        """After a 401 with `creds`: run the plugin again, unless the credentials already rotated."""
        with self._lock:
            if creds is self._creds:
                self._refresh_locked()

    def _expired_locked(self) -> bool:
        expiry = self._creds.expiry if self._creds else None
        return expiry is not None and self._now() > expiry

    # -- one run ---------------------------------------------------------------------------

    def _refresh_locked(self) -> None:
        interactive = self._interactive()
        spec: dict[str, Any] = {}
        if self.config.provide_cluster_info and self.cluster is not None:
            spec["cluster"] = dict(self.cluster)
        spec["interactive"] = interactive
        info = {"kind": "ExecCredential", "apiVersion": self.config.api_version, "spec": spec}
        env = {**self._environ(), **dict(self.config.env), EXEC_INFO_ENV: json.dumps(info, separators=(",", ":"))}
        try:  # stdin: the terminal only when interactive, else nothing (Go's nil Stdin is /dev/null)
            proc = subprocess.run([self.config.command, *self.config.args], env=env, stdout=subprocess.PIPE,
                                  stdin=None if interactive else subprocess.DEVNULL,
                                  stderr=None if interactive else subprocess.PIPE, check=False)
        except OSError as exc:
            raise self._not_started(exc) from None
        self.runs += 1
        if proc.stderr:
            print(proc.stderr.decode("utf-8", "replace"), end="", file=self._stderr or sys.stderr)
        if proc.returncode != 0:
            said = _last_line(proc.stderr or b"", [v for _, v in self.config.env])
            stderr = (" (its stderr went to the terminal)" if interactive else
                      f"; its stderr ends: {said}" if said else " and wrote nothing to stderr")
            raise self._failed(f"executable {self.config.command} failed with exit code {proc.returncode}{stderr}")
        self._creds = self._decode(proc.stdout)

    def _interactive(self) -> bool:
        """client-go's `isInteractive`: may the plugin read our stdin?"""
        mode, cfg = self.config.interactive_mode, self.config
        if mode == "Never":
            return False
        if mode == "IfAvailable":
            return not cfg.stdin_unavailable and self._is_terminal()
        if mode == "Always":
            if not self._is_terminal():
                raise self._failed("it needs an interactive terminal (interactiveMode Always), and standard input is "
                                   "not a terminal; run the program from a terminal, or log in first so the plugin "
                                   "need not ask")
            if cfg.stdin_unavailable:
                suffix = f": {cfg.stdin_unavailable_message}" if cfg.stdin_unavailable_message else ""
                raise self._failed(f"it needs an interactive terminal (interactiveMode Always), and standard input is unavailable{suffix}")
            return True
        raise self._failed(f"unknown interactiveMode {mode!r}")

    def _decode(self, stdout: bytes) -> Credentials:
        """The plugin's answer, checked as `refreshCredsLocked` checks it."""
        try:
            doc = json.loads(stdout)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise self._failed(f"its output is not an ExecCredential (no JSON object on stdout, {len(stdout)} bytes); "
                               "a plugin prints one ExecCredential and writes everything else to stderr")
        kind, version = doc.get("kind"), doc.get("apiVersion")
        if kind != "ExecCredential" or version not in API_VERSIONS:
            raise self._failed(f"it printed kind {kind!r} of apiVersion {version!r}, not an ExecCredential of {self.config.api_version}")
        if version != self.config.api_version:
            raise self._failed(f"it is configured to use API version {self.config.api_version}, "
                               f"and the plugin returned version {version}; fix apiVersion in the kubeconfig")
        status = doc.get("status")
        if not isinstance(status, dict):
            raise self._failed("it didn't return a status field")
        token, cert, key = (status.get(k) or "" for k in ("token", "clientCertificateData", "clientKeyData"))
        if not all(isinstance(v, str) for v in (token, cert, key)):
            raise self._failed("status.token, clientCertificateData and clientKeyData must be strings")
        if not (token or cert or key):
            raise self._failed("it didn't return a token or cert/key pair")
        if bool(cert) != bool(key):
            raise self._failed("it returned only a certificate or a key, not both")
        if cert:
            _check_key_pair(cert.encode(), key.encode(), self._failed)
        return Credentials(token=token, cert_pem=cert.encode(), key_pem=key.encode(),
                           expiry=self._expiry(status.get("expirationTimestamp")))

    def _expiry(self, value: Any) -> dt.datetime | None:
        if value is None:
            return None
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            when = None
        if when is None or when.tzinfo is None or "T" not in str(value).upper():
            raise self._failed(f"status.expirationTimestamp {value!r} is not an RFC 3339 time (like 2030-01-02T15:04:05Z)")
        return when

    # -- errors ----------------------------------------------------------------------------

    def _failed(self, problem: str) -> ExecPluginFailed:
        whose = f" of {self.config.source}" if self.config.source else ""
        return ExecPluginFailed(f"getting credentials from the exec plugin{whose}: {problem}")

    def _not_started(self, exc: OSError) -> ExecPluginFailed:
        """client-go's `wrapCmdRunErrorLocked`: a command not on PATH gets the install hint."""
        command = self.config.command
        if isinstance(exc, FileNotFoundError) and os.sep not in command:
            hint = f"; the kubeconfig's install hint: {self.config.install_hint}" if self.config.install_hint else ""
            return self._failed(f"executable {command} not found on PATH: the client-go credential plugin it names "
                                f"is not installed{hint} (about these plugins: {PLUGINS_DOC})")
        todo = {FileNotFoundError: "a command with a slash is relative to the kubeconfig's folder",
                PermissionError: f"make it executable (chmod +x {command})"}.get(type(exc), "check the command")
        return self._failed(f"cannot run {command}: {exc.strerror or exc} ({todo})")


# -- the cache: one Authenticator per exec config and cluster --------------------------

_cache: dict[str, Authenticator] = {}
_cache_lock = threading.Lock()


def get_authenticator(config: ExecConfig, cluster: Mapping[str, Any] | None = None) -> Authenticator:
    """client-go's `GetAuthenticator`: the shared Authenticator of this exec config and cluster."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.compare}
    key = hashlib.sha256(json.dumps([fields, cluster], sort_keys=True, default=str).encode()).hexdigest()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Authenticator(config, cluster)
        return _cache[key]


def configuration_for(authenticator: Authenticator) -> Any:
    """A `kubernetes.client.Configuration` whose requests carry the plugin's token, asked for
    per request (the Python client's `auth_settings` is where client-go's round tripper sets
    the header). The client certificate needs a pool per certificate: `ThrottledApiClient`."""
    configuration = _configuration_class()()
    configuration.exec_authenticator = authenticator
    return configuration


@functools.cache
def _configuration_class() -> type:
    from kubernetes.client import Configuration

    class ExecConfiguration(Configuration):
        exec_authenticator: Authenticator

        def auth_settings(self) -> dict[str, Any]:
            token = self.exec_authenticator.get_creds().token
            if not token:
                return {}
            return {"BearerToken": {"type": "api_key", "in": "header", "key": "authorization", "value": f"Bearer {token}"}}

    return ExecConfiguration


# -- helpers ---------------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    try:
        return os.isatty(0)  # Go asks about os.Stdin, the process's fd 0
    except OSError:
        return False


def _check_key_pair(cert_pem: bytes, key_pem: bytes, failed: Callable[[str], ExecPluginFailed]) -> None:
    """As Go's `tls.X509KeyPair`: both parse, and the key belongs to the (first) certificate."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise failed("failed parsing the client key/certificate it returned (PEM expected, the key unencrypted)") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise failed("the client key it returned does not belong to its certificate")


_SECRETISH = re.compile(r"-----BEGIN [A-Z ]+-----.*?(?:-----END [A-Z ]+-----|\Z)"  # a PEM block
                        r"|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # a JWT
                        r"|[A-Za-z0-9_+=-]{32,}", re.S)  # a long token or base64 run


def _last_line(stderr: bytes, secrets: list[str]) -> str:
    """The last line a plugin wrote to stderr, quoted, without anything that looks like a secret."""
    text = _SECRETISH.sub("[REDACTED]", stderr.decode("utf-8", "replace"))
    for secret in secrets:
        if len(secret) >= 6:
            text = text.replace(secret, "[REDACTED]")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = _clean_control_characters(lines[-1]) if lines else ""
    return json.dumps(last[:200] + ("..." if len(last) > 200 else ""), ensure_ascii=False) if last else ""


def _clean_control_characters(text: str) -> str:
    """clientcmd's `cleanANSIEscapeCodes`: letters, marks, numbers, punctuation, symbols, spaces
    and \\t-\\r stay; anything else (ESC of an ANSI sequence, for one) becomes U+XXXX."""
    return "".join(c if unicodedata.category(c)[0] in "LMNPSZ" or c in "\t\n\v\f\r" else f"U+{ord(c):04X}"
                   for c in text)
