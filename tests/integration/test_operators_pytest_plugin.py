"""k8slab's pytest plugin, proven on someone else's test suite: examples/kopf-foo tests the kopf controller.

The example is a pytest session of its own (its own pytest.ini, no conftest), as an operator's
repository would run it; here it adopts this session's lab instead of starting one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kopf-foo"


def test_the_plugin_runs_a_kopf_operators_tests(lab):
    # Not this session's xdist worker: the example is one process, and would append the worker's id.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--k8slab-lab", lab.name],
                         cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert re.search(r"^2 passed", out.stdout.splitlines()[-1]), out.stdout[-1000:]
    assert lab.running  # adopted, so left running
