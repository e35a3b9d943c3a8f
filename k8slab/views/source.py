"""`show_source`: a k8slab function beside the client-go Go it mirrors, in a notebook.

Mirrors no client-go file; it is how the course opens the machine. In a cell:

    show_source(DeltaFIFO.replace, go="k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replace")

shows two columns (stacked when the page is narrow): the Python, highlighted,
with its file and first line linked (see `pysource.py`), and the Go, read at
run time from the local Go module cache (see `upstream.py`), highlighted, with
a link to the same lines at the pinned tag on GitHub. Without the module (no
cache, or not that module) the Go column is the link alone.

Upstream source text is never stored in the repository, yet notebook outputs
are. Hence three rules:
- the Go column of the HTML sits between `UPSTREAM_BEGIN` and `UPSTREAM_END`;
  `notebooks/sanitize.cfg` replaces everything between them before nbval
  compares, so a stored link-only output matches a fresh run showing the code;
- the text/plain fallback carries the Python and one line naming the Go
  declaration and linking its file, never Go code, and is the same with or
  without a module cache;
- `K8SLAB_UPSTREAM=link` makes the Go column the link alone even where the
  code is available: notebooks are executed for committing with it set.

k8slab's own Go (the controller-runtime reconciler in
`k8slab/operators/assets/crfoo/`) is not upstream's: named as
`show_source("k8slab/operators/assets/crfoo/main.go:FooReconciler.Reconcile")`
it takes the left column, shown in full like Python, between markers that
name its file (`ownsource.py`).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any, Sequence

from k8slab.errors import UsageError
from k8slab.views.goscan import GoDecl
from k8slab.views.ownsource import OWN_GO_BEGIN, OWN_GO_END, is_own_go_spec, own_go_source
from k8slab.views.pysource import PySource, python_source
from k8slab.views.upstream import GoRef, parse_go_ref, read_declaration

__all__ = ["UPSTREAM_BEGIN", "UPSTREAM_END", "UPSTREAM_ENV", "SourceView", "show_source", "upstream_mode"]

UPSTREAM_BEGIN = "<!-- k8slab:upstream -->"
UPSTREAM_END = "<!-- /k8slab:upstream -->"
UPSTREAM_ENV = "K8SLAB_UPSTREAM"
_MODES = ("code", "link")


def upstream_mode() -> str:
    """"code" (the default: show Go where the module cache has it) or "link" ($K8SLAB_UPSTREAM)."""
    mode = os.environ.get(UPSTREAM_ENV, "").strip().lower() or "code"
    if mode not in _MODES:
        raise UsageError(f"{UPSTREAM_ENV}={os.environ[UPSTREAM_ENV]!r}: expected 'code' (the default) or 'link'")
    return mode


@dataclass(frozen=True)
class GoPart:
    """One Go declaration to show: where it is, and its text when it was read."""

    ref: GoRef
    decl: GoDecl | None  # None: not read (no module cache, or the whole file)
    show: bool = True  # False: link only, even though the text was read (K8SLAB_UPSTREAM=link)

    @property
    def title(self) -> str:
        repo = self.ref.module.repo.rpartition("/")[2]
        return f"{repo} {self.ref.module.version}"

    @property
    def url(self) -> str:
        lines = (self.decl.doc_line, self.decl.end_line) if self.decl else None
        return self.ref.module.url(self.ref.file, lines)


@dataclass(frozen=True)
class SourceView:
    """What `show_source` returns; Jupyter displays it (HTML, or the plain text)."""

    python: PySource | None
    go: tuple[GoPart, ...]
    missing: str = ""  # why a Go part is a link only, when the reader can change that

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.text()

    def text(self) -> str:
        """Plain text: the Python with line numbers, then a line naming each Go original."""
        out = []
        if self.python:
            out.append(f"{self.python.path or 'defined here'}:{self.python.line}  {self.python.name}")
            width = len(str(self.python.end_line))
            for n, line in enumerate(self.python.text.split("\n"), self.python.line):
                out.append(f"{n:>{width}} | {line}".rstrip())
        for part in self.go:
            name = part.ref.name or part.ref.file.rpartition("/")[2]
            out.append(f"Go original: {name} in {part.ref.label}, {part.ref.module.url(part.ref.file)}")
        return "\n".join(out)

    def html(self) -> str:
        """Two columns: Python, then the Go between the upstream markers."""
        columns = []
        if self.python:
            p = self.python
            where = f"{p.path}:{p.line}" if p.path else f"line {p.line}"
            link = f'<a href="{html.escape(p.href)}">{where}</a>' if p.href else html.escape(where)
            column = _column(f"k8slab · {link} · <code>{html.escape(p.name)}</code>",
                             _highlight(p.text, p.language, p.line))
            if p.language == "go":  # k8slab's own Go: kept, and marked as ours (ownsource.py)
                column = f"{OWN_GO_BEGIN}{html.escape(p.path)} -->{column}{OWN_GO_END}"
            columns.append(column)
        if self.go:
            parts = [_go_html(part, self.missing) for part in self.go]
            columns.append(UPSTREAM_BEGIN + _column_open() + "".join(parts) + "</div>" + UPSTREAM_END)
        return '<div class="k8slab-source" style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">' + (
            "".join(columns) + "</div>"
        )


def _column_open() -> str:
    return '<div style="flex:1 1 420px;min-width:0;max-width:100%">'


def _column(header: str, body: str) -> str:
    return _column_open() + _header(header) + body + "</div>"


def _header(content: str) -> str:
    return f'<div style="font-family:monospace;font-size:85%;margin:2px 0 4px">{content}</div>'


def _go_html(part: GoPart, missing: str) -> str:
    name = html.escape(part.ref.name or part.ref.file)
    where = f"{part.ref.file}:{part.decl.doc_line}" if part.decl else part.ref.file
    link = f'<a href="{html.escape(part.url)}">{html.escape(where)}</a>'
    head = f"{html.escape(part.title)} · {link} · <code>{name}</code>"
    if part.decl is not None and part.show:
        return _header(head) + _highlight(part.decl.text, "go", part.decl.doc_line)
    note = html.escape(missing) if part.decl is None and missing else "the Go source is shown when this notebook runs"
    return _header(head) + f'<div style="font-size:85%;opacity:0.75">({note})</div>'


# JupyterLab's output area wraps <pre> lines; code and its line numbers must not wrap (the box scrolls).
_PRE = (
    "margin:0;padding:6px;font-size:85%;line-height:125%;tab-size:4;background:transparent;"
    "white-space:pre;word-break:normal;overflow-wrap:normal"
)


def _highlight(code: str, language: str, first_line: int) -> str:
    """Highlighted code with the file's line numbers in a column of their own."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import GoLexer, PythonLexer

    lexer = PythonLexer() if language == "python" else GoLexer()
    # Inline styles, no stylesheet to ship; nowrap: the spans only, in our own <pre>.
    spans = highlight(code, lexer, HtmlFormatter(noclasses=True, nowrap=True)).rstrip("\n")
    numbers = "\n".join(str(n) for n in range(first_line, first_line + code.count("\n") + 1))
    return (
        '<div style="display:flex;overflow-x:auto;background:#f8f8f8;color:#000">'
        f'<pre style="{_PRE};flex:none;text-align:right;opacity:0.45;user-select:none">{numbers}</pre>'
        f'<pre style="{_PRE};flex:none">{spans}</pre></div>'
    )


