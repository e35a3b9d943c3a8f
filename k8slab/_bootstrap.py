"""Set up a fresh machine for `python3 -m k8slab ...` (standard library only).

If the running interpreter lacks k8slab's dependencies, create a virtual
environment at `<repo>/.venv` (or `$K8SLAB_VENV`), install the package there
(editable, with its test extra), and re-run the same command inside it. An
interpreter that already has them (a conda env from environment.yml, Binder,
a `pip install -e .`) is used as it is.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import venv
from pathlib import Path

# Modules whose absence means "not installed yet".
_NEEDED = ("kubernetes", "pandas", "ipywidgets", "cryptography", "psutil", "yaml", "pytest", "nbval")


def _missing() -> list[str]:
    import importlib.util

    missing = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
    if not missing:
        try:
            if not importlib.metadata.version("kubernetes").startswith("37."):
                missing.append("kubernetes==37.*")
        except importlib.metadata.PackageNotFoundError:
            missing.append("kubernetes")
    return missing


def ensure_environment() -> None:
    missing = _missing()
    if not missing:
        return
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "pyproject.toml").exists():
        sys.exit(
            f"k8slab: error: this Python lacks {', '.join(missing)}; "
            "install k8slab with `pip install 'k8slab[test]'`"
        )
    target = Path(os.environ.get("K8SLAB_VENV", repo / ".venv"))
    python = target / "bin" / "python"
    # sys.prefix, not sys.executable: a venv's python is a symlink to its base interpreter.
    if Path(sys.prefix).resolve() == target.resolve() and os.environ.get("K8SLAB_BOOTSTRAPPED"):
        sys.exit(f"k8slab: error: {target} still lacks {', '.join(missing)} after installing; see pip's output above")
    # The environment is current when it was installed from this very pyproject.toml.
    stamp = target / ".k8slab-installed"
    wanted = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()
    current = python.exists() and stamp.exists() and stamp.read_text() == wanted
    if not current:
        if not python.exists():
            print(f"k8slab: creating a virtual environment in {target}", flush=True)
            venv.EnvBuilder(with_pip=True).create(target)
        print(f"k8slab: installing k8slab and its dependencies into {target}", flush=True)
        rc = subprocess.call([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                              "-e", f"{repo}[test]"])
        if rc != 0:
            sys.exit(f"k8slab: error: `pip install -e {repo}[test]` failed (exit {rc}); see its output above")
        stamp.write_text(wanted)
    env = dict(os.environ, K8SLAB_BOOTSTRAPPED="1")
    os.execve(str(python), [str(python), "-m", "k8slab", *sys.argv[1:]], env)
