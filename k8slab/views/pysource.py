"""The Python side of a source view: a k8slab function, method or class, or a part of one.

Mirrors no client-go file. `python_source(DeltaFIFO.replace)` finds the code
with `inspect`, names its file relative to the repository and its first line,
and builds a link that opens it at that line.

A part of a function is chosen by anchors, not line numbers:
`python_source(Controller.process_next_work_item, start="try:")` shows the
whole `try` statement (its `except`, `else` and `finally` clauses included);
adding `end="except"` stops at the end of the `except` clause instead. An
anchor is a piece of text on the first line of a statement or clause (not in
a docstring); the part ends where Python's own parser (`ast`) says that
statement or clause ends. So lines added inside or around the part
move it and grow it without breaking it, and when the anchored line itself
changes the notebook fails loudly with a `UsageError` naming the function and
its lines, instead of silently showing the wrong lines (line numbers would).
Marker comments would be as robust, but they put the notebooks' concerns into
the modules the notebooks teach.

The link is relative to the working directory (the notebook's folder in
JupyterLab and under nbval), e.g. `../k8slab/cache/delta_fifo.py#line=184`:
JupyterLab opens the file in its editor at that line (its file editor reads
`#line=N`, counted from 0); on GitHub the same relative link opens the file
(GitHub ignores that fragment; the line number is in the link's text). There
is no link when the working directory is outside the repository, so no output
ever carries an absolute path.

Kept: functions, methods (bound or not, static and class methods, properties),
classes, decorated functions (through `__wrapped__`); a start anchor on a
decorator line takes the decorated def from that decorator on (kopf's handlers
are defined that way, inside the function that registers them).
Left out: objects without Python source (builtins, C extensions).
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8slab.errors import UsageError

__all__ = ["PySource", "python_source"]


@dataclass(frozen=True)
class PySource:
    """Lines of Python source: `line` and `end_line` are 1-based and inclusive."""

    name: str  # "DeltaFIFO.replace"
    path: str  # "k8slab/cache/delta_fifo.py"; "" for code defined in a notebook
    line: int
    end_line: int
    text: str  # dedented
    href: str | None  # relative to the working directory, or None
    language: str = "python"  # "go" for k8slab's own Go (ownsource.py)


def python_source(obj: Any, *, start: str | None = None, end: str | None = None) -> PySource:
    """The source of `obj`, or of its part from anchor `start` to anchor `end`."""
    target = _unwrap(obj)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(obj)
    try:
        lines, first = inspect.getsourcelines(target)
        file = inspect.getsourcefile(target)
    except (OSError, TypeError):
        raise UsageError(
            f"show_source: {obj!r:.80} has no Python source to show; pass a function, method or class "
            "(e.g. DeltaFIFO.replace)"
        ) from None
    first = max(first, 1)  # a module reports line 0
    path = _display_path(file, target)
    lo, hi = 0, len(lines) - 1
    if start is not None or end is not None:
        where = f"{name} ({path or 'defined here'}:{first}-{first + hi})"
        lo, hi = _select(file, lines, first, start, end, where)
    return PySource(
        name=name,
        path=path,
        line=first + lo,
        end_line=first + hi,
        text=textwrap.dedent("".join(lines[lo : hi + 1])).rstrip("\n"),
        href=_href(file, first + lo),
    )


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, (staticmethod, classmethod)) or inspect.ismethod(obj):
        obj = obj.__func__
    return inspect.unwrap(obj) if callable(obj) else obj


def _repo_root() -> Path:
    import k8slab

    return Path(k8slab.__file__).resolve().parent.parent


def _display_path(file: str | None, target: Any) -> str:
    """The file relative to the root of its top-level package's folder ("k8slab/cache/x.py")."""
    if not file:
        return ""
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    top = sys.modules.get((getattr(module, "__name__", "") or "").partition(".")[0])
    top_file = getattr(top, "__file__", None)
    if not top_file or module is None or module.__name__ == "__main__":
        return ""  # defined in a notebook cell or a script: no stable path to show
    root = Path(top_file).resolve().parent.parent
    try:
        return Path(file).resolve().relative_to(root).as_posix()
    except ValueError:
        return ""


def _href(file: str | None, line: int) -> str | None:
    root, here = _repo_root(), Path.cwd().resolve()
    if not file or not here.is_relative_to(root) or not Path(file).resolve().is_relative_to(root):
        return None
    return Path(os.path.relpath(Path(file).resolve(), here)).as_posix() + f"#line={line - 1}"


def _select(
    file: str | None, lines: list[str], first: int, start: str | None, end: str | None, where: str
) -> tuple[int, int]:
    """0-based first and last line (within `lines`) of the part the anchors name."""
    tree = _parse(file)
    last = len(lines) - 1
    heads = _heads(tree, lines, first)
    lo = _find(lines, heads, start, 0, "start", where) if start is not None else 0
    if start is None and end is None:
        return lo, last
    anchored = _find(lines, heads, end, lo, "end", where) if end is not None else lo
    hi = _unit_end(tree, first + anchored) - first
    return lo, min(max(hi, anchored), last)


def _parse(file: str | None) -> ast.AST | None:
    """The whole file's syntax tree (line numbers are the file's), or None."""
    if not file or not Path(file).is_file():
        return None
    path = Path(file)
    return _parse_cached(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parse_cached(path: Path, mtime_ns: int) -> ast.AST | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return None


_CLAUSES = ("else", "elif", "except", "finally", "case")


def _heads(tree: ast.AST | None, lines: list[str], first: int) -> set[int]:
    """Indexes (within `lines`) of the lines where a statement or a clause begins."""
    if tree is None:
        return set(range(len(lines)))
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.ExceptHandler)) and not _is_doc(n)]
    starts = {n.lineno - first for n in nodes}
    starts |= {d.lineno - first for n in nodes for d in getattr(n, "decorator_list", ())}
    clauses = {i for i, line in enumerate(lines) if line.lstrip().startswith(_CLAUSES)}
    return {i for i in starts | clauses if 0 <= i < len(lines)}


def _is_doc(node: ast.AST) -> bool:
    """A docstring (or any bare string): prose, not a statement to anchor on."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _find(lines: list[str], heads: set[int], anchor: str, since: int, which: str, where: str) -> int:
    for i in range(since, len(lines)):
        if i in heads and anchor in lines[i]:
            return i
    after = " at or after the start anchor" if since else ""
    raise UsageError(
        f"show_source: {which}={anchor!r} is on no line{after} of {where}; "
        "an anchor is text on the first line of a statement or clause (e.g. 'try:' or 'finally:')"
    )


def _unit_end(tree: ast.AST | None, line: int) -> int:
    """The last line of the statement or clause that starts on `line` (the file's numbering)."""
    if tree is None:
        return line
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.ExceptHandler))]
    starting = [n.end_lineno or n.lineno for n in nodes
                if n.lineno == line or line in {d.lineno for d in getattr(n, "decorator_list", ())}]
    if starting:
        return max(starting)
    around = [n for n in nodes if isinstance(n, ast.stmt) and n.lineno < line <= (n.end_lineno or n.lineno)]
    if not around:
        return line
    inner = min(around, key=lambda n: (n.end_lineno or n.lineno) - n.lineno)
    # A clause header (`else:`, `finally:`): its block is the first one that starts after it.
    blocks = [b for b in (getattr(inner, f, None) for f in ("body", "orelse", "finalbody")) if b and b[0].lineno > line]
    if blocks:
        block = min(blocks, key=lambda b: b[0].lineno)
        return block[-1].end_lineno or block[-1].lineno
    return inner.end_lineno or line
