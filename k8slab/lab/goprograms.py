"""Go programs the course runs beside the lab, built as the lab's binaries are.

    spec = GoProgram("sample-controller", "v0.37.1", "k8s.io/sample-controller",
                     ("k8s.io/sample-controller@v0.37.1",))
    path = go_program(spec)                      # built once, then found in the cache

The programs themselves are named where they are run (k8slab/operators/
runner.py: Go's sample-controller, and k8slab's controller-runtime Foo
reconciler, whose sources are that package's data); this module only builds.

Each program gets a wrapper module that k8slab writes into its cache
(`$K8SLAB_CACHE_DIR/build/<name>-<version>/`), never into the repository:

- a program of an upstream module (sample-controller) is built from the
  module itself: the wrapper only requires `k8s.io/sample-controller
  v0.37.1` and builds its root package, so every dependency is at the version
  upstream's go.mod names (it has no replace directives: `go mod download
  -json` prints its go.mod);
- a program of k8slab's own (controller-runtime-foo) ships its Go sources as
  package data (`sources`, a folder); the wrapper is those files plus a
  go.mod requiring what `requires` names. Its cache key includes a hash of
  the sources and of `requires`, so an edit or another version builds anew.

The binary lands in `$K8SLAB_CACHE_DIR/bin/<name>-<version>/<name>`. A
build holds the cache's build lock (one build at a time, `progress.py`),
reports each step with its elapsed time, and logs to
`build/logs/<name>-<version>.log`; a later call finds the binary and returns
at once. The `go` commands, their environment and their logging are
build.py's.

Kept: upstream's build settings for static binaries (`CGO_ENABLED=0`,
`-trimpath`, `-s -w`). Left out: version stamping (these programs print no
version), supplied binaries (`KUBEBUILDER_ASSETS` holds the lab's only).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import time
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import BuildFailed, ToolchainMissing
from .build import Progress, cache_dir
from .gobuild import build_env, run_logged
from .progress import build_lock

__all__ = ["GoProgram", "go_program", "go_program_path"]


@dataclasses.dataclass(frozen=True)
class GoProgram:
    """A Go program: which package to build, which modules it needs, and our sources if any."""

    name: str
    version: str
    package: str
    requires: tuple[str, ...]  # "module@version" for `go get`
    sources: Traversable | None = None  # a folder holding our main package's .go files; None: upstream's

    def source_files(self) -> dict[str, bytes]:
        if self.sources is None:
            return {}
        return {f.name: f.read_bytes() for f in sorted(self.sources.iterdir(), key=lambda f: f.name)
                if f.name.endswith(".go")}

    @property
    def cache_subdir(self) -> str:
        files = self.source_files()
        if not files:
            return f"{self.name}-{self.version}"
        digest = hashlib.sha256(" ".join(self.requires).encode())  # the modules it is built against,
        for name, data in files.items():  # and its sources
            digest.update(name.encode() + b"\0" + data)
        return f"{self.name}-{self.version}-{digest.hexdigest()[:12]}"


def go_program_path(spec: GoProgram) -> Path:
    """Where the program's binary is (or will be) cached."""
    return cache_dir() / "bin" / spec.cache_subdir / spec.name


def go_program(spec: GoProgram, *, progress: Progress | None = print, build: bool = True) -> Path:
    """The path of the program's binary, built first if the cache does not have it.

    Raises ToolchainMissing when it must be built and there is no `go` (or
    `build=False`), BuildFailed when a step fails (the log's last lines in the
    message).
    """
    path = go_program_path(spec)
    if _ok(path):
        return path
    go = shutil.which("go")
    if not build or go is None:
        raise ToolchainMissing(
            f"{spec.name} {spec.version} is not built yet ({path} is missing)"
            + ("" if go or not build else "; there is no `go` on PATH to build it: install Go 1.26 or newer")
        )
    key = spec.cache_subdir
    with build_lock([(key, f"{spec.name} ({spec.package} {spec.version})")], progress) as record:
        if _ok(path):  # built by another process while we waited for the lock
            record.skip(key)
            return path
        record.start(key)
        _build(go, spec, path, progress)
        record.finish(key)
    return path


def _ok(path: Path) -> bool:
    """Built and finished: the stamp is written only after the binary ran."""
    stamp = path.with_name(f".{path.name}.ok")
    try:
        return stamp.read_text() == f"{path.stat().st_size}"
    except OSError:
        return False


def _build(go: str, spec: GoProgram, path: Path, progress: Progress | None) -> None:
    work = cache_dir() / "build" / spec.cache_subdir
    logs = cache_dir() / "build" / "logs"
    for d in (work, path.parent, logs):
        d.mkdir(parents=True, exist_ok=True)
    log = logs / f"{spec.cache_subdir}.log"
    label = f"{spec.name} ({spec.package} {spec.version})"
    env = build_env()
    module = spec.package if spec.sources is not None else f"k8slab.local/{spec.name.replace('-', '')}build"
    (work / "go.mod").write_text(f"module {module}\n\ngo 1.26.0\n")
    (work / "go.sum").unlink(missing_ok=True)
    for old in work.glob("*.go"):
        old.unlink()
    for filename, data in spec.source_files().items():
        (work / filename).write_bytes(data)
    if spec.sources is None:
        (work / "doc.go").write_text(f"// Package {module.rsplit('/', 1)[1]} is k8slab's generated build wrapper.\n"
                                     f"package {module.rsplit('/', 1)[1]}\n")
    steps = [
        ([go, "get", *spec.requires], "go get"),
        ([go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(path), spec.package], "go build"),
    ]
    with open(log, "a") as logf:
        logf.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} building {label}\n")
        logf.flush()
        for cmd, what in steps:
            run_logged(cmd, work, env, logf, log, f"{what} for {label}", progress)
    try:
        out = subprocess.run([str(path), "-h"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildFailed(f"the build of {spec.name} finished but the binary does not run: {exc}",
                          command="", log=str(log)) from None
    if "-kubeconfig" not in out.stdout + out.stderr:
        raise BuildFailed(f"the build of {spec.name} finished but `{path.name} -h` does not list -kubeconfig "
                          f"(exit {out.returncode})", command="", log=str(log))
    path.with_name(f".{path.name}.ok").write_text(f"{path.stat().st_size}")
    os.chmod(path, 0o755)
