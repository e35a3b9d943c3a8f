"""A live dashboard for notebooks: Foos, Deployments, Pods, queue depth, Events, the leader.

    dash = Dashboard(lab, "demo", controller=lambda: app.controller, lease=("kube-system", "sample-controller"))
    display(dash)          # shown empty first...
    dash.start()           # ...then filled by background threads
    ...
    dash.stop()

The dashboard watches the namespace with its own informers (k8slab.cache,
admin credentials), so it shows what the API server holds, not what the
controller believes. Informer handlers only mark the view dirty; one
refresher thread re-renders at most every `refresh` seconds and assigns the
HTML widgets' `value`s. Background threads never print and never use an
Output widget as a context manager: trait assignments travel as comm
messages, which the frontend renders live and nbval ignores.

Each table is `<table class="k8slab-live" data-kind="...">` with one
`<tr data-name="...">` per object, so a browser test can count rows.
"""

from __future__ import annotations

import html
import threading
from typing import Any, Callable

from k8slab import errors
from k8slab.cache import ResourceEventHandlerFuncs, SharedInformerFactory
from k8slab.chain.listwatch import lister_watcher_for
from k8slab.meta import get_controller_of
from k8slab.samplecontroller.crd import DEPLOYMENTS_RESOURCE, FOOS_RESOURCE

__all__ = ["Dashboard", "render_table", "wait_for"]

CSS_CLASS = "k8slab-live"
MAX_EVENTS = 12


