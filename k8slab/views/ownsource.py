"""k8slab's own Go beside upstream's: `show_source("k8slab/operators/assets/crfoo/main.go:FooReconciler.Reconcile")`.

Mirrors no client-go file. A little of k8slab is Go: the controller-runtime
Foo reconciler (`k8slab/operators/assets/crfoo/`), built by the lab's build
and run against the lab. It is k8slab's code, not upstream's, so a notebook
shows it as it shows k8slab's Python, in committed outputs too, highlighted,
its file and first line linked (relative to the notebook's folder, as
`pysource.py` links Python).

The spec is the file's path in the repository, then the declaration, named
as for upstream Go (`FooReconciler.Reconcile`, `newDeployment`, `Foo`; see
`goscan.py`); a path alone shows the whole file. `start`/`end` choose a part
by anchors, as for Python: `start` is text on the first line of the part
(comment lines are skipped), and the part ends where the block that line
opens closes (its braces counted on the masked text, so `} else {` goes on);
`end` moves the end to the close of the block opened on the first line at or
after `start` that holds it.

The HTML column sits between `OWN_GO_BEGIN <path> -->` and `OWN_GO_END`, so a
test of committed outputs (tests/unit/test_notebook_outputs.py) can tell
k8slab's Go from upstream's: it checks that every line between them is a line
of the file named, and only then lets Go text stand.

Kept: any `.go` file under `k8slab/`, read from the installed package.
Left out: Go outside the package (upstream Go is `show_source(go=...)`'s).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from k8slab.errors import UsageError
from k8slab.views.goscan import find_declaration, mask
from k8slab.views.pysource import PySource, _href

__all__ = ["OWN_GO_BEGIN", "OWN_GO_END", "is_own_go_spec", "own_go_source"]

OWN_GO_BEGIN = "<!-- k8slab:own-go "  # followed by the file's path and " -->"
OWN_GO_END = "<!-- /k8slab:own-go -->"
_PREFIX = "k8slab/"


def is_own_go_spec(obj: object) -> bool:
    """A string naming a Go file of k8slab: "k8slab/.../x.go" or "k8slab/.../x.go:Name"."""
    return isinstance(obj, str) and obj.strip().startswith(_PREFIX) and ".go" in obj


def _package_dir() -> Path:
    import k8slab

    return Path(k8slab.__file__).resolve().parent


def own_go_source(spec: str, *, start: str | None = None, end: str | None = None) -> PySource:
    """The declaration (or file) `spec` names, or its part from `start` to `end`, as a `PySource` in Go."""
    location, _, name = spec.strip().partition(":")
    if not location.endswith(".go"):
        raise UsageError(f"show_source({spec!r}): name a .go file of k8slab, e.g. "
                         "'k8slab/operators/assets/crfoo/main.go:FooReconciler.Reconcile'")
    path = _package_dir() / location[len(_PREFIX):]
    if not path.is_file():
        siblings = sorted(p.name for p in path.parent.glob("*.go")) if path.parent.is_dir() else []
        nearby = f"; Go files there: {', '.join(siblings)}" if siblings else ""
        raise UsageError(f"show_source({spec!r}): k8slab has no file {location}{nearby}")
    src = path.read_text(encoding="utf-8")
    lines = src.split("\n")
    if name.strip():
        decl = find_declaration(src, name.strip(), location)
        first, last, shown = decl.doc_line, decl.end_line, decl.name
    else:
        first, last, shown = 1, len(lines) - (1 if src.endswith("\n") else 0), path.name
    lo, hi = first, last
    if start is not None or end is not None:
        lo, hi = _part(src, lines, first, last, start, end, f"{shown} ({location}:{first}-{last})")
    text = textwrap.dedent("\n".join(lines[lo - 1:hi]))  # a part from inside a func starts indented
    return PySource(name=shown, path=location, line=lo, end_line=hi, text=text, href=_href(str(path), lo),
                    language="go")


def _part(src: str, lines: list[str], first: int, last: int, start: str | None, end: str | None,
          where: str) -> tuple[int, int]:
    """1-based first and last line of the part the anchors name, within lines first..last."""
    masked = mask(src).split("\n")
    lo = _find(lines, start, first, last, "start", where) if start is not None else first
    if start is None and end is None:
        return lo, last
    anchored = _find(lines, end, lo, last, "end", where) if end is not None else lo
    return lo, min(_block_end(masked, anchored, last), last)


def _find(lines: list[str], anchor: str, first: int, last: int, which: str, where: str) -> int:
    for n in range(first, last + 1):
        text = lines[n - 1]
        if anchor in text and not text.lstrip().startswith("//"):
            return n
    raise UsageError(f"show_source: {which}={anchor!r} is on no code line of {where}; "
                     "an anchor is text on the first line of the part (e.g. 'if err != nil')")


def _block_end(masked: list[str], line: int, last: int) -> int:
    """The line where the brackets opened on `line` are closed again (`line` itself if none stay open)."""
    depth = 0
    for n in range(line, last + 1):
        text = masked[n - 1]
        depth += sum(text.count(c) for c in "{([") - sum(text.count(c) for c in "})]")
        if depth <= 0:
            return n
    return last
