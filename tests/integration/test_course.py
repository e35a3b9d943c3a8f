"""The README's main command: the course in JupyterLab, headless, or on someone else's cluster."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from k8slab.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("K8SLAB_LAB", "K8SLAB_KUBECONFIG")}
    env.update(extra)
    return env


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float) -> tuple[re.Match | None, str]:
    """Read the process's merged output line by line until `pattern` matches."""
    seen = []
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline()
        if not line:
            time.sleep(0.1)
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, "".join(seen)
    return None, "".join(seen)


def test_course_serves_jupyterlab_and_sigterm_stops_everything_it_started(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "k8slab", "course", "--lab", "course-test"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=_env(K8SLAB_STATE_DIR=str(state), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")),
    )
    try:
        match, output = _read_until(proc, r"(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)", timeout=240)
        assert match, f"JupyterLab printed no URL:\n{output}"
        base, token = match.groups()
        with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10) as resp:
            assert resp.status == 200
        lab = Lab("course-test", state_dir=state / "course-test", progress=None)
        assert lab.running
        lab_pids = [r["pid"] for r in lab.status()]
        jupyter = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, 130)
        _, alive = psutil.wait_procs([psutil.Process(p) for p in lab_pids + jupyter if psutil.pid_exists(p)],
                                     timeout=30)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not (state / "course-test" / "state.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_course_runs_headless_against_a_cluster_it_did_not_start(tmp_path):
    """Bring your own cluster: a second lab, handed over only as a kubeconfig."""
    other = Lab("byo", profile="cluster", state_dir=tmp_path / "byo", progress=None).up().stop_with()
    state = tmp_path / "state"  # the course must start no lab here
    try:
        out = subprocess.run(
            [sys.executable, "-m", "k8slab", "course", "--headless"],
            capture_output=True, text=True, timeout=2400,
            env=_env(K8SLAB_KUBECONFIG=str(other.kubeconfig), K8SLAB_STATE_DIR=str(state)),
        )
        summary = out.stdout[out.stdout.find("\nnotebook "):]
        assert out.returncode == 0, f"{summary}\n{out.stderr[-3000:]}"
        assert re.search(r"(\d+) of \1 notebooks passed", out.stdout), summary
        assert "lab-only steps will be skipped" in out.stdout
        assert not list(state.glob("*/state.json"))
    finally:
        other.down()
