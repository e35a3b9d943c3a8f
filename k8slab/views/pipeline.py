"""PipelineView: one informer and its consumer, drawn live while the lab changes objects.

Mirrors no client-go file: it draws the parts of `k8slab.cache` and
`k8slab.workqueue` that mirror client-go's `tools/cache` and `util/workqueue`,

    Reflector -> queue (RealFIFO or DeltaFIFO) -> Indexer -> handlers -> workqueue -> workers

so that a learner sees an event travel: the reflector's resourceVersion moves,
a delta waits in the queue, the indexer grows, a slow handler's backlog
fills and drains, a key waits in the workqueue, a worker holds it.

    view = PipelineView(informer=informer, workqueue=queue, workers=2)
    view                 # a cell's last expression: the widget, drawn at once
    view.start()         # one thread, k8slab-pipeline-view, samples the parts 4 times a second
    ...
    view.stop()          # the final state, as a table: what GitHub, nbviewer and nbval show

What it reads, all through read-only accessors (it never calls anything that
drives a part, and never registers a handler, which would change the pipeline):
`informer.reflector().phase()` and `last_sync_resource_version()`,
`informer.queue()` (`RealFIFO.deltas()`, or `DeltaFIFO.list_keys()` and
`get_by_key()`), `informer.get_indexer()` (its keys, indexers and index
values), `informer.listeners()` and each one's `backlog()`, and
`workqueue.snapshot()`. Each read takes its part's lock for a moment, at most
four times a second, on the sampler's own thread; the widget is re-rendered
only when what it shows changed. The thread only assigns the widget's
`value` (a trait: a comm message the frontend draws live and nbval ignores);
it never prints, as `k8slab.samplecontroller.dashboard`'s threads.

Each stage is `<div class="k8slab-stage" data-stage="queue" data-value="3">`
inside `<div class="k8slab-pipeline">`, so a browser test can record each
state; a stage that changed since the last drawing is highlighted.
A plain `ipywidgets.HTML` is enough for this (no JavaScript of its own, so
nothing to build or install: `anywidget` would add a dependency for nothing).

Kept: every stage of one informer and its consumer, from read-only state only;
a text (and HTML) table of the final state, the notebooks' fallback for readers
without the live widget. Left out: the waiting keys' ready times and each
listener's resync schedule (listed as names and backlogs only), several
informers in one view (make one view per informer), any control (it never
pauses, steps or changes a part).
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from k8slab.cache import DeletedFinalStateUnknown, DeltaFIFO, RealFIFO, ResourceEventHandlerFuncs
from k8slab.cache import deletion_handling_meta_namespace_key_func as _key

__all__ = ["PipelineState", "PipelineView", "Stage"]

STAGES = ("reflector", "queue", "indexer", "handlers", "workqueue", "workers")
CSS_CLASS = "k8slab-pipeline"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


@dataclass(frozen=True)
class Stage:
    """One box of the picture: a headline, its value (for tests) and detail lines."""

    name: str
    headline: str
    value: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineState:
    """One sample of every stage. Its repr is the text table; `_repr_html_` the same as HTML."""

    title: str
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def rows(self) -> list[tuple[str, str]]:
        """(stage, what it shows) per stage, details joined with ' · '."""
        return [(s.name, " · ".join((s.headline, *s.details))) for s in self.stages]

    def __repr__(self) -> str:
        width = max(len(name) for name in STAGES)
        lines = [self.title] + [f"  {name:<{width}}  {text}" for name, text in self.rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(n)}</th>"
                       f"<td style='text-align:left'>{html.escape(t)}</td></tr>" for n, t in self.rows())
        return f"<b>{html.escape(self.title)}</b><table class='{CSS_CLASS}-final'>{body}</table>"


class PipelineView:
    """A live picture of `informer` (a SharedIndexInformer) and, optionally, its workqueue.

    `workers`: how many workers take keys from the workqueue (a number, or
    their threads: then it also counts the live ones). `title`: the headline
    (default: the informer's resource). `max_items`: entries listed per stage.
    """

    def __init__(
        self,
        informer: Any = None,
        workqueue: Any = None,
        *,
        workers: int | Sequence[threading.Thread] | None = None,
        title: str | None = None,
        interval: float = 0.25,
        max_items: int = 6,
    ) -> None:
        import ipywidgets as widgets

        if informer is None and workqueue is None:
            from k8slab.errors import UsageError

            raise UsageError("PipelineView: give an informer=..., a workqueue=..., or both")
        self.informer, self.workqueue, self.workers = informer, workqueue, workers
        self.title = title or f"informer pipeline: {getattr(informer, 'object_description', '') or 'workqueue'}"
        self.interval, self.max_items = interval, max_items
        self.widget = widgets.HTML()
        self.widget.add_class(CSS_CLASS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: PipelineState | None = None
        self._lock = threading.Lock()  # render() runs on the sampler and on the cell's thread
        self.render()  # drawn at once, from the cell's own thread

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        # What a reader without the live widget sees: a stable line, not "HTML(value='...')".
        bundle["text/plain"] = f"PipelineView ({self.title}): live in JupyterLab; stop() prints its final state"
        return bundle

    # -- running -------------------------------------------------------------------

    def start(self) -> "PipelineView":
        """Sample every `interval` seconds on a thread of its own, until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="k8slab-pipeline-view", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> PipelineState:
        """Stop sampling; draw and return the final state (display it: it is the text fallback)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        return self.render()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.render()
            except Exception:  # a part changed under us: the next sample tries again
                continue

    def render(self) -> PipelineState:
        """Sample the parts; re-draw the widget if anything changed. Safe from any thread."""
        with self._lock:
            state = self.sample()
            if state != self._last:
                previous, self._last = self._last, state
                self.widget.value = render_html(state, previous)
            return state

    # -- reading the parts --------------------------------------------------------------

    def sample(self) -> PipelineState:
        """Every stage as it is now."""
        stages = []
        if self.informer is not None:
            stages += [self._reflector(), self._queue(), self._indexer(), self._handlers()]
        if self.workqueue is not None:
            snap = self.workqueue.snapshot()
            stages += [self._workqueue(snap), self._workers(snap)]
        return PipelineState(self.title, tuple(stages))

    def _reflector(self) -> Stage:
        reflector = self.informer.reflector()
        if reflector is None:
            return Stage("reflector", "not started", "new")
        phase = reflector.phase()
        store_rv = self.informer.get_indexer().last_store_sync_resource_version()
        how = "streams its initial list" if reflector.use_watch_list else "LISTs first"
        return Stage("reflector", phase, phase,
                     (how, f"last RV {_rv(reflector.last_sync_resource_version())}", f"store RV {_rv(store_rv)}"))

    def _queue(self) -> Stage:
        queue = self.informer.queue()
        if queue is None:
            return Stage("queue", "not started", "0")
        n = self.max_items
        if isinstance(queue, RealFIFO):
            deltas = queue.deltas()
            kind = "RealFIFO (atomic)" if self.informer.gates.atomic_fifo else "RealFIFO"
            items = [_delta_label(d.type, d.object) for d in deltas[:n]]
            count = len(deltas)
        elif isinstance(queue, DeltaFIFO):
            keys = queue.list_keys()
            kind = "DeltaFIFO"
            items = []
            for key in keys[:n]:
                deltas = queue.get_by_key(key) or []  # popped meanwhile: nothing to show
                items.append(f"{key}: " + ", ".join(_delta_type(d.type, d.object) for d in deltas))
            count = len(keys)
        else:
            return Stage("queue", type(queue).__name__, "?")
        more = [f"... {count - n} more"] if count > n else []
        return Stage("queue", f"{kind}: {count} queued", str(count), tuple(items + more))

    def _indexer(self) -> Stage:
        indexer = self.informer.get_indexer()
        size = len(indexer.list_keys())
        details = []
        for name in sorted(indexer.get_indexers()):
            values = sorted(indexer.list_index_func_values(name))
            shown = ", ".join(f"{v} ({len(indexer.index_keys(name, v))})" for v in values[: self.max_items])
            more = f", ... {len(values) - self.max_items} more" if len(values) > self.max_items else ""
            details.append(f"index {name}: {shown or '(no values)'}{more}")
        return Stage("indexer", f"{size} object{'s' if size != 1 else ''}", str(size), tuple(details))

    def _handlers(self) -> Stage:
        listeners = self.informer.listeners()
        backlogs = [(handler_label(listener.handler), listener.backlog()) for listener in listeners]
        total = sum(b for _, b in backlogs)
        details = tuple(f"{label}: backlog {backlog}" for label, backlog in backlogs[: self.max_items])
        head = f"{len(listeners)} listener{'s' if len(listeners) != 1 else ''}, backlog {total}"
        return Stage("handlers", head, str(total), details)

    def _workqueue(self, snap: dict[str, Any]) -> Stage:
        n = self.max_items

        def some(items: Any) -> str:
            items = sorted(items) if isinstance(items, set) else list(items)
            return "[" + ", ".join(map(str, items[:n])) + (", ..." if len(items) > n else "") + "]"

        details = [f"queue {some(snap['queue'])}", f"dirty {some(snap['dirty'])}",
                   f"processing {some(snap['processing'])}"]
        if "waiting" in snap:
            details.append(f"waiting {some(item for item, _ in snap['waiting'])}")
        waiting = len(snap.get("waiting", ()))
        head = f"{len(snap['queue'])} queued, {len(snap['processing'])} processing, {waiting} waiting"
        return Stage("workqueue", head, str(len(snap["queue"]) + len(snap["processing"]) + waiting), tuple(details))

    def _workers(self, snap: dict[str, Any]) -> Stage:
        busy = len(snap["processing"])
        if isinstance(self.workers, int):
            head = f"{self.workers} worker{'s' if self.workers != 1 else ''}, {busy} busy"
        elif self.workers is not None:
            alive = sum(1 for t in self.workers if t.is_alive())
            head = f"{alive} of {len(self.workers)} running, {busy} busy"
        else:
            head = f"{busy} busy"
        extra = (f"{snap['adds']} adds", f"{snap['retries']} retries") if "retries" in snap else (f"{snap['adds']} adds",)
        return Stage("workers", head, str(busy), extra + (" shutting down",) * bool(snap["shutting_down"]))


# -- labels ------------------------------------------------------------------------------


def _rv(rv: str) -> str:
    """A resourceVersion as "rv=N" (the course's sanitizer masks that form), or "-" before any."""
    return f"rv={rv}" if rv else "-"


def _delta_type(kind: Any, obj: Any) -> str:
    return f"{kind}(tombstone)" if isinstance(obj, DeletedFinalStateUnknown) else str(kind)


def _delta_label(kind: Any, obj: Any) -> str:
    """"Added default/a", "Deleted(tombstone) default/b", "ReplacedAll (3 objects)", "Bookmark rv=N"."""
    name = str(kind)
    if name == "ReplacedAll":
        return f"ReplacedAll ({len(obj.objects)} objects, {_rv(obj.resource_version)})"
    if name == "Bookmark":
        return f"Bookmark {_rv(obj.resource_version)}"
    if name == "SyncAll":
        return "SyncAll"
    try:
        return f"{_delta_type(kind, obj)} {_key(obj)}"
    except Exception:
        return _delta_type(kind, obj)


def handler_label(handler: Any) -> str:
    """A stable name for a handler: its own repr, or for ResourceEventHandlerFuncs its functions' names."""
    if isinstance(handler, ResourceEventHandlerFuncs):
        names = [f"{what}={getattr(f, '__name__', type(f).__name__)}" for what, f in
                 (("add", handler.add_func), ("update", handler.update_func), ("delete", handler.delete_func)) if f]
        return f"funcs({', '.join(names)})"
    if type(handler).__repr__ is object.__repr__:
        return type(handler).__name__
    return _ADDRESS.sub("", repr(handler))[:60]


# -- drawing -----------------------------------------------------------------------------

_BOX = ("flex:1 1 0;min-width:9em;border:1px solid #999;border-radius:4px;padding:4px 6px;"
        "font-family:monospace;font-size:80%;background:{bg}")


def render_html(state: PipelineState, previous: PipelineState | None = None) -> str:
    """The picture: one box per stage, arrows between; boxes that changed since `previous` highlighted."""
    before = {s.name: s for s in previous.stages} if previous else {}
    boxes = []
    for stage in state.stages:
        changed = stage.name in before and before[stage.name] != stage
        details = "".join(f"<div>{html.escape(d)}</div>" for d in stage.details)
        boxes.append(
            f'<div class="k8slab-stage{" k8slab-changed" if changed else ""}" data-stage="{stage.name}" '
            f'data-value="{html.escape(stage.value)}" style="{_BOX.format(bg="#fff3b0" if changed else "#fafafa")}">'
            f"<div><b>{html.escape(stage.name)}</b></div><div>{html.escape(stage.headline)}</div>"
            f'<div style="opacity:0.75">{details}</div></div>'
        )
    arrow = '<div style="align-self:center;padding:0 2px">&rarr;</div>'
    return (f'<div class="{CSS_CLASS}" style="line-height:1.35"><div style="font-weight:bold;margin-bottom:2px">{html.escape(state.title)}</div>'
            f'<div style="display:flex;align-items:stretch">{arrow.join(boxes)}</div></div>')
