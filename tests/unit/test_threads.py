"""The suite's leak check can fail, and every thread k8slab starts carries the name it looks for."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import k8slab
from tests._threads import PREFIX, leaked_threads

PACKAGE = Path(k8slab.__file__).parent


def _start(name: str, daemon: bool, release: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=release.wait, name=name, daemon=daemon)
    thread.start()
    return thread


def test_the_leak_check_reports_a_k8slab_thread_even_a_daemon_and_any_non_daemon_thread():
    before = set(threading.enumerate())
    release = threading.Event()
    threads = [
        _start("k8slab-leaked-on-purpose", True, release),
        _start("someone-elses-daemon", True, release),
        _start("a-non-daemon", False, release),
    ]
    try:
        assert leaked_threads(before, grace=0.01) == ["a-non-daemon", "k8slab-leaked-on-purpose"]
    finally:
        release.set()
        for thread in threads:
            thread.join(5)


def test_a_thread_that_ends_within_the_grace_is_no_leak():
    before = set(threading.enumerate())
    release = threading.Event()
    thread = _start("k8slab-on-its-way-out", True, release)
    release.set()
    assert leaked_threads(before) == []
    assert not thread.is_alive()


def _names_given(tree: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value assigned to a plain name in the module, by name."""
    values: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
    return values


def _starts_with_prefix(value: ast.expr) -> bool:
    if isinstance(value, ast.JoinedStr):
        value = value.values[0] if value.values else value
    return isinstance(value, ast.Constant) and str(value.value).startswith(PREFIX)


def test_every_thread_k8slab_starts_is_named_k8slab_something():
    unnamed = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        given = _names_given(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "Thread"):
                continue
            name = next((k.value for k in node.keywords if k.arg == "name"), None)
            values = given.get(name.id, []) if isinstance(name, ast.Name) else [name]
            if not values or not all(v is not None and _starts_with_prefix(v) for v in values):
                unnamed.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not unnamed, f"threads not named {PREFIX}...: {unnamed}"
