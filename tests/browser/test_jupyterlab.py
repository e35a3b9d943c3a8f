"""The course's live widgets, checked in JupyterLab in a real browser."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.conftest import SCREENSHOTS



pytestmark = [pytest.mark.lab, pytest.mark.browser]

LIVE_ROWS = "table.k8slab-live tbody tr"


def run_all_cells(page, jupyterlab, name: str, before_run: str = "") -> None:
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
    # The copy carries the committed outputs (and saved widget state): clear them, so
    # that everything the test sees comes from this run.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output').length === 0")
    if before_run:
        page.evaluate(before_run)
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


# Records every distinct state of the live tables as the page renders it (a
# MutationObserver sees each redraw, however short), as JSON lists of row counts.
RECORD_LIVE_TABLES = """() => {
  window.__k8slabStates = [];
  const record = () => {
    const counts = [...document.querySelectorAll('table.k8slab-live')]
      .map(t => t.querySelectorAll('tbody tr').length);
    const key = JSON.stringify(counts);
    const states = window.__k8slabStates;
    if (states[states.length - 1] !== key) states.push(key);
  };
  new MutationObserver(record).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


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
                "time.sleep(4)  # the cell is still running while the thread updates the widget\n"
            ),
        }],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (jupyterlab.root / "thread-widget.ipynb").write_text(json.dumps(nb))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        run_all_cells(page, jupyterlab, "thread-widget.ipynb", before_run=RECORD_LIVE_TABLES)
        page.wait_for_function("() => window.__k8slabStates.includes('[5]')", timeout=60_000)
        states = [json.loads(s) for s in page.evaluate("() => window.__k8slabStates")]
        assert [s for s in states if s] == [[1], [2], [3], [4], [5]], states
    finally:
        page.close()


def notebook_finished(page) -> bool:
    """Every non-empty code cell has run and the kernel is idle, read from the notebook's model.

    Not from the DOM: JupyterLab renders only the cells near the viewport, so
    the prompts on the page can all show numbers while later cells wait.
    The outputs (and execution counts) were cleared before the run, and an
    empty cell never gets a number (JupyterLab does not send it).
    """
    return page.evaluate(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const model = w && w.content && w.content.model; if (!model) return false;"
        " const cells = Array.from(model.cells).filter(c => c.type === 'code' && c.sharedModel.getSource().trim());"
        " const k = w.sessionContext.session && w.sessionContext.session.kernel;"
        " return cells.length > 0 && !!k && k.status === 'idle'"
        " && cells.every(c => c.executionCount !== null && c.executionState !== 'running'); }"
    )


