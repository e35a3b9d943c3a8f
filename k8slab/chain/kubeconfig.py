"""Kubeconfig files: find them, merge them as kubectl does, and turn a context into a rest config.

Mirrors client-go v0.37.2 `tools/clientcmd`: `loader.go`
(`ClientConfigLoadingRules.Load`, the `KUBECONFIG` precedence list,
`ResolveLocalPaths`), `merge.go`, `client_config.go` (`DirectClientConfig`,
`ClientConfig()`, `BuildConfigFromFlags`) and `api/v1` (the file format).
Stands for `kubernetes.config.kube_config` of the `kubernetes` 37.x client
(`KubeConfigMerger`, `KubeConfigLoader`, `load_kube_config`).

The merge rules, as kubectl applies them to `KUBECONFIG=a:b:c`:
- files are read in order; a listed file that does not exist is skipped, an
  explicit `--kubeconfig` path that does not exist is an error;
- clusters, users and contexts are maps by name: the first file that defines
  a name wins, and its entry is taken whole (fields are not mixed across files);
- `current-context` comes from the first file that sets one;
- relative file references (certificate-authority, client-certificate,
  client-key, tokenFile) are relative to the file that holds them; they are
  kept as written (as `kubectl config view` shows them) and resolved when a
  rest config is built.
The Python client differs on one rule: its merger lets the *last* file's
`current-context` win (notebook 01 shows it).

Kept: the rules above; duplicate names inside one file are an error; an
empty file is an empty config; `BuildConfigFromFlags` with its fallback order
(explicit kubeconfig or master URL; else in-cluster, with client-go's warnings;
else client-go's "no configuration has been provided": it never reads
`$KUBECONFIG` or ~/.kube/config) and a master URL overriding the cluster's server; a
user's `exec` section as the rest config's `ExecProvider` (defaulted and checked
here, run on the first request by `exec_credential.py`), with the cluster's exec
extension.
Left out: auth-provider plugins (refused, naming the exec plugin that replaced
each), `--context`-style overrides beyond context and server, preferences, other
extensions, writing kubeconfigs back, migration of ~/.kube/.kubeconfig.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from k8slab.chain.exec_credential import ExecConfig
from k8slab.chain.rest_config import DATA_OMITTED, REDACTED, SERVICE_ACCOUNT_DIR, RestConfig, TLSClientConfig, in_cluster_config
from k8slab.errors import ConfigError, ContextNotFound, CredentialsUnreadable, KubeconfigInvalid, KubeconfigNotFound

__all__ = ["ConfigWarning", "Kubeconfig", "NO_CONFIGURATION", "build_config_from_flags", "default_kubeconfig_paths",
           "load_kubeconfig"]

_SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
_DATA_FIELDS = {"certificate-authority-data", "client-certificate-data", "client-key-data"}
_SECRET_FIELDS = {"token", "password"}


class ConfigWarning(UserWarning):
    """What client-go logs with klog.Warning while choosing a config."""


def default_kubeconfig_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """client-go's `NewDefaultClientConfigLoadingRules().Precedence`: the files of
    `$KUBECONFIG` (separated by os.pathsep, duplicates dropped), else ~/.kube/config."""
    env = os.environ if environ is None else environ
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not listed:
        return [Path("~/.kube/config").expanduser()]
    return list(dict.fromkeys(Path(p).expanduser() for p in listed))


@dataclasses.dataclass(repr=False)
class Kubeconfig:
    """A merged kubeconfig. Entries keep the file's own keys (`server`,
    `client-key-data`, ...); `origin` says which file each came from."""

    files: list[Path] = dataclasses.field(default_factory=list)
    clusters: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    users: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    current_context: str = ""
    origin: dict[tuple[str, str], Path] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Kubeconfig(files={[p.name for p in self.files]}, current_context={self.current_context!r}, "
            f"clusters={sorted(self.clusters)}, users={sorted(self.users)}, contexts={sorted(self.contexts)})"
        )

    # -- looking at it -------------------------------------------------------------------

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """The shape `kubectl config view --merge` prints; `raw=True` keeps the secrets, like `--raw`."""
        out: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
        for section, inner in _SECTIONS.items():
            entries = getattr(self, section)
            out[section] = [
                {"name": name, inner: dict(entries[name]) if raw else _redacted(entries[name])}
                for name in sorted(entries)
            ]
        out["current-context"] = self.current_context
        return out

    def frame(self) -> Any:
        """Clusters, users and contexts as one DataFrame, secrets redacted."""
        import pandas as pd

        rows = []
        for section, inner in _SECTIONS.items():
            for name, entry in sorted(getattr(self, section).items()):
                shown = _redacted(entry)
                rows.append({
                    "kind": inner,
                    "name": name,
                    "current": inner == "context" and name == self.current_context,
                    "file": self.origin[(section, name)].name,
                    "fields": ", ".join(f"{k}={_short(v)}" for k, v in sorted(shown.items())),
                })
        return pd.DataFrame(rows, columns=["kind", "name", "current", "file", "fields"])

    # -- DirectClientConfig -----------------------------------------------------------

    def context(self, name: str | None = None) -> tuple[str, dict[str, Any], str, dict[str, Any], str]:
        """Resolve a context (default: the current one) into
        (cluster name, cluster, user name, user, namespace)."""
        where = ", ".join(str(p) for p in self.files) or "no kubeconfig file"
        chosen = name or self.current_context
        if not chosen:
            raise ContextNotFound(
                f"no context chosen: {where} sets no current-context; pass a context "
                f"(defined: {', '.join(sorted(self.contexts)) or 'none'})"
            )
        if chosen not in self.contexts:
            raise ContextNotFound(
                f"context {chosen!r} is not defined in {where}; "
                f"defined contexts: {', '.join(sorted(self.contexts)) or 'none'}"
            )
        ctx = self.contexts[chosen]
        found_in = self.origin[("contexts", chosen)]
        cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
        if cluster_name not in self.clusters:
            raise ContextNotFound(
                f"context {chosen!r} (in {found_in}) names cluster {cluster_name!r}, which no file defines "
                f"(clusters: {', '.join(sorted(self.clusters)) or 'none'}); fix the context or add the cluster"
            )
        if user_name and user_name not in self.users:
            raise ContextNotFound(
                f"context {chosen!r} (in {found_in}) names user {user_name!r}, which no file defines "
                f"(users: {', '.join(sorted(self.users)) or 'none'}); fix the context or add the user"
            )
        user = self.users.get(user_name, {})
        return cluster_name, self.clusters[cluster_name], user_name, user, str(ctx.get("namespace") or "default")

    def namespace(self, context: str | None = None) -> str:
        """The context's namespace, "default" if it sets none (client-go's `Namespace()`)."""
        return self.context(context)[4]

    def client_config(self, context: str | None = None, *, master_url: str = "") -> RestConfig:
        """client-go's `DirectClientConfig.ClientConfig()`: the rest config for a context.
        `master_url`, if given, replaces the cluster's server (the `--master` flag)."""
        if not self.contexts and master_url:  # files with no context at all: the master URL alone, no credentials
            return RestConfig(host=master_url)
        cluster_name, cluster, user_name, user, _ = self.context(context)
        server = master_url or str(cluster.get("server") or "")
        if not server:
            raise KubeconfigInvalid(f"cluster {cluster_name!r} has no server; set clusters[].cluster.server")
        tls = TLSClientConfig(
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            server_name=str(cluster.get("tls-server-name") or ""),
            ca_file=self._file(cluster, "certificate-authority", "clusters", cluster_name),
            ca_data=self._b64(cluster, "certificate-authority-data", "clusters", cluster_name),
            cert_file=self._file(user, "client-certificate", "users", user_name),
            cert_data=self._b64(user, "client-certificate-data", "users", user_name),
            key_file=self._file(user, "client-key", "users", user_name),
            key_data=self._b64(user, "client-key-data", "users", user_name),
        )
        if bool(tls.cert_file or tls.cert_data) != bool(tls.key_file or tls.key_data):
            raise KubeconfigInvalid(
                f"user {user_name!r} has a client certificate without its key, or a key without its "
                "certificate; a client certificate needs both (client-certificate[-data] and client-key[-data])"
            )
        if "auth-provider" in user:
            raise KubeconfigInvalid(_auth_provider_refused(user_name, user["auth-provider"], "exec" in user))
        exec_provider = None
        if "exec" in user:
            exec_provider = ExecConfig.from_kubeconfig(user["exec"], user=user_name, file=self.origin[("users", user_name)],
                                                       cluster_extensions=cluster.get("extensions"))
        return RestConfig(
            host=server,
            bearer_token=str(user.get("token") or ""),
            bearer_token_file=self._file(user, "tokenFile", "users", user_name),
            username=str(user.get("username") or ""),
            password=str(user.get("password") or ""),
            tls=tls,
            proxy=str(cluster.get("proxy-url") or ""),
            exec_provider=exec_provider,
        )

    def _file(self, entry: Mapping[str, Any], key: str, section: str, name: str) -> str:
        """A file an entry refers to, relative to the kubeconfig that holds it (`ResolveLocalPaths`)."""
        if not entry.get(key):
            return ""
        path = self.origin[(section, name)].resolve().parent / Path(str(entry[key])).expanduser()
        if not path.is_file():
            raise CredentialsUnreadable(
                f"{_SECTIONS[section]} {name!r} in {self.origin[(section, name)]}: {key} {path} does not exist; "
                f"fix the path (relative paths start at the kubeconfig's folder) or embed the data ({key}-data)"
            )
        return str(path)

    def _b64(self, entry: Mapping[str, Any], key: str, section: str, name: str) -> bytes:
        value = entry.get(key)
        if not value:
            return b""
        try:
            return base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise KubeconfigInvalid(
                f"{_SECTIONS[section]} {name!r} in {self.origin[(section, name)]}: {key} is not valid base64; "
                "paste the base64 of the PEM file, or use the field without -data and a file path"
            ) from None


