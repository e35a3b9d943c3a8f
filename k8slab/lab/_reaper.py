"""Stop a lab when the process that owns it dies: `python -m k8slab.lab._reaper PID NAME DIR`.

A lab's processes run in sessions of their own, so they outlive whoever
started them. That is what `k8slab up` wants; a test session or a course run
wants the opposite: when it ends, however it ends (even killed), its lab goes.
`Lab.stop_with(pid)` starts this small watcher beside the lab.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil


def start(owner_pid: int, name: str, state_dir: Path) -> None:
    """Start the watcher: a process of its own session, so it outlives its owner."""
    subprocess.Popen(
        [sys.executable, "-m", "k8slab.lab._reaper", str(owner_pid), name, str(state_dir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


def main(owner_pid: int, name: str, state_dir: Path) -> None:
    try:
        owner = psutil.Process(owner_pid)
    except psutil.NoSuchProcess:
        owner = None
    while owner is not None:
        if not (state_dir / "state.json").exists():
            return  # the owner stopped the lab itself
        try:
            owner.wait(timeout=1.0)
            break
        except psutil.TimeoutExpired:
            continue
        except psutil.NoSuchProcess:
            break
    if (state_dir / "state.json").exists():
        from .lab import Lab

        try:
            Lab(name, state_dir=state_dir, progress=None).down()
        except Exception:  # nothing left to stop
            pass


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
