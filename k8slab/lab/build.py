"""Binaries for the lab: found, or built from Go modules (gobuild.py) and cached.

Where binaries come from, in order:
  1. an explicit directory (`Lab(bin_dir=...)`, `k8slab up --bin-dir`);
  2. `KUBEBUILDER_ASSETS`, the directory envtest uses;
  3. the cache, `$K8SLAB_CACHE_DIR/bin/<project>-<version>/`
     (default `~/.cache/k8slab`), built there with Go when missing.

Binaries from 1 and 2 are used as they are, without Go; a broken one is an
error that names it. A broken cached binary is deleted and rebuilt.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable

from ..errors import BinaryBroken, BuildFailed, ToolchainMissing, UsageError
from . import gobuild
from .progress import build_lock

__all__ = ["BINARIES", "Binary", "cache_dir", "ensure_binaries", "missing_binaries", "resolve_binaries"]

KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"


@dataclasses.dataclass(frozen=True)
class Binary:
    """One program the lab runs."""

    name: str  # file name, and the component name
    project: str  # "kubernetes", "etcd" or "kwok": binaries of one project build together
    version: str
    package: str  # the Go package to build
    version_args: tuple[str, ...] = ("--version",)

    @property
    def cache_subdir(self) -> str:
        return f"{self.project}-{self.version}"


_K8S = "k8s.io/kubernetes/cmd/"

BINARIES: dict[str, Binary] = {
    b.name: b
    for b in [
        Binary("etcd", "etcd", ETCD_VERSION, "go.etcd.io/etcd/server/v3"),
        Binary("kube-apiserver", "kubernetes", KUBERNETES_VERSION, _K8S + "kube-apiserver"),
        Binary("kube-controller-manager", "kubernetes", KUBERNETES_VERSION, _K8S + "kube-controller-manager"),
        Binary("kube-scheduler", "kubernetes", KUBERNETES_VERSION, _K8S + "kube-scheduler"),
        Binary("kubectl", "kubernetes", KUBERNETES_VERSION, _K8S + "kubectl", ("version", "--client")),
        Binary("kwok", "kwok", KWOK_VERSION, "sigs.k8s.io/kwok/cmd/kwok"),
    ]
}

Progress = Callable[[str], None]

# kwok refuses to run without Stage objects; these ship inside its Go module,
# and are copied next to the binary when it is built (see cluster.py).
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def cache_dir() -> Path:
    """Where built binaries live: `$K8SLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/k8slab`."""
    explicit = os.environ.get("K8SLAB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k8slab"


# -- finding binaries ------------------------------------------------------------


def resolve_binaries(
    names: Iterable[str],
    *,
    bin_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = print,
    build: bool = True,
) -> dict[str, Path]:
    """Return a path for every binary in `names`, building what is missing.

    Raises ToolchainMissing when something must be built and there is no Go,
    BinaryBroken for a supplied binary that does not run, BuildFailed when a
    build fails.
    """
    names = list(names)
    unknown = [n for n in names if n not in BINARIES]
    if unknown:
        raise UsageError(f"unknown binaries {unknown}; known: {sorted(BINARIES)}")
    supplied = _supplied_dir(bin_dir)
    found: dict[str, Path] = {}
    missing: list[Binary] = []
    for name in names:
        spec = BINARIES[name]
        if supplied is not None:
            found[name] = _check_supplied(supplied[0], supplied[1], spec)
            continue
        path = cache_dir() / "bin" / spec.cache_subdir / name
        if path.exists() and not _verified(path, spec, progress):
            path.unlink()
        if path.exists():
            found[name] = path
        else:
            missing.append(spec)
    if missing:
        if not build:
            raise ToolchainMissing(f"{[m.name for m in missing]} are not built yet")
        found.update(ensure_binaries(missing, progress=progress))
    return {n: found[n] for n in names}


def missing_binaries(names: Iterable[str], *, bin_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Which of `names` a build would have to make: none when binaries are supplied, else those not cached."""
    if _supplied_dir(bin_dir) is not None:
        return []
    return [n for n in names if not (cache_dir() / "bin" / BINARIES[n].cache_subdir / n).exists()]


def _supplied_dir(bin_dir: str | os.PathLike[str] | None) -> tuple[Path, str] | None:
    if bin_dir is not None:
        return Path(bin_dir).expanduser(), "--bin-dir"
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        return Path(assets).expanduser(), "KUBEBUILDER_ASSETS"
    return None


def _check_supplied(directory: Path, origin: str, spec: Binary) -> Path:
    path = directory / spec.name
    if not directory.is_dir():
        raise UsageError(f"{origin} names {directory}, which is not a directory")
    if not path.is_file():
        raise BinaryBroken(
            f"{origin} names {directory}, which has no {spec.name}; add it there, "
            f"or unset {origin} to let k8slab build {spec.name} {spec.version} with Go"
        )
    ok, why = _runs(path, spec)
    if not ok:
        raise BinaryBroken(f"{path} (from {origin}) does not run: {why}; replace it or unset {origin}")
    return path


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _verified(path: Path, spec: Binary, progress: Progress | None) -> bool:
    """True if a cached binary runs; remembered by size and mtime, so it is cheap."""
    stamp_file = path.with_name(f".{path.name}.ok")
    try:
        if stamp_file.read_text() == _stamp(path):
            return True
    except OSError:
        pass
    ok, why = _runs(path, spec)
    if ok:
        stamp_file.write_text(_stamp(path))
        return True
    if progress:
        progress(f"cached {spec.name} at {path} is broken ({why}); deleting it and building it again")
    stamp_file.unlink(missing_ok=True)
    return False


