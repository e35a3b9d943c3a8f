"""An exec credential plugin for tests: a Python script whose answers the test sets, each run recorded.

Shared by the unit tests and the lab's integration tests (tests/integration/test_chain_exec_plugin.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from k8slab.chain.exec_credential import ExecConfig

V1, V1BETA1 = "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"

SCRIPT = """\
import json, os, pathlib, stat, sys
here = pathlib.Path(__file__).parent
runs = here / "runs.jsonl"
n = len(runs.read_text().splitlines()) if runs.exists() else 0
devnull = os.stat(os.devnull)
stdin = os.fstat(0)
with runs.open("a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "info": os.environ.get("KUBERNETES_EXEC_INFO"),
                        "env": {k: os.environ.get(k) for k in ("EXTRA", "FROM_PARENT")},
                        "stdin_is_devnull": (stdin.st_dev, stdin.st_ino) == (devnull.st_dev, devnull.st_ino),
                        "stdin_is_a_pipe": stat.S_ISFIFO(stdin.st_mode)}) + "\\n")
answers = json.loads((here / "answers.json").read_text())
answer = answers[min(n, len(answers) - 1)]
sys.stderr.write(answer.get("stderr", ""))
out = answer.get("stdout", "")
sys.stdout.write(out if isinstance(out, str) else json.dumps(out))
sys.exit(answer.get("exit", 0))
"""


def credential(version: str = V1, **status) -> dict:
    return {"apiVersion": version, "kind": "ExecCredential", "status": status}


class Plugin:
    """A plugin script in its own folder: answers set by the test, each run recorded."""

    def __init__(self, folder: Path, *answers: dict) -> None:
        """A plugin at `folder/plugin.py` that gives `answers` (see `answer()`)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.path = folder, folder / "plugin.py"
        self.path.write_text(f"#!{sys.executable}\n{SCRIPT}")
        self.path.chmod(0o755)
        self.answer(*answers)

    def answer(self, *answers: dict) -> None:
        """What the plugin does on its 1st, 2nd, ... run (the last answer repeats): stdout, stderr, exit.
        The file is private (0600): it may hold tokens and keys."""
        path = self.folder / "answers.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(list(answers)))

    def runs(self) -> list[dict]:
        lines = (self.folder / "runs.jsonl").read_text().splitlines() if (self.folder / "runs.jsonl").exists() else []
        return [json.loads(line) for line in lines]

    def config(self, **fields) -> ExecConfig:
        return ExecConfig(**{"command": str(self.path), "api_version": V1, "interactive_mode": "Never", **fields})