def load_kubeconfig(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None) -> Kubeconfig:
    """Load and merge kubeconfig files, as kubectl does.

    `path` is one explicit file (it must exist), or a list of files in
    precedence order (missing ones are skipped, as in `KUBECONFIG`), or None
    for the default rules (`$KUBECONFIG`, else ~/.kube/config)."""
    if isinstance(path, (str, os.PathLike)):
        explicit = Path(path).expanduser()
        if not explicit.exists():
            raise KubeconfigNotFound(
                f"kubeconfig {explicit} does not exist; give the path of an existing file "
                "(a lab's: `k8slab kubeconfig`, or Lab().kubeconfig in Python)"
            )
        candidates = [explicit]
    else:
        candidates = default_kubeconfig_paths() if path is None else [Path(p).expanduser() for p in path]
    files = [p for p in candidates if p.exists()]
    if not files:
        raise KubeconfigNotFound(
            f"none of the kubeconfig files exist: {', '.join(str(p) for p in candidates) or '(empty list)'}; "
            "set KUBECONFIG or pass a path (a lab's: `k8slab kubeconfig`, or Lab().kubeconfig in Python)"
        )
    merged = Kubeconfig(files=files)
    for file in files:
        current, sections = _read_file(file)
        merged.current_context = merged.current_context or current
        for section, entries in sections.items():
            target = getattr(merged, section)
            for name, entry in entries.items():
                if name not in target:  # the first file that defines a name wins
                    target[name] = entry
                    merged.origin[(section, name)] = file
    return merged


