"""PipelineView: what it reads from a running informer and workqueue, how it draws it, that it changes nothing."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from k8slab.cache import (
    DeltaFIFO, RealFIFO, ResourceEventHandlerFuncs, SharedIndexInformer, TODAY, new_indexer,
    deletion_handling_meta_namespace_key_func,
)
from k8slab.cache.testing import FakeSource, config_map
from k8slab.errors import UsageError
from k8slab.views import PipelineView
from k8slab.views.pipeline import STAGES, handler_label, render_html
from k8slab.workqueue import new_rate_limiting_queue, ItemExponentialFailureRateLimiter
from tests.unit._polling import WAIT, eventually


class Slow:
    """A handler that holds its first notification until released."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self.entered.set()
        assert self.release.wait(WAIT)

    on_update = on_delete = lambda self, *a: None

    def __repr__(self) -> str:
        return "Slow()"


@pytest.fixture
def running():
    source = FakeSource()
    source.add(config_map("a"))
    informer = SharedIndexInformer(source, "configmaps")
    slow = Slow()
    informer.add_event_handler(slow)
    queue = new_rate_limiting_queue(ItemExponentialFailureRateLimiter(0.005, 1000.0), "cms")
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    thread.start()
    yield source, informer, slow, queue
    slow.release.set()
    stop.set()
    thread.join(WAIT)
    queue.shut_down()


def test_a_sample_shows_every_stage_of_a_running_informer_and_its_workqueue(running):
    source, informer, slow, queue = running
    eventually(informer.has_synced)
    assert slow.entered.wait(WAIT)
    source.add(config_map("b"))
    source.add(config_map("c"))
    eventually(lambda: len(informer.get_indexer().list_keys()) == 3)
    queue.add("default/a")
    queue.add("default/b")
    queue.get()  # a worker holds default/a
    view = PipelineView(informer=informer, workqueue=queue, workers=2)
    state = view.sample()
    assert [s.name for s in state.stages] == list(STAGES)
    assert state.stage("reflector").value == "watching"
    assert "last RV rv=3" in state.stage("reflector").details
    assert state.stage("indexer").headline == "3 objects"
    assert state.stage("indexer").details == ("index namespace: default (3)",)
    assert state.stage("handlers").details == ("Slow(): backlog 2",)  # b and c wait behind a
    assert state.stage("workqueue").details[:3] == ("queue [default/b]", "dirty [default/b]",
                                                    "processing [default/a]")
    assert state.stage("workers").headline == "2 workers, 1 busy"
    slow.release.set()
    eventually(lambda: view.sample().stage("handlers").value == "0")


def test_the_view_changes_nothing_it_draws(running):
    source, informer, slow, queue = running
    eventually(informer.has_synced)
    before = informer.listeners()
    view = PipelineView(informer=informer, workqueue=queue).start()
    try:
        assert [t.name for t in threading.enumerate()].count("k8slab-pipeline-view") == 1
        eventually(lambda: 'data-stage="workers"' in view.widget.value)
    finally:
        final = view.stop()
    assert informer.listeners() == before  # no handler of its own
    assert queue.snapshot()["adds"] == 0 and len(queue) == 0
    assert "k8slab-pipeline-view" not in [t.name for t in threading.enumerate()]
    text = repr(final)
    assert text.splitlines()[0] == "informer pipeline: configmaps"
    assert [line.split()[0] for line in text.splitlines()[1:]] == list(STAGES)


def test_the_widget_is_redrawn_when_the_pipeline_moves_and_marks_what_changed(running):
    source, informer, slow, queue = running
    eventually(informer.has_synced)
    view = PipelineView(informer=informer, workqueue=queue, interval=0.02).start()
    try:
        eventually(lambda: 'data-stage="indexer" data-value="1"' in view.widget.value)
        queue.add("default/a")
        eventually(lambda: 'data-stage="workqueue" data-value="1"' in view.widget.value)
        assert 'k8slab-stage k8slab-changed" data-stage="workqueue"' in view.widget.value
    finally:
        view.stop()


def test_a_classic_queue_shows_each_keys_pending_deltas():
    class Parts:  # the read-only surface an informer offers the view
        object_description, gates = "configmaps", TODAY

        def __init__(self) -> None:
            self.indexer = new_indexer(deletion_handling_meta_namespace_key_func, {})
            self.fifo = DeltaFIFO(known_objects=self.indexer)

        def reflector(self):
            return None

        def queue(self):
            return self.fifo

        def get_indexer(self):
            return self.indexer

        def listeners(self):
            return []

    parts = Parts()
    parts.fifo.add(config_map("a"))
    parts.fifo.update(config_map("a", data={"v": "2"}))
    parts.fifo.replace([], "9")
    stage = PipelineView(informer=parts).sample().stage("queue")
    assert stage.headline == "DeltaFIFO: 1 queued"
    assert stage.details == ("default/a: Added, Updated, Deleted(tombstone)",)


def test_a_real_fifo_shows_its_deltas_in_order_with_a_relist_as_one():
    fifo = RealFIFO(atomic_events=True, emit_delta_type_bookmark=True)
    fifo.add(config_map("a"))
    fifo.replace([config_map("a"), config_map("b")], "7")
    fifo.bookmark("8")
    from k8slab.views.pipeline import _delta_label

    assert [_delta_label(d.type, d.object) for d in fifo.deltas()] == [
        "Added default/a", "ReplacedAll (2 objects, rv=7)", "Bookmark rv=8"]


def test_handler_labels_are_stable_names():
    def enqueue(obj):
        pass

    funcs = ResourceEventHandlerFuncs(add_func=enqueue, delete_func=lambda o: None)
    assert handler_label(funcs) == "funcs(add=enqueue, delete=<lambda>)"
    assert handler_label(object()) == "object"
    assert handler_label(Slow()) == "Slow()"


def test_the_text_fallback_of_the_widget_is_a_stable_line_and_the_html_names_each_stage():
    queue = new_rate_limiting_queue(ItemExponentialFailureRateLimiter(0.005, 1000.0), "q")
    try:
        view = PipelineView(workqueue=queue, title="a queue")
        bundle = view._repr_mimebundle_()
        assert bundle["text/plain"] == "PipelineView (a queue): live in JupyterLab; stop() prints its final state"
        assert "application/vnd.jupyter.widget-view+json" in bundle
        html = render_html(view.sample())
        assert 'data-stage="workqueue"' in html and 'data-stage="workers"' in html
    finally:
        queue.shut_down()
    with pytest.raises(UsageError, match="informer=..., a workqueue=..."):
        PipelineView()
