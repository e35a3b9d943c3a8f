"""Start and stop any of the Foo controllers the same way.

    foo = run("controller-runtime", kubeconfig, namespace="demo", qps=5, burst=10)
    foo.logs()          # what it printed so far
    foo.stop()          # SIGTERM, then SIGKILL after a grace period; or `with run(...) as foo:`

The controllers, and what `qps=None` (each program's own default) means:

    name                 what runs                                          client limits by default
    k8slab               python -m k8slab.samplecontroller (or in-process)  a 5/10 bucket per group version
    k8slab-one-bucket    the same, --one-rate-limiter                       one 5/10 bucket for everything
    sample-controller    Go: k8s.io/sample-controller v0.37.1, unchanged   a 5/10 bucket per group version
    controller-runtime   Go: controller-runtime-foo (assets/crfoo)          none (controller-runtime's -1)
    kopf                 python -m k8slab.operators.kopf_foo (or in-process) writes: 5/10 per group version;
                                                                            kopf's own requests: none

`external_dir` runs the operator of notebook 12 instead (k8slab, controller-runtime
and kopf): a finalizer that removes each Foo's record in that directory (files
a `DirectoryRegistry` reads), observedGeneration and an Available condition;
its RBAC needs `kubeconfig_for(..., operator=True)`. `kill()` is SIGKILL: no
cleanup, no Lease released, the way a crash or an OOM kill ends a controller.

`qps`/`burst` set the client limits where the program has a flag for them;
the Go sample-controller has none (nor one for a namespace, nor leader
election): asking it for any is a UsageError, and it watches every
namespace. Go programs are built on first use (k8slab/lab/goprograms.py).
Output goes to a log file (`log_path`); a controller that exits early is
reported by `running` and its exit code by `returncode`. From a shell:
`python -m k8slab.operators NAME --kubeconfig PATH ...` (__main__.py).

Kept: each program's own flags and signal handling (SIGTERM: stop workers,
release the Lease, exit 0). Left out: readiness (no program says when its
caches have synced: wait for what it does, e.g. a Foo's Deployment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from importlib import resources

from k8slab import errors
from k8slab.lab.goprograms import GoProgram, go_program

__all__ = ["CONTROLLERS", "GO_PROGRAMS", "OPERATORS", "Running", "run"]

CONTROLLERS = ("k8slab", "k8slab-one-bucket", "sample-controller", "controller-runtime", "kopf")
CONTROLLER_RUNTIME_VERSION = "v0.25.3"  # the newest v0.25 the module proxy serves (client-go v0.37)
CLIENT_GO_VERSION = "v0.37.2"  # the course's client-go (the lab is v1.37.2)
GO_PROGRAMS = {  # controller -> the Go program it is
    # upstream's main.go, unchanged; its go.mod has no replace directives
    "sample-controller": GoProgram("sample-controller", "v0.37.1", "k8s.io/sample-controller",
                                   ("k8s.io/sample-controller@v0.37.1",)),
    # ours: assets/crfoo, against controller-runtime and the course's client-go
    "controller-runtime": GoProgram(
        "controller-runtime-foo", CONTROLLER_RUNTIME_VERSION, "k8slab.local/crfoo",
        (f"sigs.k8s.io/controller-runtime@{CONTROLLER_RUNTIME_VERSION}", f"k8s.io/client-go@{CLIENT_GO_VERSION}",
         f"k8s.io/api@{CLIENT_GO_VERSION}", f"k8s.io/apimachinery@{CLIENT_GO_VERSION}"),
        sources=resources.files("k8slab.operators") / "assets" / "crfoo"),
}


class Running:
    """One running Foo controller: a process, or a thread of this one (`in_process`)."""

    def __init__(self, name: str, namespace: str, *, proc: subprocess.Popen | None = None,
                 in_process: Any = None, log_path: Path | None = None) -> None:
        self.name, self.namespace = name, namespace
        self.proc, self.in_process, self.log_path = proc, in_process, log_path

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else os.getpid()

    @property
    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return bool(self.in_process.running)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def logs(self, tail: int = 40) -> str:
        if self.log_path is None:
            return "(in process: its log records go to the `logging` module)"
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])
        except OSError:
            return "(no log yet)"

    def kill(self) -> None:
        """SIGKILL the process (group) and reap it: it gets no chance to finish anything."""
        if self.proc is None:
            raise errors.UsageError(f"{self.name} runs in this process: it cannot be killed, only stopped")
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (each program then stops its workers and releases its Lease), SIGKILL after `timeout`."""
        if self.in_process is not None:
            self.in_process.stop(timeout)
            return
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def __enter__(self) -> "Running":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"in {self.namespace}" if self.namespace else "in all namespaces"
        how = "in this process" if self.in_process is not None else f"pid {self.pid}"
        return f"<{self.name} {where}, {how}, {'running' if self.running else 'stopped'}>"


OPERATORS = ("k8slab", "controller-runtime", "kopf")  # the ones with the operator's patterns (external_dir)


