"""Where the Go that k8slab mirrors lives: the pinned modules, the local module cache, GitHub links.

Mirrors no client-go file. A notebook names a Go declaration as
`<module>/<file>:<name>`, e.g. `k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replace`;
this module resolves the module at its pinned version, finds the file in the
Go module cache that the lab's build fills (`go env GOMODCACHE`, by default
`~/go/pkg/mod`), and builds the link to the same file at the same tag on
GitHub. Nothing from upstream is ever written anywhere: the text is read when
a notebook runs.

Kept: the modules the course reads, each with its published repository and
version (`PINNED`); `@version` in a spec to read another release; a missing
module cache (binaries from `KUBEBUILDER_ASSETS`, a cluster of one's own)
means "link only", never an error.
Left out: downloading modules (`go mod download k8s.io/sample-controller@v0.37.1`
fills the cache by hand), replace directives, vendored trees.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from k8slab.errors import UsageError
from k8slab.views.goscan import GoDecl, find_declaration

__all__ = ["PINNED", "GoModule", "GoRef", "module_cache", "parse_go_ref", "read_declaration"]


@dataclass(frozen=True)
class GoModule:
    """A Go module at one version, and the GitHub repository it is published from."""

    path: str  # "k8s.io/client-go"
    repo: str  # "kubernetes/client-go"
    version: str  # "v0.37.2", or a pseudo-version

    @property
    def ref(self) -> str:
        """The git ref of the version: its tag, or the commit of a pseudo-version."""
        pseudo = re.fullmatch(r"v\d+\.\d+\.\d+-(?:\d+\.)?\d{14}-([0-9a-f]{12})", self.version)
        return pseudo.group(1) if pseudo else self.version.removesuffix("+incompatible")

    def url(self, file: str, lines: tuple[int, int] | None = None) -> str:
        """The file on GitHub at this version, lines `first-last` highlighted if given."""
        url = f"https://github.com/{self.repo}/blob/{self.ref}/{file}"
        return url + (f"#L{lines[0]}-L{lines[1]}" if lines else "")


# The versions the course mirrors (client-go v0.37.2 and its siblings). k8s.io/utils
# is the pseudo-version client-go v0.37.2's go.mod requires; controller-runtime is
# the newest v0.25 release (built on the v0.37 libraries) at the time of writing.
PINNED: dict[str, GoModule] = {
    m.path: m
    for m in (
        GoModule("k8s.io/client-go", "kubernetes/client-go", "v0.37.2"),
        GoModule("k8s.io/apimachinery", "kubernetes/apimachinery", "v0.37.2"),
        GoModule("k8s.io/apiserver", "kubernetes/apiserver", "v0.37.2"),
        GoModule("k8s.io/api", "kubernetes/api", "v0.37.2"),
        GoModule("k8s.io/utils", "kubernetes/utils", "v0.0.0-20260626114624-be93311217bd"),
        GoModule("k8s.io/sample-controller", "kubernetes/sample-controller", "v0.37.1"),
        GoModule("k8s.io/kubernetes", "kubernetes/kubernetes", "v1.37.2"),
        GoModule("sigs.k8s.io/controller-runtime", "kubernetes-sigs/controller-runtime", "v0.25.3"),
        GoModule("golang.org/x/time", "golang/time", "v0.15.0"),
    )
}


@dataclass(frozen=True)
class GoRef:
    """A parsed `<module>[@version]/<file>[:<name>]`."""

    module: GoModule
    file: str  # inside the module: "tools/cache/delta_fifo.go"
    name: str | None  # "DeltaFIFO.Replace"; None for the whole file

    @property
    def label(self) -> str:
        """How a notebook names it: "k8s.io/client-go@v0.37.2 tools/cache/delta_fifo.go"."""
        return f"{self.module.path}@{self.module.version} {self.file}"


def parse_go_ref(spec: str) -> GoRef:
    """`k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replace` -> a `GoRef`.

    The module is the longest pinned module path the spec starts with; an
    `@version` after it reads another version (`k8s.io/client-go@v0.36.1/...`)."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"go={spec!r}: expected '<module>/<file>.go:<Name>', e.g. {_EXAMPLE!r}")
    location, _, name = spec.strip().partition(":")
    for path in sorted(PINNED, key=len, reverse=True):
        if location == path or location.startswith((path + "/", path + "@")):
            break
    else:
        modules = ", ".join(sorted(PINNED))
        raise UsageError(f"go={spec!r}: not in a module the course pins ({modules}); e.g. {_EXAMPLE!r}")
    module = PINNED[path]
    rest = location[len(path) :]
    if rest.startswith("@"):
        version, _, rest = rest[1:].partition("/")
        module = GoModule(module.path, module.repo, version)
    file = rest.lstrip("/")
    if not file.endswith(".go"):
        raise UsageError(f"go={spec!r}: name a .go file inside {module.path}, e.g. {_EXAMPLE!r}")
    return GoRef(module, file, name.strip() or None)


_EXAMPLE = "k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replace"


@functools.lru_cache(maxsize=1)
def module_cache() -> Path | None:
    """The Go module cache directory, or None when there is none.

    Looked up as `go` does: $GOMODCACHE, else `go env GOMODCACHE` (when Go is
    installed), else $GOPATH's first entry + /pkg/mod, else ~/go/pkg/mod."""
    candidates = [os.environ.get("GOMODCACHE", "")]
    go = shutil.which("go")
    if go and not candidates[0]:
        try:
            out = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, timeout=20)
            candidates.append(out.stdout.strip() if out.returncode == 0 else "")
        except (OSError, subprocess.TimeoutExpired):
            pass
    gopath = os.environ.get("GOPATH", "").split(os.pathsep)[0]
    candidates += [str(Path(gopath) / "pkg" / "mod") if gopath else "", str(Path.home() / "go" / "pkg" / "mod")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _escape(module_path: str) -> str:
    """The module cache's case encoding: an upper-case letter becomes '!' + lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group().lower(), module_path)


def module_dir(module: GoModule) -> Path | None:
    """The module's directory in the cache, or None when it is not there."""
    cache = module_cache()
    if cache is None:
        return None
    directory = cache / f"{_escape(module.path)}@{_escape(module.version)}"
    return directory if directory.is_dir() else None


def read_declaration(ref: GoRef) -> GoDecl | None:
    """The declaration `ref` names, read from the module cache; None without the module.

    A file or name that the module does not have is a `UsageError` naming it."""
    directory = module_dir(ref.module)
    if directory is None or ref.name is None:
        return None
    path = directory / ref.file
    if not path.is_file():
        siblings = sorted(p.name for p in path.parent.glob("*.go")) if path.parent.is_dir() else []
        nearby = f"; Go files in {ref.file.rpartition('/')[0] or '.'}: {', '.join(siblings[:12])}" if siblings else ""
        raise UsageError(f"no file {ref.file} in {ref.module.path}@{ref.module.version}{nearby}")
    return _declaration(path, path.stat().st_mtime_ns, ref.name, ref.label)


@functools.lru_cache(maxsize=256)
def _declaration(path: Path, mtime_ns: int, name: str, where: str) -> GoDecl:
    return find_declaration(path.read_text(encoding="utf-8"), name, where)
