"""client-go's informer as a witness: build k8slab's informer probe (once) and read what it prints.

The probe is a Go program of k8slab's own, `k8slab/cache/assets/informer_probe`
(a few dozen lines over client-go v0.37.2's SharedInformerFactory; see its
main.go), built as every Go program the course runs is (lab/goprograms.py: a
wrapper module in the cache, the build lock, progress, keyed by its sources).
"""

from __future__ import annotations

import json
import subprocess
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from k8slab.lab.goprograms import GoProgram, go_program

CLIENT_GO = "v0.37.2"
PROBE = GoProgram("informer-probe", CLIENT_GO, "k8slab.local/informerprobe",
                  tuple(f"k8s.io/{m}@{CLIENT_GO}" for m in ("client-go", "api", "apimachinery")),
                  sources=resources.files("k8slab.cache") / "assets" / "informer_probe")


def probe_binary(progress: Any = print) -> Path:
    """The probe's binary, built now if this source has not been built on this machine."""
    return go_program(PROBE, progress=progress)


class Probe:
    """The probe running against one namespace; `calls` fills as it prints."""

    def __init__(self, binary: Path, kubeconfig: Path, namespace: str, log: Path) -> None:
        self._stderr = open(log, "w")
        self._proc = subprocess.Popen(
            [str(binary), "--kubeconfig", str(kubeconfig), "--namespace", namespace],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1,
        )
        self._lock = threading.Condition()
        self.calls: list[dict[str, Any]] = []
        self._caches: list[dict[str, str]] = []
        self.synced = threading.Event()
        self._reader = threading.Thread(target=self._read, name="informer probe reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            call = json.loads(line)
            with self._lock:
                if call["op"] == "synced":
                    self.synced.set()
                elif call["op"] == "cache":
                    self._caches.append(call.get("cache") or {})
                else:
                    self.calls.append(call)
                self._lock.notify_all()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.calls)

    def cache(self, timeout: float = 30.0) -> dict[str, str]:
        """The Go informer's store now: key -> resourceVersion."""
        assert self._proc.stdin is not None
        with self._lock:
            asked = len(self._caches)
            self._proc.stdin.write("cache\n")
            self._proc.stdin.flush()
            if not self._lock.wait_for(lambda: len(self._caches) > asked, timeout):
                raise AssertionError(f"the probe did not answer within {timeout} s (exit code {self._proc.poll()})")
            return self._caches[-1]

    def close(self) -> int:
        """Close its stdin (it exits) and wait; the exit code."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            code = self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait(10)
        self._reader.join(10)
        self._stderr.close()
        return code