NO_CONFIGURATION = ("invalid configuration: no configuration has been provided, "
                    "try setting KUBERNETES_MASTER environment variable")  # clientcmd's ErrEmptyConfig, as it prints


def build_config_from_flags(
    master_url: str = "",
    kubeconfig_path: str | os.PathLike[str] = "",
    *,
    environ: Mapping[str, str] | None = None,
    sa_dir: Path = SERVICE_ACCOUNT_DIR,
) -> RestConfig:
    """client-go's `clientcmd.BuildConfigFromFlags(masterUrl, kubeconfigPath)`.

    With a kubeconfig path: that file (it must exist), its current context,
    the master URL (if any) replacing the server. With only a master URL: no
    file at all, just that host. With neither: warn, try the in-cluster
    config, and if that fails warn again and fail. The "default config" of
    client-go's second warning is loading rules with an empty explicit path
    and no precedence list: no file at all, not `$KUBECONFIG`, not
    ~/.kube/config (kubectl's `NewDefaultClientConfigLoadingRules` has those,
    and `load_kubeconfig(None)` here). An empty config has no server, and
    client-go answers `ErrEmptyConfig`; so does this (a KubeconfigNotFound).
    `environ` and `sa_dir` stand in for a Pod's environment and service-account folder."""
    if not kubeconfig_path and not master_url:
        warnings.warn(
            "Neither --kubeconfig nor --master was specified.  Using the inClusterConfig.  This might not work.",
            ConfigWarning,
            stacklevel=2,
        )
        try:
            return in_cluster_config(environ, sa_dir)
        except ConfigError as exc:
            warnings.warn(f"error creating inClusterConfig, falling back to default config: {exc}", ConfigWarning, stacklevel=2)
        raise KubeconfigNotFound(
            f"{NO_CONFIGURATION} (client-go's words). Outside a Pod, BuildConfigFromFlags(\"\", \"\") reads no "
            "kubeconfig: not $KUBECONFIG, not ~/.kube/config, and not KUBERNETES_MASTER either; pass the kubeconfig's "
            "path, as client-go's example does with its --kubeconfig flag defaulting to ~/.kube/config "
            "(the lab's: `k8slab kubeconfig`, or Lab().kubeconfig in Python)"
        )
    if not kubeconfig_path:
        return RestConfig(host=master_url)
    return load_kubeconfig(kubeconfig_path).client_config(master_url=master_url)


