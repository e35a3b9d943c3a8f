"""Building the lab's binaries with Go: the wrapper modules and the `go` commands.

Kubernetes' own go.mod cannot be `go install`ed: it requires every staging
module (`k8s.io/api`, `k8s.io/client-go`, ...) at a placeholder `v0.0.0` and
replaces it with a local `./staging/src/...` path. So k8slab writes a small
wrapper module of its own: upstream's go.mod (fetched from the Go module
proxy) with the module renamed, each staging replace pointed at the published
`k8s.io/<name> v0.<minor>.<patch>`, and a requirement on `k8s.io/kubernetes`
itself. `go build` of `k8s.io/kubernetes/cmd/kube-apiserver` in that module
then uses upstream's exact dependency versions. etcd and kwok need no such
rewrite: a wrapper that requires them is enough.

Upstream's build settings (`hack/lib/golang.sh`): static (`CGO_ENABLED=0`),
trimmed, stripped, its tags, and the version stamped into both version
packages. What to build, and where it goes, is build.py's business.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, TextIO

from ..errors import BuildFailed

__all__ = ["build_env", "build_steps", "go_json", "kubernetes_ldflags", "module_dir", "run_logged",
           "wrapper_go_mod"]

Progress = Callable[[str], None]

_BUILD_TAGS = "selinux,notest,grpcnotrace"


def build_env() -> dict[str, str]:
    """The environment of every `go` command: static binaries, modules resolved as needed."""
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-mod=mod"
    env.setdefault("GOTOOLCHAIN", "auto")
    return env


def module_dir(go: str, module: str, version: str, cwd: Path) -> Path:
    """Where the Go module cache holds `module@version` (downloaded if need be)."""
    cmd = [go, "mod", "download", "-json", f"{module}@{version}"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=build_env())
    if out.returncode != 0:
        raise BuildFailed(f"`{' '.join(cmd)}` failed: {out.stderr.strip()[:300]}", command=" ".join(cmd))
    return Path(json.loads(out.stdout)["Dir"])


def build_steps(go: str, project: str, version: str, names: list[str], packages: list[str], work: Path,
                out_dir: Path, env: dict[str, str], logf: TextIO) -> Iterator[tuple[list[str], str]]:
    """Yield (command, description) pairs; may write files in `work` between steps."""
    if project == "kubernetes":
        info = go_json([go, "mod", "download", "-json", f"k8s.io/kubernetes@{version}"], work, env, logf)
        upstream = Path(info["GoMod"]).read_text()
        staging = "v0." + version.lstrip("v").split(".", 1)[1]  # v1.37.2 -> v0.37.2
        (work / "go.mod").write_text(wrapper_go_mod(upstream, version, staging))
        (work / "doc.go").write_text("// Package kubebuild is k8slab's generated build wrapper.\npackage kubebuild\n")
        ldflags = kubernetes_ldflags(version)
    else:
        if not (work / "go.mod").exists():
            (work / "go.mod").write_text(f"module k8slab.local/{project}build\n\ngo 1.24\n")
            (work / "doc.go").write_text(f"// Package {project}build is k8slab's generated build wrapper.\npackage {project}build\n")
        module = {"etcd": "go.etcd.io/etcd/server/v3", "kwok": "sigs.k8s.io/kwok"}[project]
        yield [go, "get", f"{module}@{version}"], "go get"
        ldflags = "-s -w"
        if project == "kwok":
            ldflags += f" -X sigs.k8s.io/kwok/pkg/consts.Version={version}"
    # One binary: name the file (etcd's package path ends in "v3"). Several:
    # a directory, and go names each after its command's directory.
    target = str(out_dir / names[0]) if len(names) == 1 else str(out_dir) + os.sep
    cmd = [go, "build", "-trimpath", "-tags", _BUILD_TAGS, "-ldflags", ldflags, "-o", target]
    yield cmd + packages, "go build"


def wrapper_go_mod(upstream: str, version: str, staging_version: str) -> str:
    """Rewrite Kubernetes' go.mod into k8slab's wrapper module (pure; tested)."""
    required = set(re.findall(r"^\s*(k8s\.io/[\w.-]+) v0\.0\.0(?:\s|$)", upstream, re.M))
    lines = []
    for line in upstream.splitlines():
        m = re.match(r"^\s*(k8s\.io/[\w.-]+) => \./staging/src/k8s\.io/[\w.-]+\s*$", line)
        if m:
            if m.group(1) in required:  # replaces of modules nothing requires are dropped
                lines.append(f"\t{m.group(1)} => {m.group(1)} {staging_version}")
            continue
        if line.startswith("module "):
            line = "module k8slab.local/kubebuild"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    return text.replace("require (", f"require (\n\tk8s.io/kubernetes {version}", 1)


def kubernetes_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for key, value in [
            ("gitVersion", version),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("gitCommit", hashlib.sha1(version.encode()).hexdigest()),
            ("buildDate", "1970-01-01T00:00:00Z"),
        ]:
            flags.append(f"-X {pkg}.{key}={value}")
    return " ".join(flags)


def go_json(cmd: list[str], cwd: Path, env: dict[str, str], logf: TextIO) -> dict:
    logf.write(f"$ {' '.join(cmd)}\n")
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    logf.write(out.stdout + out.stderr)
    if out.returncode != 0:
        raise BuildFailed(
            f"`{' '.join(cmd)}` failed (exit {out.returncode}); full log: {logf.name}",
            command=" ".join(cmd),
            log=logf.name,
        )
    return json.loads(out.stdout)


def run_logged(cmd: list[str], cwd: Path, env: dict[str, str], logf: TextIO, log: Path, what: str,
               progress: Progress | None) -> None:
    """Run a build command, its output into the log, with a ticking progress line."""
    logf.write(f"$ {' '.join(cmd)}\n")
    logf.flush()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=logf, stderr=subprocess.STDOUT)
    done = threading.Event()

    def tick() -> None:
        interactive = sys.stdout.isatty() and progress is print
        every = 1.0 if interactive else 30.0
        while not done.wait(every):
            elapsed = _fmt(time.monotonic() - start)
            if interactive:
                print(f"\r{what}: {elapsed}", end="", flush=True)
            elif progress:
                progress(f"{what}: still running, {elapsed}")

    if progress:
        progress(f"{what}: started (log: {log})")
    ticker = threading.Thread(target=tick, name="k8slab-build-progress", daemon=True)
    ticker.start()
    try:
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        done.set()
        ticker.join()
    if progress and sys.stdout.isatty() and progress is print:
        print()
    if rc != 0:
        tail = _tail(log, 5)
        raise BuildFailed(
            f"{what} failed: `{' '.join(cmd)}` exited {rc} after {_fmt(time.monotonic() - start)}.\n"
            f"Last lines:\n{tail}\nFull log: {log}",
            command=" ".join(cmd),
            log=str(log),
        )
    if progress:
        progress(f"{what}: done in {_fmt(time.monotonic() - start)}")


def _tail(path: Path, n: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("  " + line for line in lines[-n:])


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"
