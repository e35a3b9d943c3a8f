"""A small Go-aware scanner: find one top-level declaration in a Go file, with its doc comment.

Mirrors no client-go file: this is how the course reads client-go. A notebook
names a declaration (`DeltaFIFO.Replace`, `NewDeltaFIFOWithOptions`,
`DeltaFIFO`, or any name of a `const (...)` block) and gets its exact text,
read from the Go module cache at run time, never stored in the repository.

How it works: `mask` blanks out every comment and the inside of every string,
rune and raw string (keeping the length and the newlines), so on the masked
text braces can be counted and headers matched with plain regular
expressions. A declaration starts at column 0 with `func`, `type`, `const` or
`var` at brace depth 0 (gofmt puts every top-level declaration there) and ends
at the first newline back at depth 0 after which Go inserts a semicolon (the
line ends in a name, a literal, `)`, `]` or `}`). Its doc comment is the run of
comment lines directly above it, as `go doc` takes it.

Kept: methods (`Type.Method`, also on generic receivers such as
`(q *Typed[T])`), funcs (also generic), types, and `const`/`var` declarations,
single or grouped (a name in a group gives the whole block: the block is how
the file presents those names).
Left out: declarations inside functions, and names that are only fields.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass

from k8slab.errors import UsageError

__all__ = ["GoDecl", "declarations", "find_declaration", "mask"]


@dataclass(frozen=True)
class GoDecl:
    """One top-level Go declaration: lines are 1-based and inclusive."""

    name: str  # "DeltaFIFO.Replace", "NewDeltaFIFO", "DeltaFIFO", or the first name of a group
    kind: str  # "method", "func", "type", "const" or "var"
    names: tuple[str, ...]  # every name it declares (several for a group)
    doc_line: int  # first line of the doc comment (== line without one)
    line: int  # the line of the keyword
    end_line: int
    text: str  # doc comment and declaration, exactly as in the file


def mask(src: str) -> str:
    """`src` with comments and the contents of strings, runes and raw strings blanked.

    Delimiters stay (a string reads `"   "`); newlines stay, so offsets and line
    numbers are those of `src`."""
    return _scan(src)[0]


# Comments, raw strings, strings, runes. `finditer` tries them at each offset
# in turn, so a "//" inside a string belongs to the string and a quote inside a
# comment to the comment.
_LEXEMES = re.compile(r"""//[^\n]*|/\*[\s\S]*?\*/|`[^`]*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _scan(src: str) -> tuple[str, list[tuple[int, int]]]:
    """The masked text, and the (start, stop) offsets of every comment."""
    pieces: list[str] = []
    comments: list[tuple[int, int]] = []
    pos = 0
    for m in _LEXEMES.finditer(src):
        start, stop = m.span()
        pieces.append(src[pos:start])
        if src[start] == "/":
            comments.append((start, stop))
            pieces.append(_NOT_NEWLINE.sub(" ", m.group()))
        else:  # keep the delimiters
            pieces.append(src[start] + _NOT_NEWLINE.sub(" ", src[start + 1 : stop - 1]) + src[stop - 1])
        pos = stop
    pieces.append(src[pos:])
    return "".join(pieces), comments


def _doc_start(src: str, comments: list[tuple[int, int]], start: int) -> int:
    """Offset of the doc comment of the declaration at `start` (or `start` itself).

    The doc comment is the run of comments ending on the line above, each
    alone on its lines, with no blank line between them (blank lines inside a
    /* */ comment are part of it)."""
    doc = start
    j = bisect.bisect_right(comments, (start, start)) - 1
    while j >= 0:
        c_start, c_stop = comments[j]
        gap = src[c_stop:doc]
        line_start = src.rfind("\n", 0, c_start) + 1
        if gap.strip() or gap.count("\n") != 1 or src[line_start:c_start].strip():
            break
        doc = line_start
        j -= 1
    return doc


