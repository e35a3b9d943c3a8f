"""The Lab: a real control plane on 127.0.0.1, as ordinary processes.

    with Lab() as lab:                 # starts it (or adopts one already running)
        api = lab.api_client()         # a ready `kubernetes.client.ApiClient`
        ...                            # stopped on exit, if this block started it

Each lab has a name (default "default") and a state directory,
`$K8SLAB_STATE_DIR/<name>` (default `~/.local/state/k8slab/<name>`), holding:

    state.json      profile, ports, and each component's pid and start time
    kubeconfig      the admin kubeconfig (mode 0600)
    pki/            the CA, serving and client certificates, service-account keys
    etcd/           etcd's data (kept across restarts of the apiserver)
    logs/           one log per component
    users/          kubeconfigs written by `user()`
    pods/           what answers logs, exec and port-forward on Pods (pod_streams.py)

A state directory whose processes are gone (a killed run, a reboot) is stale:
`up` notices, says so, stops whatever of it still runs, and starts afresh.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil

from ..errors import LabError, LabNotRunning, StartupFailed, UsageError
from . import components as comp
from .build import resolve_binaries
from .pki import CA, kubeconfig_dict, write_kubeconfig, write_lab_pki

__all__ = ["Lab", "state_root"]

Progress = Callable[[str], None]

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def state_root() -> Path:
    explicit = os.environ.get("K8SLAB_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "k8slab"


class Lab:
    """One lab control plane: its processes, certificates, kubeconfig and data.

    `name` defaults to `$K8SLAB_LAB`, else "default". `profile` is "cluster"
    (etcd, kube-apiserver, controller-manager, scheduler and kwok fake nodes)
    or "minimal" (etcd and kube-apiserver only).
    """

    is_lab = True  # see external.py: the course also runs on clusters k8slab did not start

    def __init__(
        self,
        name: str | None = None,
        *,
        profile: str = "cluster",
        nodes: int = 3,
        apiserver_port: int | None = None,
        bin_dir: str | os.PathLike[str] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        progress: Progress | None = print,
        start_timeout: float = 120.0,
    ) -> None:
        if name is None:
            name = os.environ.get("K8SLAB_LAB") or "default"
        if not name or not set(name) <= _NAME_OK:
            raise UsageError(f"lab name {name!r}: use lower-case letters, digits and '-'")
        if profile not in comp.PROFILES:
            raise UsageError(
                f"unknown profile {profile!r}; choose one of: {', '.join(comp.PROFILES)}"
            )
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise UsageError(f"nodes must be a whole number of at least 1, not {nodes!r}")
        if apiserver_port is not None and not (0 < apiserver_port < 65536):
            raise UsageError(f"port {apiserver_port} is not a TCP port (1-65535)")
        self.name = name
        self.profile = profile
        self.nodes = nodes
        self.apiserver_port = apiserver_port
        self.bin_dir = bin_dir
        self.dir = Path(state_dir).expanduser() if state_dir else state_root() / name
        self.progress = progress
        self.start_timeout = start_timeout
        self._state: dict[str, Any] = {}
        self._started_here = False
        self._load_state()

    # -- what a user reads --------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://{comp.LOOPBACK}:{self.port('kube-apiserver', 'secure')}"

    @property
    def components(self) -> tuple[str, ...]:
        return comp.PROFILES[self.profile]

    def port(self, component: str, which: str) -> int:
        try:
            return int(self._state["ports"][component][which])
        except KeyError:
            raise LabNotRunning(f"lab {self.name!r} has no {component} {which} port; is it up?") from None

    @property
    def running(self) -> bool:
        """True if every component of the lab's profile is alive."""
        procs = self._state.get("processes", {})
        return bool(procs) and all(
            comp.alive(p["pid"], p["create_time"]) for n, p in procs.items() if n in self.components
        ) and set(self.components) <= set(procs)

    @property
    def started_here(self) -> bool:
        """True if `up()` on this object started the lab (rather than adopting it)."""
        return self._started_here

    def export_line(self) -> str:
        return f"export KUBECONFIG={self.kubeconfig}"

    def api_client(self):
        """A `kubernetes.client.ApiClient` for the lab's admin."""
        self._require_running()
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def admin_ssl_context(self) -> ssl.SSLContext:
        """TLS context trusting the lab's CA and presenting the admin certificate."""
        pki = self.dir / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return ctx

    def log_path(self, component: str) -> Path:
        if component not in comp.COMPONENTS:
            raise UsageError(
                f"unknown component {component!r}; this lab runs: {', '.join(self.components)}"
            )
        return self.dir / "logs" / f"{component}.log"

    def logs(self, component: str, tail: int | None = None) -> str:
        path = self.log_path(component)
        if not path.exists():
            raise LabNotRunning(f"no log for {component} in {self.dir / 'logs'}: it has not run")
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def status(self) -> list[dict[str, Any]]:
        """One row per component: pid, ports, uptime, memory (RSS), alive."""
        rows = []
        now = time.time()
        for name in self.components:
            info = self._state.get("processes", {}).get(name)
            proc = comp.alive(info["pid"], info["create_time"]) if info else None
            rss = 0
            if proc is not None:
                with contextlib.suppress(psutil.Error):
                    rss = proc.memory_info().rss
            rows.append(
                {
                    "component": name,
                    "running": proc is not None,
                    "pid": info["pid"] if info and proc else None,
                    "ports": ",".join(
                        f"{k}={v}" for k, v in self._state.get("ports", {}).get(name, {}).items()
                    ),
                    "uptime_s": round(now - info["create_time"], 1) if proc else None,
                    "rss_mb": round(rss / 2**20, 1) if proc else None,
                }
            )
        return rows

    # -- up and down ----------------------------------------------------------------

    def up(self) -> "Lab":
        """Start the lab, or adopt it if it is already running. Returns self."""
        with self._locked():
            self._load_state()
            if self.running:
                self._say(f"lab {self.name!r} is already running; kubeconfig: {self.kubeconfig}")
                return self
            if self._state.get("processes"):
                gone = [n for n, p in self._state["processes"].items() if not comp.alive(p["pid"], p["create_time"])]
                self._say(
                    f"lab {self.name!r}: found a stale state directory from a run that did not stop "
                    f"cleanly ({', '.join(gone) or 'components'} no longer running); cleaning up and "
                    "starting afresh"
                )
                self._stop_all()
            if self.apiserver_port is not None:
                comp.check_port_free(self.apiserver_port, "kube-apiserver")
            binaries = resolve_binaries(
                comp.binaries_for(self.profile), bin_dir=self.bin_dir, progress=self.progress
            )
            try:
                self._fresh_state_dir()
                self._start_all(binaries)
            except BaseException:
                self._stop_all()
                raise
            self._started_here = True
        return self

    def down(self) -> None:
        """Stop every process of the lab and delete its state directory."""
        with self._locked():
            self._load_state()
            if not self._state.get("processes"):
                raise LabNotRunning(f"no lab named {self.name!r} is running (nothing in {self.dir})")
            self._stop_all()
            self._remove_state_dir()
            self._say(f"lab {self.name!r} stopped")

    def stop_with(self, pid: int | None = None) -> "Lab":
        """Stop this lab when process `pid` (default: this one) ends, however it ends."""
        import subprocess
        import sys

        subprocess.Popen(
            [sys.executable, "-m", "k8slab.lab._reaper", str(pid or os.getpid()), self.name, str(self.dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
        return self

    def __enter__(self) -> "Lab":
        return self.up()

    def __exit__(self, *exc: object) -> None:
        if self._started_here:
            self.down()

    # -- one component at a time --------------------------------------------------

    def stop(self, component: str) -> None:
        """Stop one component (its data stays; `start` brings it back)."""
        self._require_component(component)
        with self._locked():
            self._load_state()
            info = self._state.get("processes", {}).pop(component, None)
            if info:
                comp.terminate(info["pid"], info["create_time"], comp.COMPONENTS[component].grace)
            self._save_state()

    def start(self, component: str) -> None:
        """Start one stopped component with the same ports and flags, and wait until ready.

        A component that already runs is left as it is (like `up()`).
        """
        self._require_component(component)
        with self._locked():
            self._load_state()
            info = self._state.get("processes", {}).get(component)
            if info and comp.alive(info["pid"], info["create_time"]):
                self._say(f"lab {self.name!r}: {component} is already running (pid {info['pid']})")
                return
            spec = comp.COMPONENTS[component]
            wanted = [] if spec.binary == "python" else [spec.binary_name]
            binaries = resolve_binaries(wanted, bin_dir=self.bin_dir, progress=self.progress)
            self._start_one(component, binaries)

    def restart(self, component: str) -> None:
        self.stop(component)
        self.start(component)

    # -- etcd -----------------------------------------------------------------------

    def etcd_revision(self) -> int:
        """etcd's current revision (what the apiserver calls a resourceVersion)."""
        return int(self._etcd("/v3/kv/range", {"key": _b64("/"), "limit": 1})["header"]["revision"])

    def compact(self, revision: int | None = None, *, reset_watch_cache: bool = True) -> int:
        """Compact etcd's history up to `revision` (default: now); returns it.

        Compaction alone does not make old watches fail: kube-apiserver's watch
        cache keeps its own window of recent events and serves a watch from an
        old resourceVersion out of it (in 1.37 the cacher only trims its list
        snapshots on compaction). With `reset_watch_cache` (the default) the
        apiserver is restarted too, so its cache starts afresh from the
        compacted etcd: a watch from any older resourceVersion is then answered
        with 410 Gone ("too old resource version"), as in a real cluster after
        an apiserver restart or a long disconnection.
        """
        self._require_running()
        rev = revision or self.etcd_revision()
        self._etcd("/v3/kv/compaction", {"revision": str(rev), "physical": True})
        if reset_watch_cache:
            self.restart("kube-apiserver")
        return rev

    def _etcd(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"http://{comp.LOOPBACK}:{self.port('etcd', 'client')}{path}"
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise LabError(f"etcd of lab {self.name!r} answered {exc.code} to {path}: {exc.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabNotRunning(f"etcd of lab {self.name!r} does not answer at {url}: {exc}") from None

    # -- users ------------------------------------------------------------------------

    def user(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> Path:
        """Write a kubeconfig for another user (client certificate CN=name, O=groups)."""
        self._require_running()
        if not name or any(c in name for c in "/\\\n"):
            raise UsageError(f"user name {name!r} is not usable in a certificate and a file name")
        ca = CA.load(self.dir / "pki")
        cert, key = ca.issue(name, organizations=groups)
        path = self.dir / "users" / f"{name}.kubeconfig"
        write_kubeconfig(
            path,
            kubeconfig_dict(server=self.server, ca_pem=ca.cert_pem, user=name, cert_pem=cert, key_pem=key),
        )
        return path

    # -- internals ------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.progress:
            self.progress(text)

    def _require_running(self) -> None:
        self._load_state()
        if not self._state.get("processes"):
            raise LabNotRunning(
                f"lab {self.name!r} is not running; start it with `k8slab up` or Lab().up()"
            )

    def _require_component(self, component: str) -> None:
        if component not in self.components:
            raise UsageError(
                f"unknown component {component!r}; lab {self.name!r} runs: {', '.join(self.components)}"
            )
        self._require_running()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up`/`down`/`restart` at a time per lab, across processes."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dir.parent / f".{self.name}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _load_state(self) -> None:
        try:
            self._state = json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            self._state = {}
            return
        self.profile = self._state.get("profile", self.profile)
        self.nodes = self._state.get("nodes", self.nodes)

    def _save_state(self) -> None:
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(self._state, indent=2))
        tmp.replace(self.dir / "state.json")

    def _remove_state_dir(self) -> None:
        if (self.dir / "state.json").exists() or (self.dir / "pki").exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    def _fresh_state_dir(self) -> None:
        self._remove_state_dir()
        for sub in ("pki", "logs", "components", "users"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        ports: dict[str, dict[str, int]] = {}
        for name in self.components:
            ports[name] = {p: comp.free_port() for p in comp.COMPONENTS[name].ports}
        if self.apiserver_port is not None:
            ports["kube-apiserver"]["secure"] = self.apiserver_port
        self._state = {
            "name": self.name,
            "profile": self.profile,
            "nodes": self.nodes,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "ports": ports,
            "processes": {},
        }
        self._save_state()
        write_lab_pki(self.dir, self.server, self.components)

    def _start_all(self, binaries: dict[str, Path]) -> None:
        started = time.monotonic()
        self._say(f"starting lab {self.name!r} ({self.profile}): {', '.join(self.components)}")
        for name in self.components:
            t0 = time.monotonic()
            if name == "kwok":
                from .cluster import prepare_kwok

                prepare_kwok(self)
            self._start_one(name, binaries)
            self._say(f"  {name} ready ({time.monotonic() - t0:.1f} s)")
        if self.profile == "cluster":
            from .cluster import finish_cluster

            t0 = time.monotonic()
            finish_cluster(self)
            self._say(f"  {self.nodes} fake nodes Ready, ServiceAccount default/default exists "
                      f"({time.monotonic() - t0:.1f} s)")
        self._say(
            f"lab {self.name!r} ({self.profile}) ready in {time.monotonic() - started:.1f} s\n"
            f"kubeconfig: {self.kubeconfig}\n{self.export_line()}"
        )

    def _start_one(self, name: str, binaries: dict[str, Path]) -> None:
        spec = comp.COMPONENTS[name]
        log = self.log_path(name)
        proc = comp.spawn(comp.program(spec, binaries), spec.args(self), log, spec.env(self) if spec.env else None)
        self._state["processes"][name] = {"pid": proc.pid, "create_time": proc.create_time()}
        self._save_state()
        comp.wait_ready(spec, self, proc, log, self.start_timeout)
        if name == "kube-apiserver":
            self._wait_for_api()

    def _wait_for_api(self) -> None:
        """After /readyz: wait until the `default` namespace exists."""
        deadline = time.monotonic() + self.start_timeout
        ctx = self.admin_ssl_context()
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.server}/api/v1/namespaces/default", context=ctx, timeout=5):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise StartupFailed(
            f"kube-apiserver answered /readyz but namespace 'default' did not appear in "
            f"{self.start_timeout:.0f} s; its log: {self.log_path('kube-apiserver')}",
            log=str(self.log_path("kube-apiserver")),
        )

    def _stop_all(self) -> None:
        procs = self._state.get("processes", {})
        # Stop in reverse start order: clients first, etcd last.
        order = [n for n in reversed(comp.PROFILES["cluster"]) if n in procs]
        for name in order:
            info = procs[name]
            comp.terminate(info["pid"], info["create_time"], comp.COMPONENTS[name].grace)
        self._state["processes"] = {}
        if (self.dir / "state.json").exists():
            self._save_state()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
