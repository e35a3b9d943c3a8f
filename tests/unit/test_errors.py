"""The error tree: the right class for a Status, and hints only where they are true."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import pytest

from k8slab import errors


@pytest.mark.parametrize(
    "code, reason, cls",
    [
        pytest.param(404, "NotFound", errors.NotFound, id="404 is NotFound"),
        pytest.param(409, "AlreadyExists", errors.AlreadyExists, id="409 AlreadyExists is its own class"),
        pytest.param(409, "Conflict", errors.Conflict, id="409 Conflict"),
        pytest.param(410, "Expired", errors.Gone, id="410 is Gone"),
        pytest.param(422, "Invalid", errors.Invalid, id="422 is Invalid"),
        pytest.param(503, "ServiceUnavailable", errors.APIError, id="an unlisted code stays APIError"),
    ],
)
def test_from_status_picks_the_class(code, reason, cls):
    err = errors.APIError.from_status(code, {"reason": reason, "message": "m"})
    assert type(err) is cls and err.code == code and err.reason == reason


def test_already_exists_is_also_a_conflict():
    assert isinstance(errors.APIError.from_status(409, {"reason": "AlreadyExists"}), errors.Conflict)


def test_an_rbac_denial_gets_the_rbac_hint():
    msg = 'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "x"'
    err = errors.APIError.from_status(403, {"reason": "Forbidden", "message": msg}, "list secrets")
    assert str(err).startswith("list secrets: secrets is forbidden")
    assert "RBAC denies it" in str(err)


def test_an_admission_refusal_is_not_blamed_on_rbac():
    msg = 'pods "web-0" is forbidden: error looking up service account x/default: serviceaccount "default" not found'
    err = errors.APIError.from_status(403, {"reason": "Forbidden", "message": msg})
    assert isinstance(err, errors.Forbidden)
    assert "RBAC" not in str(err)


@pytest.mark.parametrize(
    "make, cls, code, reason, message",
    [
        pytest.param(lambda: errors.new_not_found("leases", "a", "coordination.k8s.io"), errors.NotFound, 404,
                     "NotFound", 'leases.coordination.k8s.io "a" not found', id="not found names the group resource"),
        pytest.param(lambda: errors.new_already_exists("pods", "p"), errors.AlreadyExists, 409, "AlreadyExists",
                     'pods "p" already exists', id="already exists is a 409 of its own class"),
        pytest.param(lambda: errors.new_conflict("pods", "p", "the object has been modified"), errors.Conflict, 409,
                     "Conflict", 'Operation cannot be fulfilled on pods "p": the object has been modified',
                     id="conflict says what cannot be fulfilled"),
        pytest.param(lambda: errors.new_resource_expired("too old resource version: 1 (5)"), errors.Gone, 410,
                     "Expired", "too old resource version: 1 (5)", id="an expired resource version is Gone"),
        pytest.param(lambda: errors.new_too_many_requests("slow down", 3), errors.TooManyRequests, 429,
                     "TooManyRequests", "slow down", id="too many requests"),
    ],
)
def test_constructors_build_what_the_api_server_answers(make, cls, code, reason, message):
    err = make()
    assert type(err) is cls
    assert (err.code, err.reason) == (code, reason)
    assert err.status["kind"] == "Status" and err.status["status"] == "Failure"
    assert (err.status["code"], err.status["reason"], err.status["message"]) == (code, reason, message)
    assert str(err).startswith(message)


# -- the tree is true, and only leaves are raised ------------------------------------------

PACKAGE = Path(errors.__file__).parent
BRANCHES = {"K8sLabError", "LabError", "ConfigError", "APIError"}  # raised only through a leaf

# Root or branch classes still raised (or the root caught) in other wings, each to be replaced by
# the leaf the tree names; the scan fails on any site beyond these. Empty it as they are fixed.
PENDING = {
}


def _class_name(node: ast.expr | None) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def root_raises_and_catches(root: Path) -> Counter[tuple[str, str]]:
    """(file, "raise X" / "except K8sLabError") for every raise of a branch class and catch of the root."""
    found: Counter[tuple[str, str]] = Counter()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Raise) and _class_name(node.exc) in BRANCHES:
                found[(rel, f"raise {_class_name(node.exc)}")] += 1
            elif isinstance(node, ast.ExceptHandler):
                caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                # A command line's last handler prints any k8slab error as one line: the catch of the
                # root that means "any" (the `k8slab` CLI, and `python -m` entry points).
                if "K8sLabError" in map(_class_name, caught) and rel != "cli.py" and not rel.endswith("__main__.py"):
                    found[(rel, "except K8sLabError")] += 1
    return found


def test_no_module_raises_a_branch_class_or_catches_the_root():
    found = root_raises_and_catches(PACKAGE)
    beyond = {site: n for site, n in found.items() if n > PENDING.get(site, 0)}
    assert not beyond, f"raise a leaf class of k8slab.errors instead (see its docstring's tree): {beyond}"


def test_the_scan_finds_a_root_raise_and_a_root_catch(tmp_path):
    (tmp_path / "bad.py").write_text(
        "from k8slab import errors\n"
        "try:\n    raise errors.K8sLabError('something')\nexcept (KeyError, errors.K8sLabError):\n    pass\n"
    )
    assert root_raises_and_catches(tmp_path) == {("bad.py", "raise K8sLabError"): 1, ("bad.py", "except K8sLabError"): 1}


def _drawn_tree() -> dict[str, str]:
    """class -> parent, as the errors module's docstring draws them."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"^    ((?:[│ ]   )*)[├└]── (\w+)", line)
        if m:
            depth = len(m[1]) // 4
            del stack[depth + 1:]
            parents[m[2]] = stack[depth] if depth < len(stack) else stack[-1]
            stack[depth + 1:] = [m[2]]
        elif line.strip() == "K8sLabError":
            stack = ["K8sLabError"]
    return parents


def test_the_docstring_tree_is_the_class_tree():
    drawn = _drawn_tree()
    actual = {
        name: cls.__mro__[1].__name__
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.K8sLabError) and cls is not errors.K8sLabError
    }
    assert drawn == actual


def test_requeue_is_control_flow_not_an_error():
    from k8slab.cache.delta_fifo import Requeue

    assert not issubclass(Requeue, errors.K8sLabError)