_DECL_START = re.compile(r"^(func|type|const|var)\b", re.MULTILINE)
_FUNC = re.compile(r"func\s*(?:\(\s*(?:\w+\s+)?\*?\s*(?P<recv>\w+)[^)]*\))?\s*(?P<name>\w+)")
_SPEC = re.compile(r"(?:const|var|type)\s+(?P<names>\w+(?:\s*,\s*\w+)*)")
_GROUP = re.compile(r"(?:const|var|type)\s*\(")
_GROUP_LINE = re.compile(r"^[ \t]+(?P<names>\w+(?:[ \t]*,[ \t]*\w+)*)", re.MULTILINE)
_OPEN, _CLOSE = "{([", "})]"


_STRUCTURE = re.compile(r"[{}()\[\]`\n]")


def _end_of(masked: str, start: int) -> int:
    """Offset just past the declaration starting at `start` (its last newline excluded)."""
    depth, raw = 0, False
    for m in _STRUCTURE.finditer(masked, start):
        c = m.group()
        if c == "\n":
            if depth <= 0 and not raw:
                i = m.start()
                line = masked[masked.rfind("\n", start, i) + 1 : i].rstrip()
                if line and (line[-1].isalnum() or line[-1] in "_)]}\"'`"):
                    return i  # Go inserts a semicolon here: the declaration is complete
        elif c == "`":  # the masked inside of a raw string has no backquote: they pair up
            raw = not raw
        elif c in _OPEN:
            depth += 1
        else:
            depth -= 1
    return len(masked)


def _names(kind: str, header: str, body: str) -> tuple[str, ...]:
    if kind == "func":
        m = _FUNC.match(header)
        if not m:
            return ()
        return (f"{m['recv']}.{m['name']}" if m["recv"] else m["name"],)
    if _GROUP.match(header):
        names: list[str] = []
        depth = 0
        for line in body.split("\n")[1:]:
            if depth == 0:
                m = _GROUP_LINE.match(line)
                if m:
                    names += [n.strip() for n in m["names"].split(",")]
            depth += sum(line.count(c) for c in _OPEN) - sum(line.count(c) for c in _CLOSE)
        return tuple(names)
    m = _SPEC.match(header)
    return tuple(n.strip() for n in m["names"].split(",")) if m else ()


def declarations(src: str) -> list[GoDecl]:
    """Every top-level declaration of a Go source file, in file order."""
    masked, comments = _scan(src)
    src_lines = src.split("\n")  # not splitlines(): it also breaks at \x0c, \u2028 ...
    decls: list[GoDecl] = []
    pos = depth = 0  # depth: bracket depth at `pos`
    while True:
        m = _DECL_START.search(masked, pos)
        if not m:
            return decls
        start = m.start()
        depth += _depth_change(masked, pos, start)
        stop = _end_of(masked, start)
        pos = max(stop, m.end())
        if depth != 0:  # a column-0 keyword inside brackets: not a top-level declaration
            depth += _depth_change(masked, start, pos)
            continue
        keyword = m.group(1)
        names = _names(keyword, masked[start : start + 300], masked[start:stop])
        if not names:
            continue
        line = masked.count("\n", 0, start) + 1
        end_line = masked.count("\n", 0, stop) + 1
        doc = masked.count("\n", 0, _doc_start(src, comments, start)) + 1
        kind = "method" if keyword == "func" and "." in names[0] else keyword
        text = "\n".join(src_lines[doc - 1 : end_line])
        decls.append(GoDecl(names[0], kind, names, doc, line, end_line, text))


def _depth_change(masked: str, start: int, stop: int) -> int:
    return sum(masked.count(c, start, stop) for c in _OPEN) - sum(masked.count(c, start, stop) for c in _CLOSE)


def find_declaration(src: str, name: str, where: str) -> GoDecl:
    """The declaration of `name` in `src`; `where` names the file in errors.

    Raises `UsageError` naming the file and the nearest names it does declare."""
    decls = declarations(src)
    for decl in decls:
        if name in decl.names:
            return decl
    known = [n for d in decls for n in d.names]
    near = difflib.get_close_matches(name, known, n=6, cutoff=0.5)
    receiver = name.split(".")[0] + "."
    near += [n for n in known if n.startswith(receiver) and n not in near][: 8 - len(near)]
    listing = ", ".join(near) if near else ", ".join(known[:8])
    raise UsageError(
        f"no top-level Go declaration {name!r} in {where}; names it declares nearby: {listing}. "
        f"Write a method as Type.Method, a func, type, const or var by its name."
    )
