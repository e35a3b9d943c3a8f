"""The Go scanner behind show_source: one top-level declaration, its doc comment, nothing else.

Inline snippets hold the traps (braces in strings, runes, comments and raw
strings; generic receivers; block comments with blank lines; grouped
declarations). Real files come from the Go module cache the lab's build fills;
those tests skip, saying why, where it is absent. Where Go is installed, the
scanner is also compared with Go's own parser (go/parser) on whole packages.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from k8slab.errors import UsageError
from k8slab.views.goscan import declarations, find_declaration, mask
from k8slab.views.upstream import PINNED, module_dir

CLIENT_GO = module_dir(PINNED["k8s.io/client-go"])
needs_client_go = pytest.mark.skipif(
    CLIENT_GO is None,
    reason="k8s.io/client-go@v0.37.2 is not in the Go module cache (the lab's build fills it; "
    "or: go mod download k8s.io/client-go@v0.37.2)",
)

TRICKY = '''package demo

import "fmt"

// Braces lives in a string, a rune and comments: "{" '}' /* { */
// and its doc comment has two lines.
func Braces() string {
	s := "}{ \\" }"   // a quote, escaped, then a brace: }
	r := '}'
	q := '\\''
	/* a block comment with } and {
	   on two lines */
	return s + string(r) + string(q) + fmt.Sprint("{")
}

var raw = `a raw string
func NotADecl() {
}
` + "x"

/*
Block is documented by a block comment

with a blank line inside it.
*/
type Block struct {
	inner struct{ a, b int }
}

// Typed is generic.
type Typed[T comparable] struct {
	dirty map[T]struct{}
}

// Add has a generic receiver.
func (q *Typed[T]) Add(item T) {
	if _, ok := q.dirty[item]; ok {
		return
	}
}

func (Typed[T]) value() {}

// Not this comment: a blank line follows.

func Lonely() {}

// The consts are one block.
const (
	Added   = "Added"   // a trailing comment with {
	Deleted = "Deleted"
	a, b    = 1, 2
)

func Sum[N int | float64](xs ...N) (total N) {
	for _, x := range xs {
		total += x
	}
	return
}

func external(x int) int
'''


def names(src: str) -> list[tuple[str, ...]]:
    return [d.names for d in declarations(src)]


def lines_of(src: str, name: str) -> list[str]:
    return find_declaration(src, name, "demo.go").text.split("\n")


def test_every_top_level_declaration_is_found_once_and_nothing_inside_a_raw_string():
    assert names(TRICKY) == [
        ("Braces",), ("raw",), ("Block",), ("Typed",), ("Typed.Add",), ("Typed.value",), ("Lonely",),
        ("Added", "Deleted", "a", "b"), ("Sum",), ("external",),
    ]


def test_braces_in_strings_runes_and_comments_do_not_end_a_function():
    text = lines_of(TRICKY, "Braces")
    assert text[0] == '// Braces lives in a string, a rune and comments: "{" \'}\' /* { */'
    assert text[2] == "func Braces() string {"
    assert text[-1] == "}" and text[-2].lstrip().startswith("return s + string(r)")


def test_a_raw_string_spanning_lines_belongs_to_its_declaration():
    assert lines_of(TRICKY, "raw")[-1] == '` + "x"'
    with pytest.raises(UsageError):
        find_declaration(TRICKY, "NotADecl", "demo.go")


def test_a_block_doc_comment_with_a_blank_line_is_kept_whole():
    text = lines_of(TRICKY, "Block")
    assert text[0] == "/*" and text[4] == "*/" and text[5] == "type Block struct {" and text[-1] == "}"


def test_methods_on_generic_receivers_are_type_dot_method():
    add = find_declaration(TRICKY, "Typed.Add", "demo.go")
    assert add.kind == "method"
    assert add.text.split("\n")[:2] == ["// Add has a generic receiver.", "func (q *Typed[T]) Add(item T) {"]
    assert find_declaration(TRICKY, "Typed.value", "demo.go").text == "func (Typed[T]) value() {}"


def test_a_comment_separated_by_a_blank_line_is_not_a_doc_comment():
    assert find_declaration(TRICKY, "Lonely", "demo.go").text == "func Lonely() {}"


def test_any_name_of_a_const_block_gives_the_whole_block():
    block = find_declaration(TRICKY, "Deleted", "demo.go")
    assert block.kind == "const" and block.doc_line < block.line
    assert block.text.split("\n")[1] == "const (" and block.text.split("\n")[-1] == ")"
    assert find_declaration(TRICKY, "b", "demo.go") == block


def test_generic_functions_and_bodiless_functions():
    assert lines_of(TRICKY, "Sum")[0] == "func Sum[N int | float64](xs ...N) (total N) {"
    assert lines_of(TRICKY, "Sum")[-1] == "}"
    assert lines_of(TRICKY, "external") == ["func external(x int) int"]


def test_line_numbers_are_the_files():
    src_lines = TRICKY.split("\n")
    for decl in declarations(TRICKY):
        assert src_lines[decl.doc_line - 1 : decl.end_line] == decl.text.split("\n")
        assert src_lines[decl.line - 1].startswith(("func", "type", "const", "var"))


def test_mask_keeps_length_newlines_and_delimiters():
    src = 'x := "a{b" // c}\ny := `d\n}` + \'{\''
    masked = mask(src)
    assert len(masked) == len(src) and masked.count("\n") == src.count("\n")
    assert "{" not in masked and "}" not in masked
    assert masked.startswith('x := "   "') and "`" in masked


def test_a_missing_name_is_a_usage_error_naming_the_file_and_nearby_names():
    with pytest.raises(UsageError) as err:
        find_declaration(TRICKY, "Typed.Ad", "k8s.io/demo@v1.0.0 demo.go")
    message = str(err.value)
    assert "'Typed.Ad'" in message and "k8s.io/demo@v1.0.0 demo.go" in message
    assert "Typed.Add" in message and "Typed.value" in message


@needs_client_go
def test_a_real_method_with_its_doc_comment_from_the_module_cache():
    src = (CLIENT_GO / "tools/cache/delta_fifo.go").read_text()
    decl = find_declaration(src, "DeltaFIFO.Replace", "delta_fifo.go")
    header = src.split("\n")[decl.line - 1]
    assert header.startswith("func (f *DeltaFIFO) Replace(") and header.endswith("{")
    assert decl.doc_line < decl.line and decl.text.startswith("// Replace")
    assert decl.text.endswith("\n}") and mask(decl.text).count("{") == mask(decl.text).count("}")


@needs_client_go
def test_a_real_generic_method_of_the_workqueue():
    src = (CLIENT_GO / "util/workqueue/queue.go").read_text()
    add = find_declaration(src, "Typed.Add", "queue.go")
    assert src.split("\n")[add.line - 1].startswith("func (q *Typed[T]) Add(")
    assert add.text.endswith("\n}")


GO_DECLS = Path(__file__).parent / "go_decls" / "main.go"


@needs_client_go
@pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed: nothing to compare the scanner with")
def test_the_scanner_agrees_with_go_parser_on_whole_packages(tmp_path):
    files = sorted(str(p) for d in ("tools/cache", "util/workqueue", "rest") for p in (CLIENT_GO / d).glob("*.go"))
    binary = tmp_path / "go_decls"
    subprocess.run(["go", "build", "-o", str(binary), str(GO_DECLS)], check=True, cwd=tmp_path, timeout=300,
                   capture_output=True)
    out = subprocess.run([str(binary), *files], check=True, capture_output=True, text=True, timeout=60).stdout
    expected: dict[str, list[tuple[str, int, int, int]]] = {f: [] for f in files}
    for row in out.splitlines():
        path, name, doc, line, end = row.split("\t")
        expected[path].append((name, int(doc), int(line), int(end)))
    compared = 0
    for path, want in expected.items():
        got = [(d.names, d.doc_line, d.line, d.end_line) for d in declarations(Path(path).read_text())]
        assert [g[1:] for g in got] == [w[1:] for w in want], path
        assert all(w[0] in g[0] for g, w in zip(got, want)), path
        compared += len(want)
    assert compared > 500