def show_source(
    obj: Any = None,
    go: str | Sequence[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
) -> SourceView:
    """Show `obj`'s Python source beside the Go declaration(s) `go` names.

    `obj`: a k8slab function, method or class (or None for Go alone), or
    k8slab's own Go as "k8slab/<path>.go:<Name>" (ownsource.py), e.g.
    "k8slab/operators/assets/crfoo/main.go:FooReconciler.Reconcile".
    `go`: "<module>/<file>.go:<Name>", e.g.
    "k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replace" (a method as
    Type.Method; a func, type, or a name of a const/var block), or a list of them.
    `start`, `end`: show only a part of `obj`, from the statement whose first
    line contains `start` to the end of the statement or clause whose first
    line contains `end` (default: the end of the one `start` opens).

    Return value: displayed by Jupyter as the last expression of a cell (use
    `display(show_source(...))` elsewhere)."""
    if obj is None and not go:
        raise UsageError("show_source: give a k8slab object, a go='<module>/<file>.go:<Name>', or both")
    if is_own_go_spec(obj):
        python = own_go_source(obj, start=start, end=end)
    elif isinstance(obj, str):
        raise UsageError(f"show_source({obj!r}): a string names k8slab's own Go, "
                         "'k8slab/<path>.go:<Name>'; pass Python objects themselves, upstream Go as go=...")
    else:
        python = python_source(obj, start=start, end=end) if obj is not None else None
    specs = [go] if isinstance(go, str) else list(go or [])
    refs = [parse_go_ref(spec) for spec in specs]
    link_only = upstream_mode() == "link"
    parts = tuple(GoPart(ref, read_declaration(ref), show=not link_only) for ref in refs)
    missing = ""
    unread = [p.ref.module for p in parts if p.decl is None and p.ref.name is not None]
    if not link_only and unread:
        absent = unread[0]
        missing = (
            f"{absent.path}@{absent.version} is not in the local Go module cache; "
            f"`go mod download {absent.path}@{absent.version}` puts it there"
        )
    return SourceView(python, parts, missing)
