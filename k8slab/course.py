"""The two jobs the README promises: run the course, and run every test.

`k8slab course` starts (or adopts) the lab and serves the notebooks in
JupyterLab; `--headless` runs every notebook instead and prints a summary.
`k8slab test` runs the unit, integration and notebook tests in one pytest
session against one lab, the way CI does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .errors import LabNotRunning, UsageError

__all__ = ["REPO", "quiet_jupyterlab", "run_course", "run_tests"]

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def _need_repo() -> None:
    if not (REPO / "tests").is_dir() or not NOTEBOOKS.is_dir():
        raise UsageError(
            f"`k8slab test` and `k8slab course` run from a clone of the k8slab repository; "
            f"{REPO} has no tests/ or notebooks/ folder"
        )


def run_tests(pytest_args: list[str], lab_name: str = "default") -> int:
    """Build what is missing, then run every test and notebook; returns the exit code.

    With no test paths, three pytest sessions run, two at a time, each against labs of its own
    (started here or by the session, stopped at the end however it ends):
      tests      unit and integration tests, on two xdist workers (a cluster lab each; tests
                 that restart or compact the API server on labs of their own, see tests/conftest.py)
      notebooks  every notebook under nbval, in course order, on the lab `<name>-nb` ...
      browser    ... then JupyterLab in Chromium on that same lab (its own session: Playwright's
                 event loop and nbval's kernels do not share a process well)
    The first streams its output as it goes; the other's is printed when it ends. With test
    paths (`k8slab test tests/unit`), or when `--lab` names a lab that is already running, one
    session runs them serially against that one lab instead, and leaves an adopted lab running.
    """
    _need_repo()
    from .lab import Lab
    from .lab.build import resolve_binaries
    from .lab.components import binaries_for

    try:
        names = binaries_for(os.environ.get("K8SLAB_TEST_PROFILE", "cluster"), kubectl=True)
    except UsageError as exc:
        raise UsageError(f"K8SLAB_TEST_PROFILE: {exc}") from None
    resolve_binaries(names)  # builds with visible progress before pytest captures output

    base = os.environ.get("K8SLAB_TEST_LAB") or ("pytest" if lab_name == "default" else lab_name)
    env = dict(os.environ, K8SLAB_TEST_LAB=base, K8SLAB_LAB=base, PYTHONWARNINGS="ignore::DeprecationWarning")
    nbval = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(NOTEBOOKS / "sanitize.cfg")]
    targets = [a for a in pytest_args if not a.startswith("-")]
    was_running = Lab(base, progress=None).running  # a user's lab, adopted: it stays running
    try:
        if targets:
            return _pytest(_PYTEST + nbval + list(pytest_args), env, "tests")
        if was_running:
            rc = _pytest(_PYTEST + ["tests", "notebooks", "--ignore=tests/browser", *nbval, *pytest_args], env, "tests")
            return _pytest(_PYTEST + ["tests/browser", *pytest_args], env, "browser") or rc
        return _run_streams(pytest_args, env, base, nbval)
    finally:
        if not was_running:
            _stop_test_lab(base)


# --durations=20: every run names where its time went (issue 13 asks for the 20 slowest)
_PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", "--durations=20"]


def _pytest(cmd: list[str], env: dict[str, str], name: str, log: Path | None = None) -> int:
    """One pytest session; its output to the terminal, or to `log`. Exit 5 (no tests) fails."""
    print(f"k8slab test [{name}]: $ " + " ".join(cmd[1:]), flush=True)
    if log is None:
        rc = subprocess.call(cmd, cwd=REPO, env=env)
    else:
        with open(log, "wb") as out:
            rc = subprocess.call(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    if rc == 5:
        print(f"k8slab: error: pytest [{name}] collected no tests; that is a failure, not a pass", file=sys.stderr)
        return 1
    return rc


def _run_streams(pytest_args: list[str], env: dict[str, str], base: str, nbval: list[str]) -> int:
    import threading

    from .lab import Lab

    logs = REPO / "bench" / "out" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    nb_lab_name = f"{base}-nb"
    nb_env = dict(env, K8SLAB_TEST_LAB=nb_lab_name, K8SLAB_LAB=nb_lab_name)
    results: dict[str, tuple[int, float]] = {}

    def notebooks_then_browser() -> None:
        try:
            nb_lab = Lab(nb_lab_name, progress=None).up()  # notebooks adopt it through K8SLAB_LAB
            if nb_lab.started_here:
                nb_lab.stop_with(os.getpid())
            for name, cmd in (("notebooks", _PYTEST + ["notebooks", *nbval, *pytest_args]),
                              ("browser", _PYTEST + ["tests/browser", *pytest_args])):
                t0 = time.monotonic()
                results[name] = _pytest(cmd, nb_env, name, logs / f"{name}.log"), time.monotonic() - t0
        finally:
            _stop_test_lab(nb_lab_name)

    print(f"k8slab test: the notebooks and browser sessions run beside the tests; their output is in {logs}",
          flush=True)
    side = threading.Thread(target=notebooks_then_browser, name="k8slab-test-notebooks")
    t0 = time.monotonic()
    side.start()
    try:
        tests = ["tests", "--ignore=tests/browser", "-n", os.environ.get("K8SLAB_TEST_WORKERS", "2"),
                 "--dist", "loadgroup", *pytest_args]
        results["tests"] = _pytest(_PYTEST + tests, env, "tests"), time.monotonic() - t0
    finally:
        side.join()
    for name in ("notebooks", "browser"):
        if name in results:
            print(f"\n===== k8slab test [{name}] =====", flush=True)
            sys.stdout.write((logs / f"{name}.log").read_text(errors="replace"))
    print(f"\nk8slab test: done in {_minutes(time.monotonic() - t0)}")
    for name in ("tests", "notebooks", "browser"):
        rc, secs = results.get(name, (1, 0.0))
        print(f"  {name:<10} {'pass' if rc == 0 else f'FAIL (exit {rc})':<16} {_minutes(secs)}")
    return next((rc for rc, _ in results.values() if rc), 0) or (0 if len(results) == 3 else 1)


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s"


def _stop_test_lab(name: str) -> None:
    """A notebook may have started the test lab; nothing is left running (unless K8SLAB_TEST_KEEP=1)."""
    if os.environ.get("K8SLAB_TEST_KEEP") != "1":
        _stop_lab(name)


def _stop_lab(name: str) -> None:
    from .lab import Lab

    lab = Lab(name, progress=None)
    if lab.dir.joinpath("state.json").exists():
        try:
            lab.down()
        except LabNotRunning:  # already stopped by the fixture
            pass


def run_course(lab_name: str = "default", headless: bool = False, port: int | None = None) -> int:
    """Start (or adopt) the lab, then serve the course in JupyterLab, or run it headless.

    On a first run the lab's binaries are not built yet: the build starts in the
    background and JupyterLab opens at once; the first notebook's `k8slab.connect()`
    shows the build's progress and waits for it, and the lab starts when it is done.
    Whatever this call started (the build, the lab, JupyterLab) is stopped when it ends:
    on Ctrl-C, on SIGTERM, or when JupyterLab exits. A lab that was not running when
    it began counts as started here, whichever process started it in the meantime.
    """
    _need_repo()
    import threading

    from .lab import Lab, connect
    from .lab.build import missing_binaries
    from .lab.components import binaries_for
    from .lab.progress import start_background_build

    external = bool(os.environ.get("K8SLAB_KUBECONFIG"))
    lab = None if external else Lab(lab_name, progress=None)
    was_running = external or lab.running
    builder = None
    missing = [] if external else missing_binaries(binaries_for(lab.profile, kubectl=True))
    if missing and not headless:
        builder = start_background_build(missing)
        print(f"k8slab: building {', '.join(missing)} in the background (the first notebook shows the progress); "
              "starting JupyterLab now", flush=True)
    else:
        lab = _start_lab(connect, lab_name)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    later = None
    try:
        if headless:
            return run_headless()
        if builder is not None:  # the lab starts once the build is done
            later = threading.Thread(target=_start_lab_after, args=(builder, connect, lab_name),
                                     name="k8slab-course-lab", daemon=True)
            later.start()
        quiet_jupyterlab()
        cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={NOTEBOOKS}", "--no-browser",
               "--ServerApp.ip=127.0.0.1"]
        if port is not None:  # 0: the OS picks a free port (JupyterLab prints the one it got)
            cmd.append(f"--ServerApp.port={port}")
        if os.geteuid() == 0:  # containers and CI machines often run as root
            cmd.append("--allow-root")
        print("k8slab: starting JupyterLab on the course. Ctrl-C stops JupyterLab (and the lab, if this "
              "command started it).", flush=True)
        server = subprocess.Popen(cmd, cwd=NOTEBOOKS)
        try:
            return server.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if builder is not None and builder.poll() is None:
            builder.terminate()
            builder.wait()
        if not was_running:
            _stop_lab(lab_name)


def _start_lab(connect, lab_name: str):
    """Start (or adopt) the course's cluster and say which it is; the lab goes when this process does."""
    lab = connect(name=lab_name)
    if not lab.is_lab:  # bring your own cluster (K8SLAB_KUBECONFIG): notebooks connect() to it
        print(f"k8slab: running the course against the cluster in K8SLAB_KUBECONFIG ({lab.server}); "
              "lab-only steps will be skipped", flush=True)
        return lab
    lab.stop_with(os.getpid())  # even if this command is killed, the lab goes with it
    os.environ["K8SLAB_LAB"] = lab.name  # kernels started from here adopt this lab
    print(f"k8slab: the cluster is up ({lab.profile})", flush=True)
    return lab


def _start_lab_after(builder: subprocess.Popen, connect, lab_name: str) -> None:
    rc = builder.wait()
    if rc != 0:
        from .lab.progress import read_state

        print(f"k8slab: error: the background build failed (exit {rc}): {read_state().error}", file=sys.stderr)
        return
    try:
        _start_lab(connect, lab_name)
    except Exception as exc:  # shown, and left to the notebooks' connect() to retry
        print(f"k8slab: error: the lab did not start: {exc}", file=sys.stderr)


def quiet_jupyterlab() -> None:
    """No "would you like to receive official Jupyter news?" over the first notebook (overrides.json)."""
    import json

    path = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    key = "@jupyterlab/apputils-extension:notification"
    try:
        overrides = json.loads(path.read_text()) if path.exists() else {}
        if overrides.get(key, {}).get("fetchNews") == "false":
            return
        overrides.setdefault(key, {}).update({"fetchNews": "false", "checkForUpdates": False})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(overrides, indent=2))
    except (OSError, ValueError, AttributeError):  # a read-only or odd environment: the prompt stays
        pass


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_headless(notebooks: list[Path] | None = None, timeout: int = 900) -> int:
    """Execute each notebook top to bottom (outputs are not saved); print a summary."""
    import tempfile

    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    paths = notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]*-*.ipynb"))
    if not paths:
        raise UsageError(f"no notebooks in {NOTEBOOKS}")
    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = sum(1 for c in nb.cells if c.cell_type == "code")
        start = time.monotonic()
        print(f"running {path.name} ({cells} code cells) ...", flush=True)
        # Client and kernel talk over Unix sockets (IPC), not TCP: local only, and the
        # kernel has no reason to warn about plain-text traffic. Absolute socket paths,
        # because the kernel's working directory is the notebook folder.
        sockets = tempfile.mkdtemp(prefix="k8slab-kernel-")
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(NOTEBOOKS)}})
        try:
            client.execute()
            outcome, ran = "pass", cells
        except CellExecutionError as exc:
            ran = sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count"))
            outcome = "FAIL: " + str(exc).strip().splitlines()[-1][:120]
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
            shutil.rmtree(sockets, ignore_errors=True)
        rows.append((path.name, ran, cells, time.monotonic() - start, outcome))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook'.ljust(width)}  cells  time     result")
    for name, ran, cells, secs, outcome in rows:
        print(f"{name.ljust(width)}  {ran:>2}/{cells:<2}  {secs:6.1f}s  {outcome}")
    failed = sum(1 for r in rows if r[4] != "pass")
    print(f"{len(rows) - failed} of {len(rows)} notebooks passed")
    return 1 if failed else 0
