"""k8slab's public names: a small, sorted surface that notebooks can rely on."""

from __future__ import annotations

import importlib
import subprocess
import sys

import k8slab

PUBLISHED = [
    "Lab", "RESTClient", "RestConfig", "build_config_from_flags", "cache", "chain", "connect",
    "errors", "exercises", "lab", "load_kubeconfig", "new_for_config", "show_source", "trace", "views",
    "workqueue",
]


def test_the_top_level_surface_is_exactly_what_notebooks_use():
    assert k8slab.__all__ == sorted(PUBLISHED)


def test_every_public_name_resolves():
    for name in k8slab.__all__:
        assert getattr(k8slab, name) is not None, name


def test_every_wing_keeps_a_sorted_all_that_resolves():
    for wing in ("k8slab.cache", "k8slab.chain", "k8slab.workqueue", "k8slab.lab", "k8slab.errors", "k8slab.views",
                 "k8slab.views.exercises"):
        mod = importlib.import_module(wing)
        assert list(mod.__all__) == sorted(set(mod.__all__)), f"{wing}.__all__ is not sorted or repeats a name"
        for name in mod.__all__:
            assert hasattr(mod, name), f"{wing}.{name}"


def test_importing_k8slab_loads_no_heavy_dependency():
    """`python -m k8slab` must be able to set up its environment before kubernetes exists."""
    code = "import sys, k8slab; print(sorted(m for m in ('kubernetes', 'pandas', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_names_raise_attribute_error():
    try:
        k8slab.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_the_import_contracts_hold():
    """pyproject.toml's import-linter contracts: floors, independence, the cache without HTTP, who imports `kubernetes`."""
    import shutil
    from pathlib import Path

    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra"
    out = subprocess.run([lint], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stdout[-3000:]
    assert "4 kept, 0 broken" in out.stdout
