"""show_source: the Python beside the Go, the markers around the Go, and the link-only mode.

The Go side is read from the real Go module cache when it is there (those
tests skip, saying why, when it is not); "no cache" is a real empty directory
given as GOMODCACHE. The sanitizer test applies notebooks/sanitize.cfg the way
nbval does, to prove a stored link-only output compares equal to a fresh one.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

from k8slab.cache import DeltaFIFO
from k8slab.errors import UsageError
from k8slab.views import show_source, upstream
from k8slab.views.goscan import find_declaration
from k8slab.views.source import UPSTREAM_BEGIN, UPSTREAM_END
from k8slab.views.upstream import PINNED, GoModule, module_dir, parse_go_ref

REPO = Path(__file__).resolve().parents[2]
REPLACE = "k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replace"
CLIENT_GO = module_dir(PINNED["k8s.io/client-go"])
needs_client_go = pytest.mark.skipif(
    CLIENT_GO is None, reason="k8s.io/client-go@v0.37.2 is not in the Go module cache (the lab's build fills it)"
)


def sample(queue):  # a function to take parts of; never called
    """Not this line: try: is in a docstring."""
    key = queue.get()
    try:
        handle(key)  # noqa: F821
    except ValueError:
        queue.retry(key)
    else:
        queue.forget(key)
    finally:
        queue.done(key)
    return (
        True
    )


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv("K8SLAB_UPSTREAM", raising=False)
    upstream.module_cache.cache_clear()
    yield
    upstream.module_cache.cache_clear()


@pytest.fixture
def no_cache(tmp_path, monkeypatch):
    empty = tmp_path / "gomodcache"
    empty.mkdir()
    monkeypatch.setenv("GOMODCACHE", str(empty))
    upstream.module_cache.cache_clear()


def upstream_block(html: str) -> str:
    blocks = re.findall(re.escape(UPSTREAM_BEGIN) + r"([\s\S]*?)" + re.escape(UPSTREAM_END), html)
    assert len(blocks) == 1, html[:300]
    return blocks[0]


def sanitized(html: str) -> str:
    patterns = get_sanitize_patterns((REPO / "notebooks" / "sanitize.cfg").read_text())
    for regex, replace in patterns:
        html = re.sub(regex, replace, html)
    return html


def test_the_python_side_is_linked_relative_to_the_notebook_folder_at_its_line(monkeypatch):
    monkeypatch.chdir(REPO / "notebooks")
    view = show_source(DeltaFIFO.replace)
    first = inspect.getsourcelines(DeltaFIFO.replace)[1]
    assert view.python.path == "k8slab/cache/delta_fifo.py" and view.python.line == first
    # JupyterLab's file editor opens at #line=N (counted from 0); GitHub opens the file.
    link = f'<a href="../k8slab/cache/delta_fifo.py#line={first - 1}">k8slab/cache/delta_fifo.py:{first}</a>'
    assert link in view.html()
    assert view.text().split("\n")[0] == f"k8slab/cache/delta_fifo.py:{first}  DeltaFIFO.replace"
    assert view.go == () and UPSTREAM_BEGIN not in view.html()


def test_outside_the_repository_there_is_no_link_and_no_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    view = show_source(DeltaFIFO.replace)
    assert view.python.href is None and "href" not in view.html()
    assert str(tmp_path) not in view.html() + view.text() and str(REPO) not in view.html() + view.text()


@needs_client_go
def test_the_go_side_is_the_declaration_highlighted_between_the_markers_and_linked_at_its_lines():
    view = show_source(DeltaFIFO.replace, go=REPLACE)
    decl = find_declaration((CLIENT_GO / "tools/cache/delta_fifo.go").read_text(), "DeltaFIFO.Replace", "")
    block = upstream_block(view.html())
    url = "https://github.com/kubernetes/client-go/blob/v0.37.2/tools/cache/delta_fifo.go"
    url += f"#L{decl.doc_line}-L{decl.end_line}"
    assert f'href="{url}"' in block and "<pre" in block and "Replace" in block
    assert view.html().index(UPSTREAM_BEGIN) > view.html().index("DeltaFIFO.replace")  # Python first


@needs_client_go
def test_the_plain_text_names_the_go_and_links_its_file_but_holds_no_go():
    text = show_source(DeltaFIFO.replace, go=REPLACE).text()
    assert text.split("\n")[-1] == (
        "Go original: DeltaFIFO.Replace in k8s.io/client-go@v0.37.2 tools/cache/delta_fifo.go, "
        "https://github.com/kubernetes/client-go/blob/v0.37.2/tools/cache/delta_fifo.go"
    )
    assert "func " not in text and "f.lock.Lock()" not in text and " | def replace(" in text


@needs_client_go
def test_link_only_mode_emits_no_go_but_keeps_the_lines_in_the_link(monkeypatch):
    code = show_source(DeltaFIFO.replace, go=REPLACE)
    monkeypatch.setenv("K8SLAB_UPSTREAM", "link")
    link = show_source(DeltaFIFO.replace, go=REPLACE)
    block = upstream_block(link.html())
    assert "<pre" not in block and "func" not in block and "#L" in block
    assert link.text() == code.text()
    assert link.html().split(UPSTREAM_BEGIN)[0] == code.html().split(UPSTREAM_BEGIN)[0]


def test_without_a_module_cache_the_go_side_is_the_file_link_and_how_to_get_the_code(no_cache):
    view = show_source(DeltaFIFO.replace, go=REPLACE)
    block = upstream_block(view.html())
    assert 'href="https://github.com/kubernetes/client-go/blob/v0.37.2/tools/cache/delta_fifo.go"' in block
    assert "<pre" not in block and "go mod download k8s.io/client-go@v0.37.2" in block


@needs_client_go
def test_the_sanitizer_makes_a_stored_link_only_output_equal_a_fresh_run_with_or_without_a_cache(
    monkeypatch, tmp_path
):
    fresh = show_source(DeltaFIFO.replace, go=REPLACE).html()
    monkeypatch.setenv("K8SLAB_UPSTREAM", "link")
    stored = show_source(DeltaFIFO.replace, go=REPLACE).html()
    monkeypatch.delenv("K8SLAB_UPSTREAM")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty"))
    upstream.module_cache.cache_clear()
    elsewhere = show_source(DeltaFIFO.replace, go=REPLACE).html()
    assert fresh != stored != elsewhere
    assert sanitized(fresh) == sanitized(stored) == sanitized(elsewhere)
    assert "<pre" in sanitized(fresh)  # the Python side is still compared


def test_several_go_declarations_share_one_upstream_block(no_cache):
    view = show_source(go=[REPLACE, "k8s.io/client-go/tools/cache/delta_fifo.go:dedupDeltas"])
    block = upstream_block(view.html())
    assert block.count("<code>") == 2 and view.python is None
    assert len([line for line in view.text().split("\n") if line.startswith("Go original: ")]) == 2


def test_the_mime_bundle_is_html_and_plain_text(no_cache):
    bundle = show_source(DeltaFIFO.replace, go=REPLACE)._repr_mimebundle_()
    assert sorted(bundle) == ["text/html", "text/plain"]


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        pytest.param("try:", None, "try:", "queue.done(key)", id="try: the whole statement, clauses included"),
        pytest.param("try:", "except ValueError", "try:", "queue.retry(key)", id="to the end of an except clause"),
        pytest.param("key = ", "else:", "key = queue.get()", "queue.forget(key)", id="to the end of an else clause"),
        pytest.param("return (", None, "return (", ")", id="a statement over several lines"),
        pytest.param(None, "handle(key)", "def sample(queue):  # a function to take parts of; never called",
                     "handle(key)  # noqa: F821", id="end alone starts at the top"),
        pytest.param("queue.get()", None, "key = queue.get()", "key = queue.get()",
                     id="an anchor inside a docstring or an expression is skipped"),
    ],
)
def test_anchors_choose_whole_statements_and_clauses(start, end, first, last):
    part = show_source(sample, start=start, end=end).python
    lines = part.text.split("\n")
    assert (lines[0].strip(), lines[-1].strip()) == (first, last)
    src, top = inspect.getsourcelines(sample)
    assert src[part.line - top].strip() == first and src[part.end_line - top].strip() == last
    assert not lines[0].startswith(" ")  # dedented


def test_an_anchor_on_no_line_is_a_usage_error_naming_the_function_and_its_lines():
    with pytest.raises(UsageError) as err:
        show_source(sample, start="while True:")
    assert "start='while True:'" in str(err.value) and "sample (tests/unit/test_views_source.py:" in str(err.value)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        pytest.param("github.com/x/y/z.go:F", ["not in a module the course pins", "k8s.io/client-go"],
                     id="unknown module"),
        pytest.param("k8s.io/client-go/tools/cache:DeltaFIFO", ["name a .go file"], id="a directory"),
        pytest.param("", ["expected '<module>/<file>.go:<Name>'"], id="empty"),
    ],
)
def test_bad_go_specs_are_usage_errors(spec, words):
    with pytest.raises(UsageError) as err:
        parse_go_ref(spec)
    assert all(w in str(err.value) for w in words), str(err.value)


@needs_client_go
def test_a_missing_go_symbol_or_file_is_a_usage_error_naming_the_file_and_nearby_names():
    with pytest.raises(UsageError) as err:
        show_source(go="k8s.io/client-go/tools/cache/delta_fifo.go:DeltaFIFO.Replac")
    assert "'DeltaFIFO.Replac'" in str(err.value) and "tools/cache/delta_fifo.go" in str(err.value)
    assert "DeltaFIFO.Replace" in str(err.value) and "DeltaFIFO.Resync" in str(err.value)
    assert str(CLIENT_GO) not in str(err.value)  # the module's name, not a path on this machine
    with pytest.raises(UsageError) as err:
        show_source(go="k8s.io/client-go/tools/cache/delta_fifo2.go:DeltaFIFO")
    assert "no file tools/cache/delta_fifo2.go" in str(err.value) and "delta_fifo.go" in str(err.value)


def test_other_bad_input_is_a_usage_error(monkeypatch):
    with pytest.raises(UsageError, match="give a k8slab object"):
        show_source()
    with pytest.raises(UsageError, match="no Python source"):
        show_source(len)
    monkeypatch.setenv("K8SLAB_UPSTREAM", "links")
    with pytest.raises(UsageError, match="K8SLAB_UPSTREAM='links'"):
        show_source(go=REPLACE)


def test_versions_repositories_and_refs():
    ref = parse_go_ref("k8s.io/client-go@v0.36.1/util/workqueue/queue.go:Typed.Add")
    assert (ref.module.version, ref.file, ref.name) == ("v0.36.1", "util/workqueue/queue.go", "Typed.Add")
    utils = GoModule("k8s.io/utils", "kubernetes/utils", "v0.0.0-20260626114624-be93311217bd")
    assert utils.url("clock/clock.go", (3, 9)) == (
        "https://github.com/kubernetes/utils/blob/be93311217bd/clock/clock.go#L3-L9"
    )
    assert parse_go_ref("sigs.k8s.io/controller-runtime/pkg/reconcile/reconcile.go:Reconciler").module.repo == (
        "kubernetes-sigs/controller-runtime"
    )
    assert parse_go_ref("k8s.io/apimachinery/pkg/watch/watch.go:Interface").module.repo == "kubernetes/apimachinery"
    assert upstream._escape("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"


def test_the_module_cache_is_found_from_gomodcache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOMODCACHE", str(tmp_path))
    upstream.module_cache.cache_clear()
    assert upstream.module_cache() == tmp_path
    (tmp_path / "k8s.io" / "client-go@v0.37.2").mkdir(parents=True)
    assert module_dir(PINNED["k8s.io/client-go"]) == tmp_path / "k8s.io" / "client-go@v0.37.2"
    assert module_dir(PINNED["k8s.io/apiserver"]) is None


# -- k8slab's own Go ---------------------------------------------------------------------------

CRFOO = "k8slab/operators/assets/crfoo/main.go"


def test_k8slab_own_go_is_shown_in_full_marked_as_ours_and_linked(monkeypatch):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("K8SLAB_UPSTREAM", "link")  # upstream's is link-only; ours is not upstream's
    view = show_source(f"{CRFOO}:FooReconciler.Reconcile")
    src = (REPO / CRFOO).read_text().split("\n")
    part = view.python
    assert part.language == "go" and part.path == CRFOO and part.name == "FooReconciler.Reconcile"
    assert src[part.line - 1].startswith("// Reconcile") and src[part.end_line - 1] == "}"
    html = view.html()
    assert html.startswith('<div class="k8slab-source"') and UPSTREAM_BEGIN not in html
    assert f"<!-- k8slab:own-go {CRFOO} -->" in html and html.count("<!-- /k8slab:own-go -->") == 1
    assert f'href="../{CRFOO}#line={part.line - 1}"' in html and "<pre" in html
    assert view.text().split("\n")[0] == f"{CRFOO}:{part.line}  FooReconciler.Reconcile"


def test_own_go_anchors_choose_a_block_and_its_else_branches():
    whole = show_source(f"{CRFOO}:FooReconciler.Reconcile").python
    part = show_source(f"{CRFOO}:FooReconciler.Reconcile", start="if apierrors.IsNotFound(err)").python
    lines = part.text.split("\n")
    assert (lines[0], lines[-1]) == ("if apierrors.IsNotFound(err) {", "}") and len(lines) == 4
    assert whole.line < part.line <= part.end_line < whole.end_line
    to_end = show_source(f"{CRFOO}:FooReconciler.Reconcile", start="if apierrors.IsNotFound(err)",
                         end="if err != nil").python
    assert to_end.text.split("\n")[-2].strip() == "return ctrl.Result{}, err // requeued with backoff"
    assert not to_end.text.startswith(("\t", " "))  # dedented


def test_own_go_errors_name_the_file_and_what_it_has():
    with pytest.raises(UsageError, match=r"no file k8slab/operators/assets/crfoo/nope.go; Go files there: foo_types.go"):
        show_source("k8slab/operators/assets/crfoo/nope.go:X")
    with pytest.raises(UsageError, match="FooReconciler.Reconcile"):
        show_source(f"{CRFOO}:FooReconciler.Reconcil")
    with pytest.raises(UsageError, match="start='while' is on no code line"):
        show_source(f"{CRFOO}:FooReconciler.Reconcile", start="while")
    with pytest.raises(UsageError, match="a string names k8slab's own Go"):
        show_source("DeltaFIFO.replace")


def _registers():  # a function that defines decorated handlers inside, as kopf_foo.new_registry does
    handlers = []

    def on(event):
        return lambda f: handlers.append((event, f)) or f

    @on("create")
    @on("update")
    def changed(body):
        return body

    return handlers


def test_a_start_anchor_on_a_decorator_takes_the_decorated_def_with_all_its_decorators():
    part = show_source(_registers, start='@on("create")').python
    assert part.text.split("\n") == ['@on("create")', '@on("update")', "def changed(body):", "    return body"]
    inner = show_source(_registers, start='@on("update")').python  # the second decorator: from there on
    assert inner.text.split("\n")[0] == '@on("update")' and inner.end_line == part.end_line