def render_table(kind: str, columns: list[str], rows: list[tuple[str, list[Any]]]) -> str:
    """An HTML table: `rows` are (name, cells); one `<tr data-name>` per object."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f'<tr data-name="{html.escape(name)}">'
        + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
        + "</tr>"
        for name, cells in rows
    )
    title = f"<b>{html.escape(kind.capitalize())}</b> ({len(rows)})"
    return (f'{title}<table class="{CSS_CLASS}" data-kind="{html.escape(kind)}">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _name(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


class Dashboard:
    """Live tables of one namespace. `source`: the lab, a kubeconfig path or an ApiClient."""

    def __init__(
        self,
        source: Any,
        namespace: str,
        *,
        controller: Callable[[], Any] | None = None,
        lease: tuple[str, str] | None = None,
        refresh: float = 0.5,
    ) -> None:
        import ipywidgets as widgets

        self.namespace = namespace
        self._controller = controller or (lambda: None)
        self.refresh = refresh
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._threads: list[threading.Thread] = []
        self._factories: list[SharedInformerFactory] = []

        self._factory = SharedInformerFactory(lister_watcher_for(source, namespace=namespace))
        self._keys = {"foos": FOOS_RESOURCE, "deployments": DEPLOYMENTS_RESOURCE, "pods": "pods", "events": "events"}
        self._informers = {kind: self._factory.informer_for(key) for kind, key in self._keys.items()}
        self._factories.append(self._factory)
        self._lease_informer = None
        if lease is not None:
            lease_namespace, lease_name = lease
            lease_factory = SharedInformerFactory(lister_watcher_for(
                source, namespace=lease_namespace, field_selector=f"metadata.name={lease_name}"))
            self._lease_informer = lease_factory.informer_for("leases.v1.coordination.k8s.io")
            self._factories.append(lease_factory)
        mark = ResourceEventHandlerFuncs(
            add_func=lambda obj: self._dirty.set(),
            update_func=lambda old, new: self._dirty.set(),
            delete_func=lambda obj: self._dirty.set(),
        )
        for informer in [*self._informers.values(), self._lease_informer]:
            if informer is not None:
                informer.add_event_handler(mark)

        # Displayed empty; only background threads fill them in.
        self.status = widgets.HTML()
        self.tables = {kind: widgets.HTML() for kind in ("foos", "deployments", "pods", "events")}
        for table in self.tables.values():
            table.add_class(CSS_CLASS)
        self.widget = widgets.VBox([
            self.status,
            widgets.HBox([self.tables["foos"], self.tables["deployments"]]),
            widgets.HBox([self.tables["pods"], self.tables["events"]]),
        ])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- running -------------------------------------------------------------------

    def start(self) -> "Dashboard":
        for factory in self._factories:
            factory.start(self._stop)
        thread = threading.Thread(target=self._refresh_loop, name="k8slab-dashboard-refresher", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        for factory in self._factories:
            factory.shutdown(10)

    def _refresh_loop(self) -> None:
        last_status = None
        while not self._stop.is_set():
            status = self._status_html()
            if self._dirty.is_set() or status != last_status:
                self._dirty.clear()
                self.render()
                last_status = status
            self._stop.wait(self.refresh)

    # -- what is shown ------------------------------------------------------------------

    def leader(self) -> str:
        if self._lease_informer is None:
            return ""
        leases = self._lease_informer.get_store().list()
        return ((leases[0].get("spec") or {}).get("holderIdentity") or "") if leases else ""

    def _status_html(self) -> str:
        controller = self._controller()
        depth = controller.workqueue.len() if controller is not None else "-"
        syncs = controller.syncs if controller is not None else "-"
        errs = controller.sync_errors if controller is not None else "-"
        parts = [f"namespace <b>{html.escape(self.namespace)}</b>", f"queue depth <b>{depth}</b>",
                 f"syncs <b>{syncs}</b>", f"sync errors <b>{errs}</b>"]
        if self._lease_informer is not None:
            parts.append(f"leader <b>{html.escape(self.leader() or '(none)')}</b>")
        return '<div class="k8slab-status">' + " &middot; ".join(parts) + "</div>"

    def rows(self) -> dict[str, list[tuple[str, list[Any]]]]:
        """The tables' rows, from the informers' caches: kind -> [(name, cells)]."""
        def listed(kind: str) -> list[dict[str, Any]]:
            return sorted(self._informers[kind].get_store().list(), key=_name)

        foos = [(_name(f), [_name(f), f["spec"].get("deploymentName", ""), f["spec"].get("replicas", ""),
                            (f.get("status") or {}).get("availableReplicas", "")]) for f in listed("foos")]
        deployments = []
        for d in listed("deployments"):
            owner = get_controller_of(d)
            status = d.get("status") or {}
            deployments.append((_name(d), [
                _name(d), d["spec"].get("replicas", ""), status.get("readyReplicas", 0),
                status.get("availableReplicas", 0), f"{owner['kind']}/{owner['name']}" if owner else "-"]))
        pods = []
        for p in listed("pods"):
            statuses = (p.get("status") or {}).get("containerStatuses") or []
            ready = sum(1 for s in statuses if s.get("ready"))
            pods.append((_name(p), [_name(p), (p.get("status") or {}).get("phase", ""),
                                    p["spec"].get("nodeName", ""), f"{ready}/{len(p['spec']['containers'])}"]))
        events = sorted(self._informers["events"].get_store().list(),
                        key=lambda e: (e.get("lastTimestamp") or e.get("eventTime") or "", _name(e)),
                        reverse=True)[:MAX_EVENTS]
        event_rows = [(_name(e), [e.get("type", ""), e.get("reason", ""),
                                  f"{e['involvedObject'].get('kind', '')}/{e['involvedObject'].get('name', '')}",
                                  e.get("message", ""), e.get("count", 1)]) for e in events]
        return {"foos": foos, "deployments": deployments, "pods": pods, "events": event_rows}

    def render(self) -> None:
        """Assign every widget's value (safe from any thread)."""
        rows = self.rows()
        columns = {
            "foos": ["name", "deploymentName", "replicas", "available"],
            "deployments": ["name", "replicas", "ready", "available", "controller"],
            "pods": ["name", "phase", "node", "ready"],
            "events": ["type", "reason", "object", "message", "count"],
        }
        for kind, widget in self.tables.items():
            widget.value = render_table(kind, columns[kind], rows[kind])
        self.status.value = self._status_html()


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2) -> Any:
    """Wait until `condition()` is truthy, showing progress; raise ConditionTimeout after `timeout` s.

    In a notebook a one-line widget counts the seconds (assigned from this,
    the cell's own thread); when done, a stable line is printed:
    "<what>: done". Returns the condition's last value.
    """
    import time

    progress = None
    try:
        from IPython import get_ipython

        if get_ipython() is not None:
            import ipywidgets as widgets
            from IPython.display import display

            progress = widgets.HTML(value=f"waiting: {html.escape(what)}")
            display(progress)
    except ImportError:  # pragma: no cover - IPython is a dependency
        pass
    start = time.monotonic()
    while True:
        value = condition()
        if value:
            break
        waited = time.monotonic() - start
        if waited > timeout:
            raise errors.ConditionTimeout(f"{what}: not true after {timeout:.0f} s")
        if progress is not None:
            progress.value = f"waiting: {html.escape(what)} ({waited:.0f} s of at most {timeout:.0f} s)"
        time.sleep(interval)
    if progress is not None:
        progress.value = f"{html.escape(what)}: done in {time.monotonic() - start:.1f} s"
    print(f"{what}: done")
    return value
