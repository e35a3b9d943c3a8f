"""client-go's informer as a witness: build k8slab's informer probe (once) and read what it prints.

The probe is a Go program of k8slab's own, `k8slab/cache/assets/informer_probe`
(a few dozen lines over client-go v0.37.2's SharedInformerFactory; see its
main.go). It is built the way k8slab builds the lab's binaries (lab/gobuild.py:
the same environment and logged `go` commands, under the build lock of
lab/progress.py, so it never builds beside another Go build), into the cache
directory, keyed by a hash of its source: a second run starts at once.
k8slab's `lab/goprograms.py` (the operators wing's Go programs) had not landed
when this was written; this is the smallest code that does the job.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import k8slab.cache
from k8slab.lab.build import cache_dir
from k8slab.lab.gobuild import build_env, run_logged
from k8slab.lab.progress import build_lock

SOURCE = Path(k8slab.cache.__file__).parent / "assets" / "informer_probe"
CLIENT_GO = "v0.37.2"


def probe_binary(progress: Any = print) -> Path:
    """The probe's binary, built now if this source has not been built on this machine."""
    files = [SOURCE / "main.go", SOURCE / "go.mod"]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
    work = cache_dir() / f"informer-probe-{CLIENT_GO}-{digest}"
    binary = work / "informer-probe"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise AssertionError("the informer probe needs Go (1.26+) on PATH: the lab's binaries are built with it too")
    step = f"informer-probe-{CLIENT_GO}"
    with build_lock([(step, "client-go informer probe")], progress) as recorder:
        if binary.exists():  # built by whoever held the lock before us
            recorder.skip(step)
            return binary
        recorder.start(step)
        work.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, work / f.name)
        log = work / "build.log"
        partial = work / "informer-probe.partial"
        with open(log, "w") as logf:
            env = build_env()
            run_logged([go, "mod", "tidy"], work, env, logf, log, "go mod tidy (informer probe)", progress)
            run_logged([go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(partial), "."], work, env, logf,
                       log, "go build (informer probe)", progress)
        partial.replace(binary)
        recorder.finish(step)
    return binary


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
