"""One build at a time, and watching it from another process (no cluster, no Go needed)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from k8slab.errors import BuildFailed
from k8slab.lab import build, progress


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("K8SLAB_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_progress_line_names_the_step_its_time_and_the_expected_time():
    state = progress.BuildState({"steps": [
        {"key": "etcd-v3.6.16", "label": "etcd (etcd v3.6.16)", "expected": 40.0, "started": 100.0, "finished": 130.0},
        {"key": "kubernetes-v1.37.2", "label": "kube-apiserver (kubernetes v1.37.2)", "expected": 300.0,
         "started": 130.0},
        {"key": "kwok-v0.8.0", "label": "kwok (kwok v0.8.0)", "expected": 60.0},
    ]})
    assert state.current()["key"] == "kubernetes-v1.37.2"
    assert state.line(now=260.0) == "building kube-apiserver (kubernetes v1.37.2): 2m10s of about 5m00s; 1 of 3 done"
    assert state.fraction(now=260.0) == pytest.approx((40 + 130) / 400)
    # A step that runs over its expected time counts as at most 95 % done: the bar never claims the end.
    assert state.fraction(now=10_000.0) == pytest.approx((40 + 0.95 * 300) / 400)


def test_a_build_records_its_steps_and_remembers_how_long_each_took(cache):
    with progress.build_lock([("etcd-v3.6.16", "etcd"), ("kwok-v0.8.0", "kwok")], None) as record:
        record.start("etcd-v3.6.16")
        record.finish("etcd-v3.6.16")
        record.skip("kwok-v0.8.0")  # built meanwhile by someone else: no time to remember
    state = progress.read_state()
    assert state.finished and not state.error
    assert all(step["finished"] for step in state.steps)
    times = json.loads((cache / "build" / "times.json").read_text())
    assert set(times) == {"etcd-v3.6.16"}
    # The next build expects what the last one took.
    with progress.build_lock([("etcd-v3.6.16", "etcd")], None):
        assert progress.read_state().steps[0]["expected"] == times["etcd-v3.6.16"]


def test_a_failed_build_says_why_in_the_progress_file(cache):
    with pytest.raises(BuildFailed):
        with progress.build_lock([("etcd-v3.6.16", "etcd")], None):
            raise BuildFailed("go build for etcd failed: exit 1")
    assert progress.read_state().error == "go build for etcd failed: exit 1"


HOLDER = textwrap.dedent("""
    import fcntl, json, os, sys, time
    d = sys.argv[1]
    lock = open(os.path.join(d, "build.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    steps = [{"key": "etcd-v3.6.16", "label": "etcd (etcd v3.6.16)", "expected": 40.0, "started": time.time()}]
    json.dump({"pid": os.getpid(), "steps": steps}, open(os.path.join(d, "progress.json"), "w"))
    print("locked", flush=True)
    sys.stdin.readline()            # hold the lock until the test says so
    json.dump({"pid": os.getpid(), "steps": steps, "finished": time.time(), "error": sys.argv[2]},
              open(os.path.join(d, "progress.json"), "w"))
""")


def _hold_the_lock(cache, error=""):
    (cache / "build").mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(cache / "build"), error],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    return holder


def test_a_second_caller_waits_for_the_build_in_progress_and_shows_it(cache):
    holder = _hold_the_lock(cache)
    said: list[str] = []
    try:
        import threading

        waiter = threading.Thread(target=progress.wait_for_build, args=(said.append,), name="k8slab-test-waiter")
        waiter.start()
        deadline = time.monotonic() + 30
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiter.is_alive(), "it must wait while the other process holds the lock"
        assert said and said[0].startswith("waiting for the build in another process: building etcd (etcd v3.6.16)")
    finally:
        holder.communicate("done\n", timeout=30)
    waiter.join(30)
    assert not waiter.is_alive()


def test_when_the_build_it_waited_for_failed_it_says_so(cache):
    import threading

    holder = _hold_the_lock(cache, error="go build for etcd failed")
    said: list[str] = []
    raised: list[BaseException] = []

    def wait() -> None:
        try:
            progress.wait_for_build(said.append)
        except BuildFailed as exc:
            raised.append(exc)

    waiter = threading.Thread(target=wait, name="k8slab-test-waiter")
    waiter.start()
    deadline = time.monotonic() + 30
    while not said and time.monotonic() < deadline:  # it is waiting on the lock the holder keeps
        time.sleep(0.05)
    holder.communicate("done\n", timeout=30)  # the holder records its failure, then lets go
    waiter.join(30)
    assert not waiter.is_alive()
    assert raised and "the build that ran in the background failed: go build for etcd failed" in str(raised[0])


def test_missing_binaries_are_those_not_cached_and_none_when_supplied(cache, tmp_path, monkeypatch):
    cached = cache / "bin" / f"etcd-{build.ETCD_VERSION}" / "etcd"
    cached.parent.mkdir(parents=True)
    cached.write_text("")
    assert build.missing_binaries(["etcd", "kwok"]) == ["kwok"]
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert build.missing_binaries(["etcd", "kwok"]) == []


def test_the_build_lock_is_released_when_its_holder_dies(cache):
    holder = _hold_the_lock(cache)
    holder.kill()
    holder.wait(30)
    with open(cache / "build" / "build.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise BlockingIOError if still held
    assert os.path.exists(cache / "build" / "progress.json")