def command(name: str, kubeconfig: str | os.PathLike[str], *, namespace: str = "", qps: float | None = None,
            burst: int | None = None, leader_elect: bool = False, external_dir: str | os.PathLike[str] | None = None,
            progress: Any = print) -> list[str]:
    """The command line that runs controller `name` (building a Go program first if needed)."""
    if name not in CONTROLLERS:
        raise errors.UsageError(f"unknown controller {name!r}; choose one of: {', '.join(CONTROLLERS)}")
    if external_dir and name not in OPERATORS:
        raise errors.UsageError(f"{name} has no operator patterns (no external_dir); these have: {', '.join(OPERATORS)}")
    kubeconfig = os.fspath(kubeconfig)
    if name == "sample-controller":
        refused = [what for what, asked in [("qps/burst", qps is not None or burst is not None),
                                              ("leader election", leader_elect)] if asked]
        if refused:
            raise errors.UsageError(f"the Go sample-controller's main.go has no flag for {' or '.join(refused)}: "
                                    "it runs with client-go's defaults (a 5/10 bucket per group version), "
                                    "without leader election; leave them out")
        return [str(go_program(GO_PROGRAMS[name], progress=progress)), "--kubeconfig", kubeconfig]
    module = {"k8slab": "k8slab.samplecontroller", "k8slab-one-bucket": "k8slab.samplecontroller",
              "kopf": "k8slab.operators.kopf_foo"}.get(name)
    if name == "kopf" and leader_elect:
        raise errors.UsageError("kopf elects a leader with its peering objects, which k8slab does not set up; "
                                "run it without leader_elect")
    cmd = [sys.executable, "-m", module] if module else [str(go_program(GO_PROGRAMS[name], progress=progress))]
    cmd += ["--kubeconfig", kubeconfig]
    if name == "k8slab-one-bucket":
        cmd += ["--one-rate-limiter"]
    if namespace:
        cmd += ["--namespace", namespace]
    if qps is not None:
        cmd += ["--kube-api-qps", f"{qps:g}"]
    if burst is not None:
        cmd += ["--kube-api-burst", str(burst)]
    if leader_elect:
        cmd += ["--leader-elect"]
        if name != "controller-runtime":  # it defaults to the watched namespace
            cmd += ["--leader-elect-resource-namespace", namespace or "kube-system"]
    if external_dir:
        cmd += ["--external-dir", os.fspath(external_dir)]
    return cmd


def run(name: str, kubeconfig: str | os.PathLike[str], *, namespace: str = "", qps: float | None = None,
        burst: int | None = None, leader_elect: bool = False, external_dir: str | os.PathLike[str] | None = None,
        in_process: bool = False, log_dir: str | os.PathLike[str] | None = None, progress: Any = print) -> Running:
    """Start Foo controller `name` against the cluster of `kubeconfig` (see the module docstring)."""
    if in_process:
        if external_dir and name not in OPERATORS:
            raise errors.UsageError(f"{name} has no operator patterns (no external_dir); these have: {', '.join(OPERATORS)}")
        controller = _in_process(name, kubeconfig, namespace, qps, burst, leader_elect, external_dir)
        return Running(name, namespace, in_process=controller)
    cmd = command(name, kubeconfig, namespace=namespace, qps=qps, burst=burst, leader_elect=leader_elect,
                  external_dir=external_dir, progress=progress)
    folder = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="k8slab-operators-"))
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{name}{'-' + namespace if namespace else ''}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    return Running(name, namespace, proc=proc, log_path=log_path)


def _in_process(name: str, kubeconfig: Any, namespace: str, qps: float | None, burst: int | None,
                leader_elect: bool, external_dir: Any = None) -> Any:
    limits = {k: v for k, v in [("qps", qps), ("burst", burst)] if v is not None}
    if name == "kopf":
        if leader_elect:
            raise errors.UsageError("kopf runs standalone here: no leader_elect")
        from k8slab.operators.kopf_foo import KopfFoo

        return KopfFoo(kubeconfig, namespace=namespace, external_dir=external_dir, **limits).start()
    if name in ("k8slab", "k8slab-one-bucket"):
        from k8slab.chain import new_token_bucket_rate_limiter
        from k8slab.samplecontroller import App, LeaderElectionOptions

        election = LeaderElectionOptions(resource_namespace=namespace or "kube-system") if leader_elect else None
        if name == "k8slab-one-bucket":  # one bucket for both clientsets, as a rest.Config's RateLimiter
            limits["rate_limiter"] = new_token_bucket_rate_limiter(qps or 5.0, burst or 10)
        if external_dir:
            import functools

            from k8slab.samplecontroller.operator import DirectoryRegistry, new_operator

            limits["new_controller_func"] = functools.partial(new_operator, registry=DirectoryRegistry(external_dir))
        return App(kubeconfig, namespace=namespace, leader_election=election, **limits).start()
    raise errors.UsageError(f"{name} is a Go program: it runs as a process only (in_process=False)")
