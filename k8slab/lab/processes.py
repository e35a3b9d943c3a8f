"""The lab's processes: start one in its own session, know it is ours, stop it and all it started.

As kwokctl's binary runtime and envtest do it:

- each process runs in its own session (its own process group), so a
  terminal's Ctrl-C does not reach it and it outlives whoever started it
  (`Lab.stop_with` ties it to an owner when that is wanted);
- its output is appended to its own log file;
- it is known by pid *and* start time (pids are reused after a reboot);
- it is stopped with SIGTERM to the whole group, then SIGKILL after a grace
  period, and reaped, so nothing is left behind, not even a zombie.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from ..errors import StartupFailed

__all__ = ["alive", "spawn", "status_row", "terminate", "wait_ready"]


def spawn(binary: Path, args: list[str], log: Path, env: dict[str, str] | None = None) -> psutil.Process:
    """Start a process in its own session, output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {binary.name} started by k8slab\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    return psutil.Process(proc.pid)


def alive(pid: int, create_time: float) -> psutil.Process | None:
    """The process if it still runs and is the one we started (pids get reused)."""
    try:
        p = psutil.Process(pid)
        if abs(p.create_time() - create_time) > 1.0 or p.status() == psutil.STATUS_ZOMBIE:
            return None
        return p
    except psutil.Error:
        return None


def status_row(name: str, info: dict[str, Any] | None, ports: dict[str, int]) -> dict[str, Any]:
    """What `k8slab status` shows of one process: alive, pid, ports, uptime, memory (RSS)."""
    proc = alive(info["pid"], info["create_time"]) if info else None
    rss = 0
    if proc is not None:
        with contextlib.suppress(psutil.Error):
            rss = proc.memory_info().rss
    return {
        "component": name,
        "running": proc is not None,
        "pid": info["pid"] if info and proc else None,
        "ports": ",".join(f"{k}={v}" for k, v in ports.items()),
        "uptime_s": round(time.time() - info["create_time"], 1) if info and proc else None,
        "rss_mb": round(rss / 2**20, 1) if proc else None,
    }


def terminate(pid: int, create_time: float, grace: float) -> None:
    """SIGTERM the process group, wait `grace` seconds, then SIGKILL what is left."""
    p = alive(pid, create_time)
    if p is None:
        _reap(pid)
        return
    group = [p, *p.children(recursive=True)]
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        p.terminate()
    _, left = psutil.wait_procs(group, timeout=grace)
    if left:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for q in left:
            try:
                q.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status if the process was our child (no zombies left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_ready(name: str, ready: Callable[[], bool], proc: psutil.Process, log: Path, timeout: float) -> float:
    """Poll `ready()` until it holds; returns seconds taken, raises StartupFailed.

    Fails early, naming a known failure from the log, when the process exits.
    """
    start = time.monotonic()
    delay = 0.05
    while True:
        if ready():
            return time.monotonic() - start
        try:
            running = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            running = False
        if not running:
            _reap(proc.pid)
            raise StartupFailed(
                f"{name} exited during start-up{_hint(log)}; its log: {log}", log=str(log)
            )
        if time.monotonic() - start > timeout:
            raise StartupFailed(
                f"{name} was not ready after {timeout:.0f} s{_hint(log)}; its log: {log}",
                log=str(log),
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _hint(log: Path) -> str:
    """Pick a known failure out of a log so the message says what happened."""
    try:
        text = log.read_text(errors="replace")[-20000:]
    except OSError:
        return ""
    if "address already in use" in text:
        return " (a port it wanted was taken)"
    for line in reversed(text.splitlines()):
        low = line.lower()
        if "error" in low or "fatal" in low or low.startswith("e1") or low.startswith("f1"):
            return f" (last error: {line.strip()[:200]})"
    return ""
