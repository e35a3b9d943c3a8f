"""The two jobs the README promises: run the course, and run every test.

`k8slab course` starts (or adopts) the lab and serves the notebooks in
JupyterLab; `--headless` runs every notebook instead and prints a summary.
`k8slab test` runs the unit, integration and notebook tests in one pytest
session against one lab, the way CI does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import UsageError

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
    from .lab.build import resolve_binaries
    from .lab.components import COMPONENTS, PROFILES

    profile = os.environ.get("K8SLAB_TEST_PROFILE", "cluster")
    names = [COMPONENTS[c].binary_name for c in PROFILES[profile]] + ["kubectl"]
    resolve_binaries(names)  # builds with visible progress before pytest captures output

    test_lab = os.environ.get("K8SLAB_TEST_LAB") or ("pytest" if lab_name == "default" else lab_name)
    env = dict(os.environ, K8SLAB_TEST_LAB=test_lab, K8SLAB_LAB=test_lab, PYTHONWARNINGS="ignore::DeprecationWarning")
    targets = [a for a in pytest_args if not a.startswith("-")]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs"]
    if not targets:
        cmd += ["tests", "notebooks"]
    cmd += ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(NOTEBOOKS / "sanitize.cfg")]
    cmd += list(pytest_args)
    print("$ " + " ".join(cmd[1:]), flush=True)
    try:
        rc = subprocess.call(cmd, cwd=REPO, env=env)
    finally:
        _stop_test_lab(test_lab)
    if rc == 5:
        print("k8slab: error: pytest collected no tests; that is a failure, not a pass", file=sys.stderr)
        return 1
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
        except Exception:  # already stopped by the fixture
            pass


def run_course(lab_name: str = "default", headless: bool = False, port: int | None = None) -> int:
    """Start the lab, then JupyterLab on the course (or run it headless)."""
    _need_repo()
    from .lab import Lab

    lab = Lab(lab_name)
    lab.up()
    env = dict(os.environ, K8SLAB_LAB=lab.name)
    if headless:
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", str(NOTEBOOKS / "sanitize.cfg"), str(NOTEBOOKS), "-v"]
        return subprocess.call(cmd, cwd=REPO, env=env)
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={NOTEBOOKS}", "--no-browser",
           "--ServerApp.ip=127.0.0.1"]
    if port:
        cmd.append(f"--ServerApp.port={port}")
    print(f"k8slab: serving the course with JupyterLab; the lab's kubeconfig: {lab.kubeconfig}", flush=True)
    try:
        return subprocess.call(cmd, cwd=NOTEBOOKS, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if lab.started_here:
            lab.down()
