"""The Lab: a real control plane on 127.0.0.1, as ordinary processes.

    with Lab() as lab:                 # starts it (or adopts one already running)
        api = lab.api_client()         # a ready `kubernetes.client.ApiClient`
        ...                            # stopped on exit, if this block started it

A Lab is a name, a profile (which components) and a state directory
(state.py). `up` chooses free ports, writes the certificates (pki.py), then
starts each component (components.py) with its hooks and waits until the
whole lab has settled; `down` stops every process and deletes the directory.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import ssl
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import AuditLogOff, EtcdFailed, LabNotRunning, StartupFailed, UsageError
from . import _http, _reaper, audit, processes, state
from . import components as comp
from .build import resolve_binaries
from .layout import LOOPBACK, Layout, check_port_free, free_port
from .pki import CA, kubeconfig_dict, write_kubeconfig, write_lab_pki
from .state import state_root

__all__ = ["Lab", "state_root"]

Progress = Callable[[str], None]

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789-")


class Lab:
    """One lab control plane: its processes, certificates, kubeconfig and data.

    `name` defaults to `$K8SLAB_LAB`, else "default". `profile` is "cluster"
    (etcd, kube-apiserver, controller-manager, scheduler and kwok fake nodes)
    or "minimal" (etcd and kube-apiserver only). `audit=True` starts it with
    the API server's audit log (see audit.py; adopting a running lab never
    changes it).
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
        audit: bool = False,
    ) -> None:
        if name is None:
            name = os.environ.get("K8SLAB_LAB") or "default"
        if not name or not set(name) <= _NAME_OK:
            raise UsageError(f"lab name {name!r}: use lower-case letters, digits and '-'")
        if profile not in comp.PROFILES:
            raise UsageError(f"unknown profile {profile!r}; choose one of: {', '.join(comp.PROFILES)}")
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
        self.wants_audit = audit
        self._state: dict[str, Any] = {}
        self._started_here = False
        self._load_state()

    # -- what a user reads --------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def layout(self) -> Layout:
        """What the components get to know of this lab (read from its state)."""
        return Layout(self.name, self.dir, self.profile, self.nodes, self._state.get("ports", {}), self.start_timeout,
                      bool(self._state.get("audit")))

    @property
    def server(self) -> str:
        return self.layout.server

    @property
    def components(self) -> tuple[str, ...]:
        return comp.PROFILES[self.profile]

    def port(self, component: str, which: str) -> int:
        return self.layout.port(component, which)

    @property
    def running(self) -> bool:
        """True if every component of the lab's profile is alive."""
        procs = self._state.get("processes", {})
        return bool(procs) and all(
            processes.alive(p["pid"], p["create_time"]) for n, p in procs.items() if n in self.components
        ) and set(self.components) <= set(procs)

    @property
    def started_here(self) -> bool:
        """True if `up()` on this object started the lab (rather than adopting it)."""
        return self._started_here

    def export_line(self) -> str:
        return f"export KUBECONFIG={state.shown(self.kubeconfig)}"  # bash expands ~ after =

    def api_client(self):
        """A `kubernetes.client.ApiClient` for the lab's admin."""
        self._require_running()
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def admin_ssl_context(self) -> ssl.SSLContext:
        """TLS context trusting the lab's CA and presenting the admin certificate."""
        return self.layout.tls()

    def log_path(self, component: str) -> Path:
        if component not in comp.COMPONENTS:
            raise UsageError(f"unknown component {component!r}; this lab runs: {', '.join(self.components)}")
        return self.layout.log(component)

    def logs(self, component: str, tail: int | None = None) -> str:
        path = self.log_path(component)
        if not path.exists():
            raise LabNotRunning(f"no log for {component} in {self.dir / 'logs'}: it has not run")
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def status(self) -> list[dict[str, Any]]:
        """One row per component: pid, ports, uptime, memory (RSS), alive."""
        procs, ports = self._state.get("processes", {}), self._state.get("ports", {})
        return [processes.status_row(name, procs.get(name), ports.get(name, {})) for name in self.components]

    # -- up and down ----------------------------------------------------------------

    def up(self) -> "Lab":
        """Start the lab, or adopt it if it is already running. Returns self."""
        with state.locked(self.dir):
            self._load_state()
            if self.running:
                if self.wants_audit and not self.layout.audit:
                    raise AuditLogOff(f"lab {self.name!r} runs without the audit log, and `up` does not restart "
                                      f"a running lab; {audit.how_to_turn_on(self.name)}")
                self._say(f"lab {self.name!r} is already running; kubeconfig: {state.shown(self.kubeconfig)}")
                return self
            if self._state.get("processes"):
                procs = self._state["processes"]
                gone = [n for n, p in procs.items() if not processes.alive(p["pid"], p["create_time"])]
                gone += [n for n in self.components if n not in procs]  # a lab an older k8slab started
                self._say(f"lab {self.name!r}: found a stale state directory ({', '.join(gone)} not running: a run "
                          "that did not stop cleanly, or an older k8slab); cleaning up and starting afresh")
                self._stop_all()
            if self.apiserver_port is not None:
                check_port_free(self.apiserver_port, "kube-apiserver")
            binaries = resolve_binaries(comp.binaries_for(self.profile), bin_dir=self.bin_dir, progress=self.progress)
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
        with state.locked(self.dir):
            self._load_state()
            if not self._state.get("processes"):
                raise LabNotRunning(f"no lab named {self.name!r} is running (nothing in {self.dir})")
            self._stop_all()
            state.remove(self.dir)
            self._say(f"lab {self.name!r} stopped")

    def stop_with(self, pid: int | None = None) -> "Lab":
        """Stop this lab when process `pid` (default: this one) ends, however it ends."""
        _reaper.start(pid or os.getpid(), self.name, self.dir)
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
        with state.locked(self.dir):
            self._load_state()
            info = self._state.get("processes", {}).pop(component, None)
            if info:
                processes.terminate(info["pid"], info["create_time"], comp.COMPONENTS[component].grace)
            self._save_state()

    def start(self, component: str) -> None:
        """Start one stopped component with the same ports and flags, and wait until ready.

        A component that already runs is left as it is (like `up()`).
        """
        self._require_component(component)
        with state.locked(self.dir):
            self._load_state()
            info = self._state.get("processes", {}).get(component)
            if info and processes.alive(info["pid"], info["create_time"]):
                self._say(f"lab {self.name!r}: {component} is already running (pid {info['pid']})")
                return
            binaries = resolve_binaries(comp.needed_binaries([component]), bin_dir=self.bin_dir,
                                        progress=self.progress)
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
        url = f"http://{LOOPBACK}:{self.port('etcd', 'client')}{path}"
        try:
            status, answer = _http.call(url, method="POST", body=body)
        except (OSError, ValueError) as exc:
            raise LabNotRunning(f"etcd of lab {self.name!r} does not answer at {url}: {exc}") from None
        if status != 200:
            raise EtcdFailed(f"etcd of lab {self.name!r} answered {status} to {path}: {str(answer)[:200]}")
        return answer

    # -- the audit log -------------------------------------------------------------

    def enable_audit(self) -> None:
        """Turn the audit log on: restarts kube-apiserver with it (the data stays in etcd)."""
        self._require_running()
        if not self.layout.audit:
            with state.locked(self.dir):
                self._load_state()
                self._state["audit"] = True
                self._save_state()
            self.restart("kube-apiserver")

    def audit_log(self, user_agent: str | None = None, since: Any = None, until: Any = None,
                  stage: str | None = "ResponseComplete"):
        """The API server's audit events as a pandas DataFrame (see audit.read_audit_log)."""
        self._require_running()
        if not self.layout.audit:
            raise AuditLogOff(f"lab {self.name!r} records no audit log; {audit.how_to_turn_on(self.name)}")
        return audit.read_audit_log(self.dir / "audit", user_agent=user_agent, since=since, until=until,
                                    stage=stage)

    # -- users ------------------------------------------------------------------------

    def user(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> Path:
        """Write a kubeconfig for another user (client certificate CN=name, O=groups)."""
        self._require_running()
        if not name or any(c in name for c in "/\\\n"):
            raise UsageError(f"user name {name!r} is not usable in a certificate and a file name")
        ca = CA.load(self.dir / "pki")
        cert, key = ca.issue(name, organizations=groups)
        path = self.dir / "users" / f"{name}.kubeconfig"
        config = kubeconfig_dict(server=self.server, ca_pem=ca.cert_pem, user=name, cert_pem=cert, key_pem=key)
        return write_kubeconfig(path, config)

    # -- internals ------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.progress:
            self.progress(text)

    def _require_running(self) -> None:
        self._load_state()
        if not self._state.get("processes"):
            raise LabNotRunning(f"lab {self.name!r} is not running; start it with `k8slab up` or Lab().up()")

    def _require_component(self, component: str) -> None:
        if component not in self.components:
            raise UsageError(f"unknown component {component!r}; lab {self.name!r} runs: {', '.join(self.components)}")
        self._require_running()

    def _load_state(self) -> None:
        self._state = state.load(self.dir)
        self.profile = self._state.get("profile", self.profile)
        self.nodes = self._state.get("nodes", self.nodes)

    def _save_state(self) -> None:
        state.save(self.dir, self._state)

    def _fresh_state_dir(self) -> None:
        ports = {name: {p: free_port() for p in comp.COMPONENTS[name].ports} for name in self.components}
        if self.apiserver_port is not None:
            ports["kube-apiserver"]["secure"] = self.apiserver_port
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self._state = {"name": self.name, "profile": self.profile, "nodes": self.nodes, "created": created,
                       "ports": ports, "audit": self.wants_audit, "processes": {}}
        state.create(self.dir, self._state)
        write_lab_pki(self.dir, self.server, self.components)

    def _start_all(self, binaries: dict[str, Path]) -> None:
        started = time.monotonic()
        self._say(f"starting lab {self.name!r} ({self.profile}): {', '.join(self.components)}")
        for name in self.components:
            t0 = time.monotonic()
            self._start_one(name, binaries)
            self._say(f"  {name} ready ({time.monotonic() - t0:.1f} s)")
        t0 = time.monotonic()
        settled = self._settle()
        if settled:
            self._say(f"  {settled} ({time.monotonic() - t0:.1f} s)")
        self._say(
            f"lab {self.name!r} ({self.profile}) ready in {time.monotonic() - started:.1f} s\n"
            f"kubeconfig: {state.shown(self.kubeconfig)}\n{self.export_line()}"
        )

    def _start_one(self, name: str, binaries: dict[str, Path]) -> None:
        """A component's hooks around its process: before_start, spawn, ready, after_ready."""
        spec, layout = comp.COMPONENTS[name], self.layout
        if spec.before_start:
            spec.before_start(layout)
        log = layout.log(name)
        proc = processes.spawn(comp.program(spec, binaries), spec.args(layout), log,
                               spec.env(layout) if spec.env else None)
        self._state["processes"][name] = {"pid": proc.pid, "create_time": proc.create_time()}
        self._save_state()
        processes.wait_ready(name, lambda: spec.ready(layout), proc, log, self.start_timeout)
        if spec.after_ready:
            spec.after_ready(layout)

    def _settle(self) -> str:
        """Wait for every component's `settled` condition at once; say what was waited for."""
        waits = [comp.COMPONENTS[n].settled for n in self.components if comp.COMPONENTS[n].settled]
        deadline = time.monotonic() + self.start_timeout
        while True:
            results = [settled(self.layout) for settled in waits]  # type: ignore[misc]
            if all(done for done, _ in results):
                return ", ".join(what for _, what in results)
            if time.monotonic() > deadline:
                missing = ", ".join(what for done, what in results if not done)
                raise StartupFailed(f"lab {self.name!r} did not finish starting in {self.start_timeout:.0f} s "
                                    f"({missing}); logs: {self.dir / 'logs'}")
            time.sleep(0.2)

    def _stop_all(self) -> None:
        procs = self._state.get("processes", {})
        # Stop in reverse start order: clients first, etcd last.
        for name in [n for n in reversed(comp.PROFILES["cluster"]) if n in procs]:
            processes.terminate(procs[name]["pid"], procs[name]["create_time"], comp.COMPONENTS[name].grace)
        self._state["processes"] = {}
        if (self.dir / "state.json").exists():
            self._save_state()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
