"""The course's live widgets, checked in JupyterLab in a real browser."""

from __future__ import annotations

import json
import time

import pytest



pytestmark = [pytest.mark.lab, pytest.mark.browser]

LIVE_ROWS = "table.k8slab-live tbody tr"


def run_all_cells(page, jupyterlab, name: str) -> None:
    page.set_default_timeout(120_000)
    page.goto(jupyterlab.notebook_url(name), wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
    page.wait_for_selector(".jp-Notebook")
    # Run only once the kernel is idle, so the run is not lost behind its start-up.
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }"
    )
    # Don't wait on the command's promise: it settles only when every cell has run.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def watch_row_counts(page, seconds: float, until=None) -> list[int]:
    """Sample how many live-table rows the page shows, every 200 ms."""
    counts: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts.append(page.locator(LIVE_ROWS).count())
        if until and until(counts):
            break
        page.wait_for_timeout(200)
    return counts


def kernel_errors(page) -> list[str]:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .jp-RenderedText, "
                        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def test_widgets_assigned_from_a_background_thread_render(browser, jupyterlab):
    """The mechanism every live view uses: a thread assigns an HTML widget's value."""
    nb = {
        "cells": [{
            "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": (
                "import threading, time, ipywidgets as w\n"
                "view = w.HTML()\n"
                "display(view)\n"
                "def feed():\n"
                "    for n in range(1, 6):\n"
                "        rows = ''.join(f'<tr><td>row {i}</td></tr>' for i in range(n))\n"
                "        view.value = f'<table class=\"k8slab-live\"><tbody>{rows}</tbody></table>'\n"
                "        time.sleep(0.5)\n"
                "threading.Thread(target=feed, daemon=True).start()\n"
            ),
        }],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (jupyterlab.root / "thread-widget.ipynb").write_text(json.dumps(nb))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        run_all_cells(page, jupyterlab, "thread-widget.ipynb")
        counts = watch_row_counts(page, 60, until=lambda c: c and c[-1] == 5)
        assert counts[-1] == 5, counts
        seen = sorted(set(counts))
        assert len(seen) >= 3, f"the table did not grow step by step: {counts}"
    finally:
        page.close()
