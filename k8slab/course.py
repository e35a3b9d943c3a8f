"""The two jobs the README promises: run the course, and run every test.

`k8slab course` starts (or adopts) the lab and serves the notebooks in
JupyterLab; `--headless` runs every notebook instead and prints a summary.
`k8slab test` runs the unit, integration and notebook tests in one pytest
session against one lab, the way CI does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .errors import LabNotRunning, UsageError

__all__ = ["REPO", "run_course", "run_tests"]

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def _need_repo() -> None:
    if not (REPO / "tests").is_dir() or not NOTEBOOKS.is_dir():
        raise UsageError(
            f"`k8slab test` and `k8slab course` run from a clone of the k8slab repository; "
            f"{REPO} has no tests/ or notebooks/ folder"
        )


def run_tests(pytest_args: list[str], lab_name: str = "default") -> int:
    """Build what is missing, then run every test and notebook; returns the exit code."""
    _need_repo()
    from .lab import Lab
    from .lab.build import resolve_binaries
    from .lab.components import binaries_for

    try:
        names = binaries_for(os.environ.get("K8SLAB_TEST_PROFILE", "cluster"), kubectl=True)
    except UsageError as exc:
        raise UsageError(f"K8SLAB_TEST_PROFILE: {exc}") from None
    resolve_binaries(names)  # builds with visible progress before pytest captures output

    test_lab = os.environ.get("K8SLAB_TEST_LAB") or ("pytest" if lab_name == "default" else lab_name)
    env = dict(os.environ, K8SLAB_TEST_LAB=test_lab, K8SLAB_LAB=test_lab, PYTHONWARNINGS="ignore::DeprecationWarning")
    targets = [a for a in pytest_args if not a.startswith("-")]
    nbval = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(NOTEBOOKS / "sanitize.cfg")]
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs"]
    # The browser tests run in a session of their own (Playwright's event loop
    # and nbval's kernels don't share a process well).
    runs = [base + nbval + list(pytest_args)] if targets else [
        base + ["tests", "notebooks", "--ignore=tests/browser"] + nbval + list(pytest_args),
        base + ["tests/browser"] + list(pytest_args),
    ]
    # A lab that runs already (a user's, adopted through --lab or K8SLAB_LAB) stays running.
    was_running = Lab(test_lab, progress=None).running
    rc = 0
    try:
        for cmd in runs:
            print("$ " + " ".join(cmd[1:]), flush=True)
            this = subprocess.call(cmd, cwd=REPO, env=env)
            if this == 5:
                print("k8slab: error: pytest collected no tests; that is a failure, not a pass", file=sys.stderr)
                this = 1
            rc = rc or this
    finally:
        if not was_running:
            _stop_test_lab(test_lab)
    return rc


def _stop_test_lab(name: str) -> None:
    """A notebook may have started the test lab; nothing is left running."""
    if os.environ.get("K8SLAB_TEST_KEEP") == "1":
        return
    from .lab import Lab

    lab = Lab(name, progress=None)
    if lab.dir.joinpath("state.json").exists():
        try:
            lab.down()
        except LabNotRunning:  # already stopped by the fixture
            pass


def run_course(lab_name: str = "default", headless: bool = False, port: int | None = None) -> int:
    """Start (or adopt) the lab, then serve the course in JupyterLab, or run it headless.

    Whatever this call started (the lab, JupyterLab) is stopped when it ends:
    on Ctrl-C, on SIGTERM, or when JupyterLab exits.
    """
    _need_repo()
    from .lab import Lab, connect

    lab = connect(name=lab_name)
    if not lab.is_lab:  # bring your own cluster (K8SLAB_KUBECONFIG): notebooks connect() to it, no lab starts
        print(f"k8slab: running the course against the cluster in K8SLAB_KUBECONFIG ({lab.server}); "
              "lab-only steps will be skipped", flush=True)
    else:
        if lab.started_here:
            lab.stop_with(os.getpid())  # even if this command is killed, the lab it started goes
        os.environ["K8SLAB_LAB"] = lab.name  # kernels started from here adopt this lab
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if headless:
            return run_headless()
        cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={NOTEBOOKS}", "--no-browser",
               "--ServerApp.ip=127.0.0.1"]
        if port:
            cmd.append(f"--ServerApp.port={port}")
        if os.geteuid() == 0:  # containers and CI machines often run as root
            cmd.append("--allow-root")
        print(f"k8slab: the cluster is up ({lab.profile}); starting JupyterLab on the course. "
              "Ctrl-C stops JupyterLab (and the lab, if this command started it).", flush=True)
        server = subprocess.Popen(cmd, cwd=NOTEBOOKS)
        try:
            return server.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if isinstance(lab, Lab) and lab.started_here:
            lab.down()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_headless(notebooks: list[Path] | None = None, timeout: int = 900) -> int:
    """Execute each notebook top to bottom (outputs are not saved); print a summary."""
    import tempfile

    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    paths = notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]*-*.ipynb"))
    if not paths:
        raise UsageError(f"no notebooks in {NOTEBOOKS}")
    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = sum(1 for c in nb.cells if c.cell_type == "code")
        start = time.monotonic()
        print(f"running {path.name} ({cells} code cells) ...", flush=True)
        # Client and kernel talk over Unix sockets (IPC), not TCP: local only, and the
        # kernel has no reason to warn about plain-text traffic. Absolute socket paths,
        # because the kernel's working directory is the notebook folder.
        sockets = tempfile.mkdtemp(prefix="k8slab-kernel-")
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(NOTEBOOKS)}})
        try:
            client.execute()
            outcome, ran = "pass", cells
        except CellExecutionError as exc:
            ran = sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count"))
            outcome = "FAIL: " + str(exc).strip().splitlines()[-1][:120]
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
            shutil.rmtree(sockets, ignore_errors=True)
        rows.append((path.name, ran, cells, time.monotonic() - start, outcome))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook'.ljust(width)}  cells  time     result")
    for name, ran, cells, secs, outcome in rows:
        print(f"{name.ljust(width)}  {ran:>2}/{cells:<2}  {secs:6.1f}s  {outcome}")
    failed = sum(1 for r in rows if r[4] != "pass")
    print(f"{len(rows) - failed} of {len(rows)} notebooks passed")
    return 1 if failed else 0
