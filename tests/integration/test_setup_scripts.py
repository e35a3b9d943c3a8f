"""Binder's postBuild and start (the dev container runs the same commands), in a fresh environment.

A fresh environment here is a new HOME: no ~/.cache/k8slab, no lab state. Go's own
caches (modules, build cache) are the machine's, as on a Binder build node that has
downloaded them once, so the build relinks rather than compiling Kubernetes again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from k8slab.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _fresh_env(home: Path) -> dict[str, str]:
    go = shutil.which("go")
    if go is None:
        pytest.skip("needs Go")
    go_env = json.loads(subprocess.run([go, "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH"], capture_output=True,
                                       text=True, check=True).stdout)
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(go_env, HOME=str(home))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_post_build_leaves_the_binaries_where_the_course_finds_them(tmp_path):
    env = _fresh_env(tmp_path / "home")
    out = subprocess.run(["bash", str(REPO / "postBuild")], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=1800)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "set up" in out.stdout
    # What `k8slab course` asks before it decides to build: nothing is missing, in the new HOME's cache.
    check = ("from k8slab.lab.build import cache_dir, missing_binaries; from k8slab.lab.components import "
             "binaries_for; print(cache_dir()); print(missing_binaries(binaries_for('cluster', kubectl=True)))")
    found = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True)
    cache, missing = found.stdout.splitlines()
    assert Path(cache) == tmp_path / "home" / ".cache" / "k8slab"
    assert missing == "[]"
    overrides = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_start_runs_the_notebook_server_command_and_starts_the_lab_beside_it(tmp_path):
    state = tmp_path / "state"
    env = dict(os.environ, K8SLAB_STATE_DIR=str(state), K8SLAB_LAB="binder-start")
    env.pop("K8SLAB_KUBECONFIG", None)
    out = subprocess.run([str(REPO / "start"), sys.executable, "-c", "print('the notebook server')"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "the notebook server\n"
    deadline = time.monotonic() + 180
    try:
        while not Lab("binder-start", state_dir=state / "binder-start", progress=None).running:
            assert time.monotonic() < deadline, "start did not bring the lab up"
            time.sleep(0.5)
        Lab("binder-start", state_dir=state / "binder-start", progress=None).stop_with(os.getpid())
    finally:
        deadline = time.monotonic() + 180
        while not (state / "binder-start" / "state.json").exists() and time.monotonic() < deadline:
            time.sleep(0.5)  # if `up` is still writing its state, wait for it before stopping it
        subprocess.run([sys.executable, "-m", "k8slab", "down", "--lab", "binder-start"], env=env,
                       capture_output=True, timeout=120)
    assert not (state / "binder-start" / "state.json").exists()
