"""The build, watched from anywhere: one build at a time, its progress in a file, waiting for it.

A first run builds six binaries from Go modules (minutes on two cores).
`k8slab course` does not make a learner wait for that in a terminal: it
starts the build in the background (`start_background_build`), opens
JupyterLab at once, and the first notebook's `k8slab.connect()` waits for
the build with a progress bar, then starts the lab.

Whoever builds holds `build.lock` in the cache directory for the whole build
(an `fcntl` lock: it dies with its process) and writes `progress.json`
beside it at every step: which binaries, since when, how long they took the
last time on this machine (`times.json`), and how the build ended. Anyone
else who needs binaries (a notebook, `k8slab up`, a test run) finds the lock
held, watches that file instead of starting a second build, and takes what
the first build made.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import BuildFailed

__all__ = ["BuildState", "build_lock", "read_state", "start_background_build", "wait_for_build"]

Progress = Callable[[str], None]

# How long each project took on the 2-core development machine, Go modules not yet downloaded
# (README, "Measured"); used until this machine has built it once (times.json).
DEFAULT_SECONDS = {"etcd": 40.0, "kubernetes": 300.0, "kwok": 60.0}


def _dir() -> Path:
    from .build import cache_dir

    d = cache_dir() / "build"
    d.mkdir(parents=True, exist_ok=True)
    return d


class BuildState:
    """What `progress.json` says: the steps of the build in progress (or the last one)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.data.get("steps", [])

    @property
    def finished(self) -> bool:
        return bool(self.data.get("finished"))

    @property
    def error(self) -> str:
        return str(self.data.get("error") or "")

    def current(self) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("started") and not s.get("finished")), None)

    def fraction(self, now: float | None = None) -> float:
        """Done so far, weighted by expected seconds; a running step counts up to 95 %."""
        now = time.time() if now is None else now
        total = sum(s["expected"] for s in self.steps) or 1.0
        done = 0.0
        for s in self.steps:
            if s.get("finished"):
                done += s["expected"]
            elif s.get("started"):
                done += min(now - s["started"], 0.95 * s["expected"])
        return min(done / total, 1.0)

    def line(self, now: float | None = None) -> str:
        """'building kube-apiserver, ... (kubernetes v1.37.2): 2m10s of about 5m00s; 1 of 3 done'."""
        now = time.time() if now is None else now
        if self.error:
            return f"the build failed: {self.error}"
        done = sum(1 for s in self.steps if s.get("finished"))
        step = self.current()
        if step is None:
            return f"built {done} of {len(self.steps)}" if self.steps else "no build has run"
        return (f"building {step['label']}: {_fmt(now - step['started'])} of about {_fmt(step['expected'])}; "
                f"{done} of {len(self.steps)} done")


def read_state() -> BuildState:
    try:
        return BuildState(json.loads((_dir() / "progress.json").read_text()))
    except (OSError, ValueError):
        return BuildState({})


class _Recorder:
    """Writes progress.json for the build that holds the lock."""

    def __init__(self, steps: list[tuple[str, str]]) -> None:  # (project key, label)
        times = _times()
        self.data: dict[str, Any] = {"pid": os.getpid(), "started": time.time(), "steps": [
            {"key": key, "label": label,
             "expected": times.get(key, DEFAULT_SECONDS.get(key.split("-v")[0], 120.0))}
            for key, label in steps]}
        self._write()

    def start(self, key: str) -> None:
        self._step(key)["started"] = time.time()
        self._write()

    def skip(self, key: str) -> None:
        """Built meanwhile by someone else: done, without a time to remember."""
        self._step(key)["started"] = self._step(key)["finished"] = time.time()
        self._write()

    def finish(self, key: str) -> None:
        step = self._step(key)
        step["finished"] = time.time()
        times = _times()
        times[key] = round(step["finished"] - step["started"], 1)
        (_dir() / "times.json").write_text(json.dumps(times, indent=1))
        self._write()

    def end(self, error: str = "") -> None:
        self.data["finished"] = time.time()
        self.data["error"] = error
        self._write()

    def _step(self, key: str) -> dict[str, Any]:
        return next(s for s in self.data["steps"] if s["key"] == key)

    def _write(self) -> None:
        tmp = _dir() / "progress.json.tmp"
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(_dir() / "progress.json")


def _times() -> dict[str, float]:
    try:
        return dict(json.loads((_dir() / "times.json").read_text()))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def build_lock(steps: list[tuple[str, str]], progress: Progress | None) -> Iterator[_Recorder]:
    """Hold the build lock (waiting, with progress, while another process builds); record progress."""
    with open(_dir() / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _watch_other_build(lock, progress)
        try:
            recorder = _Recorder(steps)
            try:
                yield recorder
            except BaseException as exc:
                recorder.end(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
                raise
            recorder.end()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _watch_other_build(lock: Any, progress: Progress | None) -> None:
    """Block until the other build releases the lock; show its progress meanwhile."""
    with _display(progress) as show:
        while True:
            show(read_state())
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.5)
        state = read_state()
        show(state)
    if state.error:
        raise BuildFailed(f"the build that ran in the background failed: {state.error}; "
                          f"its log: {_dir() / 'background.log'}", log=str(_dir() / "background.log"))


def wait_for_build(progress: Progress | None = print) -> None:
    """If a build runs in another process, wait for it (with its progress); else return at once."""
    with open(_dir() / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _watch_other_build(lock, progress)
        fcntl.flock(lock, fcntl.LOCK_UN)


def start_background_build(names: list[str]) -> subprocess.Popen:
    """`k8slab build` for `names` in a process of its own (its output in build/background.log)."""
    log = open(_dir() / "background.log", "ab")
    cmd = [sys.executable, "-m", "k8slab", "build", "--only", ",".join(names)]
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    finally:
        log.close()


@contextlib.contextmanager
def _display(progress: Progress | None) -> Iterator[Callable[[BuildState], None]]:
    """A progress bar in a notebook; a line every 30 s elsewhere."""
    widget = _widget()
    if widget is not None:
        bar, label = widget

        def show(state: BuildState) -> None:
            bar.value = state.fraction()
            label.value = state.line()

        yield show
        return
    last = [0.0]

    def say(state: BuildState) -> None:
        if progress and time.monotonic() - last[0] >= 30:
            last[0] = time.monotonic()
            progress(f"waiting for the build in another process: {state.line()}")

    yield say


def _widget() -> tuple[Any, Any] | None:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or shell.__class__.__name__ != "ZMQInteractiveShell":
            return None
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        return None
    bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="lab binaries")
    label = widgets.Label(value="")
    display(widgets.HBox([bar, label]))
    return bar, label


def _fmt(seconds: float) -> str:
    m, s = divmod(int(max(seconds, 0)), 60)
    return f"{m}m{s:02d}s"