# -- reading one file ----------------------------------------------------------------------


def _read_file(file: Path) -> tuple[str, dict[str, dict[str, dict[str, Any]]]]:
    """One file's current-context and its clusters/users/contexts by name."""
    try:
        text = file.read_text()
    except OSError as exc:
        raise KubeconfigInvalid(f"cannot read kubeconfig {file}: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise KubeconfigInvalid(f"kubeconfig {file} is not valid YAML{at}: {problem}; fix the file") from None
    if doc is None:
        doc = {}  # an empty file is an empty config
    if not isinstance(doc, dict):
        raise KubeconfigInvalid(f"kubeconfig {file} is not a mapping with clusters, users and contexts")
    if doc.get("kind", "Config") != "Config":
        raise KubeconfigInvalid(f"kubeconfig {file} has kind {doc.get('kind')!r}; a kubeconfig has kind Config")
    sections: dict[str, dict[str, dict[str, Any]]] = {}
    for section, inner in _SECTIONS.items():
        items = doc.get(section) or []
        if not isinstance(items, list):
            raise KubeconfigInvalid(f"kubeconfig {file}: {section} must be a list of {{name, {inner}}} entries")
        entries: dict[str, dict[str, Any]] = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not item.get("name") or not isinstance(item.get(inner) or {}, dict):
                raise KubeconfigInvalid(f"kubeconfig {file}: {section}[{i}] needs a name and a {inner} mapping")
            name = str(item["name"])
            if name in entries:
                raise KubeconfigInvalid(f"kubeconfig {file}: duplicate name {name!r} in {section}; names must be unique")
            entries[name] = dict(item.get(inner) or {})
        sections[section] = entries
    return str(doc.get("current-context") or ""), sections


def _redacted(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as `kubectl config view` shows it: data omitted, secrets redacted."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _DATA_FIELDS and value:
            out[key] = DATA_OMITTED
        elif key in _SECRET_FIELDS and value:
            out[key] = REDACTED
        elif key == "exec" and isinstance(value, dict):  # args and env may carry secrets (ExecConfig.String())
            out[key] = {k: REDACTED if k in ("args", "env") and v else v for k, v in value.items()}
        elif key == "auth-provider" and isinstance(value, dict):
            out[key] = {"name": value.get("name", ""), "config": REDACTED}
        else:
            out[key] = value
    return out


_AUTH_PROVIDER_SUCCESSORS = {  # client-go's stubs name them; oidc's usual successor is kubelogin too
    "gcp": "gke-gcloud-auth-plugin (GKE)",
    "azure": "kubelogin (AKS: github.com/Azure/kubelogin)",
    "oidc": "kubelogin (OIDC: github.com/int128/kubelogin)",
}


def _auth_provider_refused(user: str, provider: Any, with_exec: bool) -> str:
    name = provider.get("name", "") if isinstance(provider, Mapping) else ""
    if with_exec:  # validation.go refuses the pair too
        return f"user {user!r} sets both an auth-provider and an exec plugin; keep only the exec section"
    successor = _AUTH_PROVIDER_SUCCESSORS.get(name, "")
    instead = (f"its successor is the exec plugin {successor}" if successor else
               "exec plugins replaced them: gke-gcloud-auth-plugin on GKE, kubelogin on AKS and for OIDC, "
               "`aws eks get-token` on EKS")
    return (f"user {user!r} uses the auth-provider {name!r}; k8slab runs no auth-provider plugins (client-go removed "
            f"gcp and azure in 1.26): {instead}. Your cloud's CLI writes a kubeconfig with an exec section "
            "(`gcloud container clusters get-credentials`, `az aks get-credentials` then `kubelogin convert-kubeconfig`, "
            "`aws eks update-kubeconfig`)")


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
