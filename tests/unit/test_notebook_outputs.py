"""What committed notebook outputs may not contain: upstream Go source, secrets, paths of this machine.

Upstream source text is never stored in the repository, and notebook outputs
are stored in it: a source view's Go side must be committed as its link alone
(`K8SLAB_UPSTREAM=link`). Tokens, keys and certificate data never appear in
outputs. Outputs come from a clean run, so they name no absolute path of the
machine that ran them. Every notebook is read, `notebooks/solutions/` included,
with its outputs of every kind and its saved widget state.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from k8slab.views.source import UPSTREAM_BEGIN, UPSTREAM_END

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.rglob("*.ipynb"))

GO_SOURCE = [
    re.compile(r"^\s*func\s*(\([^)]*\)\s*)?\w+(\[[^\]]*\])?\(", re.M),  # func F(, func (r *T) M(, func G[T any](
    re.compile(r"^\s*type\s+\w+(\[[^\]]*\])?\s+(struct|interface)\s*\{", re.M),
    re.compile(r"^package\s+\w+\s*$", re.M),
    re.compile(r"\bif err != nil \{"),
]
SECRETS = {
    "PEM data": re.compile(r"-----BEGIN [A-Z0-9 ]+-----"),
    "a JWT (base64 JSON)": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}"),
    "a bearer token": re.compile(r"Bearer (?!REDACTED\b)\S+"),
}
ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:tmp|root|home)/[^\s'\"<>]*")
UPSTREAM_BLOCK = re.compile(re.escape(UPSTREAM_BEGIN) + r"([\s\S]*?)" + re.escape(UPSTREAM_END))

# Every notebook's first cell still shows `k8slab.connect()`'s line from before it
# printed the kubeconfig as ~/... (main 018a860): the lead's clean re-run fixes them.
# strict: the day a notebook is clean, its entry must go.
ABSOLUTE_PATH_OFFENDERS: set[str] = set()


def texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every output and the saved widget state of a notebook."""
    nb = json.loads(path.read_text())
    found = []
    for i, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            if "text" in output:
                found.append((f"cell {i} {output.get('name', 'stream')}", _join(output["text"])))
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith("json"):
                    found.append((f"cell {i} {mime}", value if isinstance(value, str) else _join(value)))
            if "traceback" in output:
                found.append((f"cell {i} traceback", _join(output["traceback"])))
    widgets = nb.get("metadata", {}).get("widgets")
    if widgets:
        found.append(("saved widget state", json.dumps(widgets)))
    return found


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else value if isinstance(value, str) else json.dumps(value)


def visible(text: str) -> str:
    """HTML as a reader sees it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def notebook_params(offenders: set[str] = frozenset()) -> list:
    params = []
    for path in PATHS:
        marks = []
        if path.name in offenders:
            marks = [pytest.mark.xfail(reason="prints the kubeconfig's absolute path (see ABSOLUTE_PATH_OFFENDERS)",
                                       strict=True)]
        params.append(pytest.param(path, id=str(path.relative_to(NOTEBOOKS)), marks=marks))
    return params


def test_the_notebooks_are_found():
    assert len(PATHS) >= 15 and any(p.parent.name == "solutions" for p in PATHS)


@pytest.mark.parametrize("path", notebook_params())
def test_no_output_holds_go_source(path):
    for where, text in texts(path):
        for block in UPSTREAM_BLOCK.findall(text):
            assert "<pre" not in block, f"{where}: an upstream block with code; run with K8SLAB_UPSTREAM=link"
            links = max(block.count("<a "), 1)  # a header (a link and a short note) per Go declaration
            assert len(visible(block)) < 300 * links, f"{where}: an upstream block with more than its links"
        for pattern in GO_SOURCE:
            match = pattern.search(visible(text))
            assert match is None, f"{where}: Go source in a committed output: {match.group(0)!r}"


@pytest.mark.parametrize("path", notebook_params())
def test_no_output_holds_a_secret(path):
    for where, text in texts(path):
        for what, pattern in SECRETS.items():
            match = pattern.search(text)
            assert match is None, f"{where}: {what} in a committed output ({match.group(0)[:12]}...)"


@pytest.mark.parametrize("path", notebook_params(ABSOLUTE_PATH_OFFENDERS))
def test_no_output_names_an_absolute_path_of_the_machine(path):
    for where, text in texts(path):
        match = ABSOLUTE_PATH.search(text)
        assert match is None, f"{where}: an absolute path in a committed output: {match.group(0)}"


def test_the_go_patterns_catch_go_and_spare_python():
    go = visible(UPSTREAM_BEGIN + "<pre><span>func</span> (f *DeltaFIFO) Replace(list []interface{}) error {</pre>")
    assert any(p.search(go) for p in GO_SOURCE)
    assert any(p.search("\tif err != nil {\n") for p in GO_SOURCE)
    python = "def replace(self, objects):\n    func = self._process\n    functools.partial(func)\n"
    assert not any(p.search(python) for p in GO_SOURCE)
