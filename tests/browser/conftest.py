"""JupyterLab in a real browser (Chromium driven by Playwright).

These tests run in their own pytest session (`k8slab test` runs them after the
main one): they start JupyterLab on a copy of the notebooks, open a notebook,
run all its cells through JupyterLab's own command, and read the page.

Chromium comes from the system (Debian's `chromium` package); Playwright's
own browser download is not used. Set K8SLAB_CHROMIUM to use another binary.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from k8slab.lab.components import free_port

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("K8SLAB_SCREENSHOTS", REPO / "bench" / "out" / "screenshots"))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    explicit = os.environ.get("K8SLAB_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = "no Chromium found (install Debian's `chromium` package, or set K8SLAB_CHROMIUM)"
        if os.environ.get("K8SLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield b
        b.close()


class JupyterLab:
    def __init__(self, url: str, token: str, root: Path):
        self.url, self.token, self.root = url, token, root

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


@pytest.fixture(scope="session")
def jupyterlab(shared_lab, tmp_path_factory):
    """JupyterLab serving a scratch copy of the course (autosave never touches the repo)."""
    root = tmp_path_factory.mktemp("course")
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)
    port, token = free_port(), secrets.token_hex(16)
    settings = root / ".settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no pop-up over the page
    env = dict(os.environ, K8SLAB_LAB=shared_lab.name, JUPYTER_CONFIG_DIR=str(root / ".jupyter"))
    log = open(root / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--notebook-dir={root}",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={root / '.workspaces'}", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                server.wait()
                log.close()
                pytest.fail(f"JupyterLab did not start; log: {root / 'jupyterlab.log'}")
            time.sleep(0.3)
    yield JupyterLab(url, token, root)
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Overrides the suite-wide check: Playwright keeps its asyncio threads for the session."""
    yield
