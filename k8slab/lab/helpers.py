"""What tests and notebooks do to a cluster again and again, written once.

    ns = create_namespace(api_client, "demo")      # ready for Pods: its `default` ServiceAccount exists
    install_crds(api_client, ["foo-crd.yaml"])     # created or updated, then waited for until served
    wait_for("3 Pods Running", lambda: ..., timeout=60)
    delete_namespace(api_client, ns)

They work on any cluster (`k8slab.connect()` hands out the lab or a cluster
of your own) through the official client's `ApiClient`, and fail with k8slab
errors that say what did not happen in time.

`wait_for` is the one wait of the course and the tests: it polls a condition
(never a sleep standing in for one) until a generous deadline. In a Jupyter
kernel it also shows what it waits for, in a way that reads the same live, on
GitHub and under nbval: one widget, displayed once with the text fallback
"waiting: <what> (at most N s)" and then only assigned to (the seconds
counting; comm messages, which nbval ignores), hidden once the condition
holds; and one printed line at the end, "<what>: done". No time is printed.
Elsewhere (scripts, tests) it is silent. The waits inside `create_namespace`
and `install_crds` are always silent.

Why `create_namespace` waits: a new namespace has no `default`
ServiceAccount until kube-controller-manager's serviceaccounts controller
adds it, a moment later; until then the ServiceAccount admission plugin
refuses every Pod in it. After kube-apiserver restarts, that controller's
watches come back through client-go's backoff (0.8 s doubling to 30 s,
jittered), so the wait may take a while: the default limit is generous.
A cluster without the ServiceAccount admission plugin (the lab's `minimal`
profile) needs no wait: pass `for_pods=False`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import yaml

from ..errors import ConditionTimeout, UsageError

__all__ = ["create_namespace", "delete_namespace", "install_crds", "wait_for"]

T = TypeVar("T")


def wait_for(
    what: str,
    condition: Callable[[], T],
    timeout: float = 60.0,
    interval: float = 0.1,
    *,
    show: bool | None = None,
) -> T:
    """Call `condition` until it returns something true; return that. ConditionTimeout after `timeout` s.

    `what` names the condition in the progress line and the error. `show`:
    display progress and print "<what>: done" (default: only in a Jupyter kernel).
    """
    if timeout <= 0 or interval <= 0:
        raise UsageError(f"wait_for({what!r}): timeout and interval must be positive seconds, "
                         f"got timeout={timeout!r}, interval={interval!r}")
    progress = _Progress.open(what, timeout) if (_in_kernel() if show is None else show) else None
    start = time.monotonic()
    while True:
        value = condition()
        if value:
            break
        waited = time.monotonic() - start
        if waited >= timeout:
            if progress is not None:
                progress.say(f"{what}: still not true after {timeout:g} s")
            raise ConditionTimeout(f"{what}: still not true after {timeout:g} s")
        if progress is not None:
            progress.tick(waited)
        time.sleep(min(interval, max(timeout - waited, 0.0)))
    if progress is not None:
        progress.done()
        print(f"{what}: done")
    return value


def _in_kernel() -> bool:
    """True in a Jupyter kernel (where widgets render), False in IPython's terminal or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook extras
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class _Progress:
    """The one-line widget of a wait in a notebook: displayed once, then only assigned to."""

    def __init__(self, widget: Any, what: str, timeout: float) -> None:
        self.widget, self.what, self.timeout = widget, what, timeout
        self._shown = -1

    @classmethod
    def open(cls, what: str, timeout: float) -> "_Progress | None":
        try:
            import ipywidgets as widgets
            from IPython.display import display
        except ImportError:  # pragma: no cover
            return None
        line = f"waiting: {what} (at most {timeout:g} s)"
        widget = widgets.Label(value=line)
        # The text fallback GitHub, nbviewer and nbval see is the line itself, not
        # the widget's repr; the view's model id (random) is never compared by nbval.
        bundle = widget._repr_mimebundle_()
        bundle["text/plain"] = line
        display(bundle, raw=True)
        return cls(widget, what, timeout)

    def tick(self, waited: float) -> None:
        if int(waited) != self._shown:  # at most one comm message a second
            self._shown = int(waited)
            self.widget.value = f"waiting: {self.what} ({self._shown} s of at most {self.timeout:g} s)"

    def say(self, line: str) -> None:
        self.widget.value = line

    def done(self) -> None:
        # The printed line says it; the live line goes, so the saved widget state shows no clock.
        self.widget.value = f"{self.what}: done"
        self.widget.layout.display = "none"


def create_namespace(
    api_client: Any,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    for_pods: bool = True,
    timeout: float = 120.0,
) -> str:
    """Create namespace `name`; with `for_pods`, wait until its `default` ServiceAccount exists."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
    if for_pods:
        wait_for(
            f"the default ServiceAccount of namespace {name!r} (made by kube-controller-manager)",
            lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
            timeout=timeout,
            interval=0.05,
            show=False,
        )
    return name


def delete_namespace(api_client: Any, name: str) -> None:
    """Delete a namespace (gone already is fine); its objects go with it, in the background."""
    from kubernetes import client

    try:
        client.CoreV1Api(api_client).delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def install_crds(api_client: Any, sources: Iterable[str | Path | dict[str, Any]], timeout: float = 60.0) -> list[str]:
    """Create or update CustomResourceDefinitions, then wait until each is Established and served.

    `sources` are YAML files (one or more documents each) or CRD dicts.
    Returns the CRDs' names. Served means a LIST of the new resource
    answers: discovery can lag the Established condition by a moment.
    """
    from kubernetes import client

    crds = [crd for source in sources for crd in _crd_documents(source)]
    ext = client.ApiextensionsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            current = ext.read_custom_resource_definition(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            ext.create_custom_resource_definition(crd)
            continue
        crd = {**crd, "metadata": {**crd["metadata"], "resourceVersion": current.metadata.resource_version}}
        ext.replace_custom_resource_definition(name, crd)

    def served(crd: dict[str, Any]) -> bool:
        stored = ext.read_custom_resource_definition(crd["metadata"]["name"])
        if not any(c.type == "Established" and c.status == "True" for c in stored.status.conditions or []):
            return False
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))
        try:
            custom.list_cluster_custom_object(spec["group"], version, spec["names"]["plural"], limit=1)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    for crd in crds:
        wait_for(f"CRD {crd['metadata']['name']} established and served", lambda: served(crd), timeout=timeout,
                 show=False)
    return [crd["metadata"]["name"] for crd in crds]


def _crd_documents(source: str | Path | dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(source, dict):
        docs = [source]
        where = "the dict given"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise UsageError(f"CRD file {path} does not exist; pass the path of a YAML file or a CRD dict")
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except yaml.YAMLError as exc:
            raise UsageError(f"CRD file {path} is not valid YAML: {exc}") from None
        where = str(path)
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise UsageError(f"{where}: expected kind CustomResourceDefinition, found {kind!r}")
    return docs