def _runs(path: Path, spec: Binary) -> tuple[bool, str]:
    if not os.access(path, os.X_OK):
        return False, "it is not executable"
    try:
        out = subprocess.run(
            [str(path), *spec.version_args], capture_output=True, text=True, timeout=60
        )
    except OSError as exc:
        return False, f"{exc.strerror or exc}"
    except subprocess.TimeoutExpired:
        return False, f"'{spec.name} {' '.join(spec.version_args)}' did not answer in 60 s"
    if out.returncode != 0:
        return False, f"'{spec.name} {' '.join(spec.version_args)}' exited {out.returncode}"
    text = out.stdout + out.stderr
    wanted = spec.version.lstrip("v")
    if wanted not in text:
        return False, f"it reports {text.strip()[:80]!r}, not {spec.version}"
    return True, ""


def kwok_stages_dir() -> Path:
    return cache_dir() / "bin" / BINARIES["kwok"].cache_subdir / "stages"


def copy_kwok_stages() -> Path:
    """Copy kwok's stage files out of its Go module into the cache; returns the folder."""
    target = kwok_stages_dir()
    go = shutil.which("go")
    if go is None:
        raise ToolchainMissing(
            f"kwok's stage definitions are not in {target}, and there is no `go` to fetch the "
            "kwok module they come from; install Go, or copy kwok's kustomize/stage YAML files there"
        )
    cache_dir().mkdir(parents=True, exist_ok=True)
    module = gobuild.module_dir(go, "sigs.k8s.io/kwok", BINARIES["kwok"].version, cache_dir())
    target.mkdir(parents=True, exist_ok=True)
    for rel in KWOK_STAGES:
        shutil.copyfile(module / rel, target / Path(rel).name)
    return target


# -- building --------------------------------------------------------------------


def ensure_binaries(specs: Iterable[Binary], *, progress: Progress | None = print) -> dict[str, Path]:
    """Build the given binaries into the cache (one `go build` per project)."""
    go = shutil.which("go")
    specs = list(specs)
    if go is None:
        names = ", ".join(s.name for s in specs)
        raise ToolchainMissing(
            f"the lab needs {names}, which are not in the cache ({cache_dir() / 'bin'}), "
            "and there is no `go` command on PATH to build them. Install Go 1.26 or newer "
            "(or `conda env create -f environment.yml`), or point KUBEBUILDER_ASSETS at a "
            "directory that holds these binaries."
        )
    by_project: dict[str, list[Binary]] = {}
    for spec in specs:
        by_project.setdefault(spec.project, []).append(spec)
    steps = [(f"{project}-{group[0].version}", f"{', '.join(s.name for s in group)} ({project} {group[0].version})")
             for project, group in by_project.items()]
    built: dict[str, Path] = {}
    # One build at a time per cache; a second caller waits for the first and takes what it made.
    with build_lock(steps, progress) as record:
        for (key, _), (project, group) in zip(steps, by_project.items()):
            ready = {s.name: cache_dir() / "bin" / s.cache_subdir / s.name for s in group}
            if all(path.exists() and _verified(path, s, progress) for s, path in zip(group, ready.values())):
                record.skip(key)
                built.update(ready)
                continue
            record.start(key)
            built.update(_build_project(go, project, group, progress))
            record.finish(key)
    return built


def _build_project(go: str, project: str, group: list[Binary], progress: Progress | None) -> dict[str, Path]:
    version = group[0].version
    work = cache_dir() / "build" / f"{project}-{version}"
    out_dir = cache_dir() / "bin" / f"{project}-{version}"
    logs = cache_dir() / "build" / "logs"
    for d in (work, out_dir, logs):
        d.mkdir(parents=True, exist_ok=True)
    log = logs / f"{project}-{version}.log"
    names = ", ".join(s.name for s in group)
    label = f"{names} ({project} {version})"
    env = gobuild.build_env()
    with open(log, "a") as logf:
        logf.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} building {label}\n")
        logf.flush()
        steps = gobuild.build_steps(go, project, version, [s.name for s in group], [s.package for s in group],
                                    work, out_dir, env, logf)
        for cmd, what in steps:
            gobuild.run_logged(cmd, work, env, logf, log, f"{what} for {label}", progress)
    result = {}
    for spec in group:
        path = out_dir / spec.name
        ok, why = _runs(path, spec)
        if not ok:
            raise BuildFailed(
                f"the build of {spec.name} finished but the binary does not run: {why}",
                command="",
                log=str(log),
            )
        path.with_name(f".{path.name}.ok").write_text(_stamp(path))
        result[spec.name] = path
    if project == "kwok":
        copy_kwok_stages()
    return result


