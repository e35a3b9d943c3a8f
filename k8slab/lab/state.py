"""A lab's state directory: where it is, what it holds, one writer at a time.

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

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

__all__ = ["create", "load", "locked", "remove", "save", "shown", "state_root"]

SUBDIRS = ("pki", "logs", "components", "users")


def state_root() -> Path:
    explicit = os.environ.get("K8SLAB_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "k8slab"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """One `up`/`down`/`restart` at a time per lab, across processes (a lock file beside it)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def load(directory: Path) -> dict[str, Any]:
    """state.json, or {} when there is none (or only a torn one)."""
    try:
        return json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def save(directory: Path, state: dict[str, Any]) -> None:
    """Write state.json whole (a rename), so a reader never sees half of it."""
    tmp = directory / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(directory / "state.json")


def remove(directory: Path) -> None:
    """Delete the directory, if it looks like a lab's (never some other folder)."""
    if (directory / "state.json").exists() or (directory / "pki").exists():
        shutil.rmtree(directory, ignore_errors=True)


def create(directory: Path, state: dict[str, Any]) -> None:
    """A fresh directory (mode 0700) with its folders and `state`."""
    remove(directory)
    for sub in SUBDIRS:
        (directory / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    save(directory, state)


def shown(path: Path) -> str:
    """A path as messages show it: ~/... under the home directory (no user name in notebook outputs)."""
    try:
        return "~/" + str(Path(path).relative_to(Path.home()))
    except ValueError:
        return str(path)
