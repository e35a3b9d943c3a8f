"""The course map (README table and notebooks/index.ipynb) names every notebook, and only those."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]*-*.ipynb"))


def linked_notebooks(text: str) -> list[str]:
    return sorted(set(re.findall(r"\(?(?:notebooks/)?([0-9][0-9][a-z]?-[\w-]+\.ipynb)\)", text)))


def test_there_is_a_course():
    assert len(NOTEBOOKS) >= 13


def test_the_readme_table_lists_every_notebook():
    assert linked_notebooks((REPO / "README.md").read_text()) == NOTEBOOKS


def test_the_index_notebook_lists_every_notebook():
    nb = json.loads((REPO / "notebooks" / "index.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert linked_notebooks(text) == NOTEBOOKS


def test_every_notebook_says_what_it_teaches_and_what_it_mirrors_and_ends_with_exercises():
    for name in NOTEBOOKS:
        cells = json.loads((REPO / "notebooks" / name).read_text())["cells"]
        opening = "".join(cells[0]["source"])
        assert cells[0]["cell_type"] == "markdown" and "What this teaches" in opening, name
        assert "mirrors" in opening.lower(), name
        closing = "".join(cells[-1]["source"])
        assert cells[-1]["cell_type"] == "markdown" and "Exercises" in closing, name


def test_committed_notebooks_have_outputs_with_execution_counts():
    for name in NOTEBOOKS:
        code = [c for c in json.loads((REPO / "notebooks" / name).read_text())["cells"] if c["cell_type"] == "code"]
        assert any(c["outputs"] for c in code), f"{name} has no outputs"
        assert not [c for c in code if c["outputs"] and c["execution_count"] is None], f"{name}: unrun cell with outputs"