def run_and_record(browser, jupyterlab, name: str, shot: str, timeout: float = 600) -> dict:
    """Run a notebook in JupyterLab, recording every state of its live tables; screenshot the fullest."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        run_all_cells(page, jupyterlab, name, before_run=RECORD_LIVE_TABLES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        best, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline and not notebook_finished(page):
            rows = page.locator(LIVE_ROWS).count()
            if rows > best:  # the fullest view so far: keep a picture of the cell's output
                best = rows
                view = page.locator(".jp-OutputArea-output:has(table.k8slab-live)").first
                try:
                    view.screenshot(path=str(SCREENSHOTS / shot), timeout=5_000)
                except Exception:  # re-rendered mid-shot; the next sample tries again
                    best = 0
            page.wait_for_timeout(200)
        states = [json.loads(s) for s in page.evaluate("() => window.__k8slabStates")]
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
        return {"samples": [tuple(s) for s in states], "finished": notebook_finished(page), "errors": errors}
    finally:
        page.close()


def test_notebook_08_live_pod_table_grows_as_pods_are_created(browser, jupyterlab):
    seen = run_and_record(browser, jupyterlab, "08-indexer-and-informer.ipynb", "08-live-pods.png")
    assert seen["finished"] and seen["errors"] == 0, seen
    rows = [counts[0] for counts in seen["samples"] if counts]
    assert rows and rows[0] == 0, f"the live table should first be drawn empty: {rows}"
    assert 6 in rows, f"the table never showed the six Pods: {rows}"
    growing = rows[: rows.index(6) + 1]
    assert len(set(growing)) >= 3 and growing == sorted(growing), f"rows did not appear one by one: {rows}"
    assert rows[-1] == 4, f"after two deletions the table should show 4 Pods: {rows}"
    assert (SCREENSHOTS / "08-live-pods.png").stat().st_size > 10_000


def test_notebook_10_dashboard_shows_the_foo_its_deployment_and_pods(browser, jupyterlab):
    seen = run_and_record(browser, jupyterlab, "10-sample-controller.ipynb", "10-dashboard.png")
    assert seen["finished"] and seen["errors"] == 0, seen
    totals = [sum(c) for c in seen["samples"] if c]
    assert totals and max(totals) >= 3, f"the dashboard tables never filled: {seen['samples']}"
    peak = totals.index(max(totals))
    assert min(totals[:peak + 1]) < max(totals), f"rows did not appear as objects were created: {seen['samples']}"
    assert (SCREENSHOTS / "10-dashboard.png").stat().st_size > 10_000


# Records every distinct state of a PipelineView as the page renders it: {stage: data-value}.
RECORD_PIPELINE = """() => {
  window.__k8slabPipeline = [];
  const record = () => {
    const view = document.querySelector('div.k8slab-pipeline');
    if (!view) return;
    const state = {};
    view.querySelectorAll('.k8slab-stage').forEach(s => { state[s.dataset.stage] = s.dataset.value; });
    const key = JSON.stringify(state);
    const states = window.__k8slabPipeline;
    if (key !== '{}' && states[states.length - 1] !== key) states.push(key);
  };
  new MutationObserver(record).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_notebook_09_pipeline_view_shows_keys_travel_from_the_informer_to_the_workers(browser, jupyterlab):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    shot = SCREENSHOTS / "09-pipeline.png"
    try:
        run_all_cells(page, jupyterlab, "09-workqueue.ipynb", before_run=RECORD_PIPELINE)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        busy = page.locator('div.k8slab-pipeline .k8slab-stage[data-stage="workers"]:not([data-value="0"])')
        taken, deadline = False, time.monotonic() + 600
        while time.monotonic() < deadline and not notebook_finished(page):
            if not taken and busy.count():  # a worker holds a key: the picture worth keeping
                view = page.locator(".jp-OutputArea-output:has(div.k8slab-pipeline)").first
                try:
                    view.scroll_into_view_if_needed(timeout=5_000)
                    before = view.bounding_box()
                    view.screenshot(path=str(shot), timeout=5_000)
                    # Kept only if the notebook did not scroll meanwhile (run-all follows the running cell).
                    taken = before is not None and view.bounding_box() == before and busy.count() > 0
                except Exception:  # re-rendered mid-shot; the next sample tries again
                    pass
            page.wait_for_timeout(100)
        finished = notebook_finished(page)
        states = [json.loads(s) for s in page.evaluate("() => window.__k8slabPipeline")]
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
    finally:
        page.close()
    assert finished and errors == 0, (finished, errors, states[-3:])
    assert len(states) >= 5, f"the view should have been redrawn as keys travelled: {states}"
    assert states[0]["reflector"] == "new" and states[0]["indexer"] == "0", f"first drawn before the start: {states[0]}"
    assert any(s["reflector"] == "watching" for s in states), states
    assert "3" in [s["indexer"] for s in states], f"the indexer never held the three ConfigMaps: {states}"
    assert any(s["workqueue"] != "0" for s in states), f"no key was ever seen in the workqueue: {states}"
    assert any(s["workers"] != "0" for s in states), f"no worker was ever seen holding a key: {states}"
    last = states[-1]
    assert (last["indexer"], last["workqueue"], last["workers"], last["handlers"]) == ("2", "0", "0", "0"), last
    assert taken and shot.stat().st_size > 10_000
