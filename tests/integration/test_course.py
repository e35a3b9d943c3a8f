"""The README's main command: the course in JupyterLab, headless, or on someone else's cluster."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest

from k8slab.lab import Lab
from k8slab.lab.build import BINARIES, ETCD_VERSION, cache_dir, kwok_stages_dir

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("K8SLAB_LAB", "K8SLAB_KUBECONFIG")}
    env.update(extra)
    return env


class _Output:
    """A process's merged output, read to the end by a thread (so the pipe never fills and blocks it)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(proc.stdout), name="k8slab-test-output",
                                        daemon=True)
        self._thread.start()
        self.proc = proc

    def text(self) -> str:
        return "".join(list(self.lines))

    def wait_for(self, pattern: str, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match or self.proc.poll() is not None:
                return match
            time.sleep(0.1)
        return None

    def close(self) -> None:
        """Kill what is still running (the course and its JupyterLab, which holds the pipe too), then join."""
        try:
            tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the course's output did not end after its processes were killed"


_URL = r"(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)"


def _status(base: str, token: str, timeout: float = 60) -> int:
    """GET /api/status; JupyterLab prints its URL a moment before it listens, so refused connections are retried."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10) as resp:
                return resp.status
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_course_serves_jupyterlab_and_sigterm_stops_everything_it_started(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "k8slab", "course", "--lab", "course-test", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=_env(K8SLAB_STATE_DIR=str(state), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")),
    )
    out = _Output(proc)
    try:
        match = out.wait_for(_URL, timeout=240)
        assert match, f"JupyterLab printed no URL:\n{out.text()}"
        base, token = match.groups()
        assert _status(base, token) == 200
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
        out.close()


def test_a_first_run_opens_jupyterlab_while_the_binaries_build_then_starts_the_lab(tmp_path):
    """A cache without etcd: the course starts its build in the background and JupyterLab at once.

    The test holds the build lock itself (as a long build in another process would), so
    JupyterLab provably opens before the build can even begin; then it lets go, the
    background build makes etcd (a real `go build`, quick with Go's warm caches), and
    the course starts the lab.
    """
    cache = tmp_path / "cache"
    for name, spec in BINARIES.items():  # everything but etcd, from the machine's cache
        if name != "etcd":
            (cache / "bin" / spec.cache_subdir).mkdir(parents=True, exist_ok=True)
            (cache / "bin" / spec.cache_subdir / name).symlink_to(cache_dir() / "bin" / spec.cache_subdir / name)
    stages = cache / "bin" / BINARIES["kwok"].cache_subdir / "stages"
    stages.symlink_to(kwok_stages_dir())
    (cache / "build").mkdir(parents=True)
    lock = open(cache / "build" / "build.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "k8slab", "course", "--lab", "first-run", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=_env(K8SLAB_STATE_DIR=str(state), K8SLAB_CACHE_DIR=str(cache), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")),
    )
    def lab() -> Lab:  # read afresh each time: the state file changes under us
        return Lab("first-run", state_dir=state / "first-run", progress=None)

    out = _Output(proc)
    try:
        match = out.wait_for(_URL, timeout=240)
        assert match, f"JupyterLab printed no URL:\n{out.text()}"
        assert "building etcd in the background" in out.text()
        assert not (cache / "bin" / f"etcd-{ETCD_VERSION}" / "etcd").exists()  # the build has not begun
        assert not lab().running
        fcntl.flock(lock, fcntl.LOCK_UN)
        deadline = time.monotonic() + 300
        while not lab().running:
            assert proc.poll() is None and time.monotonic() < deadline, "the lab did not start after the build"
            time.sleep(0.5)
        assert (cache / "bin" / f"etcd-{ETCD_VERSION}" / "etcd").exists()
        pids = [r["pid"] for r in lab().status()]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, 130)
        _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=30)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not (state / "first-run" / "state.json").exists()
    finally:
        lock.close()
        out.close()
        if (state / "first-run" / "state.json").exists():
            lab().down()


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
