"""sample-controller's Foo behaviour, written with kopf (the Kubernetes Operator Pythonic Framework).

    foo = KopfFoo(kubeconfig, namespace="demo").start()    # in this process, in a thread (notebooks, tests)
    foo.stop()
    python -m k8slab.operators.kopf_foo --kubeconfig PATH --namespace demo   # as a process

kopf is asyncio inside; its handlers are plain functions here, which kopf
runs in a thread pool. The map to sample-controller's controller.go:

    informers and listers     @kopf.index on foos and on deployments: kopf's in-memory indices
    enqueueFoo                @kopf.on.resume / create / update on foos: kopf's change detection
                              (spec and metadata; a status change is not an update)
    handleObject              @kopf.on.event on deployments: the controller reference names the
                              Foo, which is synced right there (kopf cannot queue another object)
    syncHandler               sync_foo: the same branches, reading the indices
    AddRateLimited            kopf.TemporaryError(delay): kopf runs the handler again after the
                              delay; the delay doubles from 5 ms to 1000 s, as the workqueue's
    one key, one worker       a lock per Foo (a Foo's own events and its Deployment's run in
                              different kopf workers)
    EventRecorder             kopf.event: kopf posts core/v1 Events through its own client
    leader election           kopf's peering (KopfPeering objects): off, this runs standalone

What kopf does on its own, and the others do not: it keeps what it handled
last in an annotation on each Foo (`kopf.zalando.org/last-handled-configuration`,
a PATCH after each change handled) and, while a handler retries, its progress
in more annotations; `kopf.event` posts a new Event each time (no counting
of repeats, as client-go's correlator does); its own requests (watches,
annotation and event writes) have no client-side rate limit. (kopf 1.45 posts
no Events of its own: `settings.posting.loggers` is off.) There is no resync: a `@kopf.timer`
would give one, but a timer puts kopf's finalizer on every Foo.

The controller's own writes (Deployments, Foo status) go through k8slab's
chain with client-go's limiter topology (samplecontroller/clientset.py): `qps`/`burst` apply
to them. The status is written with a merge patch of the status subresource
(what kopf's own `patch.status` does), not a PUT: a Foo from the index may
be older than the stored one, and kopf retries no `on.event` handler.

With `external_dir` (`--external-dir DIR`), it is notebook 12's operator
(k8slab/samplecontroller/operator.py) the kopf way: a record per Foo in a
`DirectoryRegistry`, removed by an `@kopf.on.delete` handler, for which kopf
itself puts its finalizer (`kopf.zalando.org/KopfFinalizerMarker`) on every
Foo and takes it off once the handler succeeds; and the status gains
observedGeneration and an Available condition, as the other two write them.

Kept: every branch of syncHandler, its reasons and messages, the Deployment
sample-controller builds (`new_deployment`). Its writes name `kopf-foo` as
their field manager.
Left out: the Synced event's counting (kopf has none), the 30 s resync.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import sys
import threading
from typing import Any, Callable

import kopf

from k8slab import errors
from k8slab.chain import load_kubeconfig
from k8slab.meta import get_controller_of, is_controlled_by, set_status_condition
from k8slab.samplecontroller.clientset import new_for_kubeconfig
from k8slab.samplecontroller import (
    ERR_RESOURCE_EXISTS,
    MESSAGE_RESOURCE_EXISTS,
    MESSAGE_RESOURCE_SYNCED,
    SUCCESS_SYNCED,
    new_deployment,
)
from k8slab.samplecontroller.crd import GROUP, KIND, VERSION
from k8slab.samplecontroller.operator import DirectoryRegistry

__all__ = ["AGENT_NAME", "KopfFoo", "main", "new_registry", "new_settings"]

log = logging.getLogger(__name__)

AGENT_NAME = "kopf-foo"
FOOS = (GROUP, VERSION, "foos")
DEPLOYMENTS = ("apps", "v1", "deployments")


def backoff(retry: int) -> float:
    """The workqueue's per-item delay after `retry` failures: 5 ms doubling, at most 1000 s."""
    return min(0.005 * 2 ** retry, 1000.0)


def connection_info(kubeconfig: str | os.PathLike[str]) -> kopf.ConnectionInfo:
    """kopf's credentials from a kubeconfig, read by k8slab's chain (client certificates, tokens)."""
    config = load_kubeconfig(kubeconfig).client_config()
    tls = config.tls

    def one(data: bytes, path: str) -> dict[str, Any]:
        return {"data": data} if data else {"path": path or None}

    ca, cert, key = one(tls.ca_data, tls.ca_file), one(tls.cert_data, tls.cert_file), one(tls.key_data, tls.key_file)
    return kopf.ConnectionInfo(
        server=config.host, insecure=tls.insecure or None, token=config.bearer_token or None,
        ca_data=ca.get("data"), ca_path=ca.get("path"),
        certificate_data=cert.get("data"), certificate_path=cert.get("path"),
        private_key_data=key.get("data"), private_key_path=key.get("path"),
    )


def new_settings() -> kopf.OperatorSettings:
    """kopf's defaults, but: no resource scanning (it needs CRD and namespace rights this controller
    does not hold), progress in annotations only (the Foo's status schema has no room for kopf's)."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.posting.reporting_component = AGENT_NAME
    return settings


def operator_status(foo: dict[str, Any], deployment: dict[str, Any]) -> dict[str, Any]:
    """The operator's status (operator.py's update_foo_status): availableReplicas, observedGeneration,
    and the Available condition, its lastTransitionTime kept unless its status flips."""
    available = (deployment.get("status") or {}).get("availableReplicas", 0)
    wanted = foo["spec"].get("replicas") or 0
    generation = foo["metadata"].get("generation", 0)
    ok = available >= wanted and (deployment.get("status") or {}).get("observedGeneration", 0) >= \
        deployment["metadata"].get("generation", 0)
    conditions = [dict(c) for c in (foo.get("status") or {}).get("conditions") or []]
    set_status_condition(conditions, {
        "type": "Available", "status": "True" if ok else "False",
        "reason": "MinimumReplicasAvailable" if ok else "ReplicasUnavailable",
        "message": f"{available} of {wanted} replicas available", "observedGeneration": generation,
    })
    return {"availableReplicas": available, "observedGeneration": generation, "conditions": conditions}


def new_registry(kubeconfig: str | os.PathLike[str], *, qps: float = 0.0, burst: int = 0,
                 external_dir: str | os.PathLike[str] | None = None) -> kopf.OperatorRegistry:
    """The Foo controller's handlers, on a registry of their own (so several can run in one process).

    With `external_dir`, the operator's: records in a DirectoryRegistry, kopf's finalizer, conditions."""
    registry = kopf.OperatorRegistry()
    records = DirectoryRegistry(external_dir) if external_dir else None
    clients = new_for_kubeconfig(kubeconfig, qps=qps, burst=burst, user_agent=f"{AGENT_NAME}/k8slab")
    locks: collections.defaultdict[tuple[str, str], threading.Lock] = collections.defaultdict(threading.Lock)
    locks_lock = threading.Lock()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kubeconfig)

    @kopf.index(*FOOS, id="foos", registry=registry)
    def foos(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return {(namespace, name): dict(body)}

    @kopf.index(*DEPLOYMENTS, id="deployments", registry=registry)
    def deployments(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return {(namespace, name): dict(body)}

    def sync_foo(namespace: str, name: str, read_foo: Callable[[], dict[str, Any] | None],
                 deployments_index: kopf.Index, retry: int = 0) -> None:
        """syncHandler: converge one Foo and its Deployment; raise kopf.TemporaryError to be retried.

        The Foo is read once this sync holds the Foo's lock (as syncHandler reads its lister only
        once the queue has handed it the key): a Foo read before could be older than what the
        sync that held the lock last has already written."""
        with locks_lock:
            lock = locks[namespace, name]
        with lock:
            foo = read_foo()
            if foo is None:
                return  # gone: its Deployments go by garbage collection
            if records is not None and foo["metadata"].get("deletionTimestamp"):
                return  # being deleted: the on.delete handler's, not ours (it would register it again)
            deployment_name = foo["spec"].get("deploymentName")
            if not deployment_name:
                log.warning("%s/%s: deployment name must be specified", namespace, name)
                return
            found = deployments_index.get((namespace, deployment_name))
            deployment = next(iter(found), None) if found is not None else None
            client = clients.apps_v1().deployments(namespace)
            try:
                if deployment is None:
                    deployment = client.create(new_deployment(foo), field_manager=AGENT_NAME)
                if not is_controlled_by(deployment, foo):
                    message = MESSAGE_RESOURCE_EXISTS % deployment["metadata"]["name"]
                    kopf.event(foo, type="Warning", reason=ERR_RESOURCE_EXISTS, message=message)
                    raise kopf.TemporaryError(message, delay=backoff(retry))
                replicas = foo["spec"].get("replicas")
                if replicas is not None and replicas != deployment["spec"].get("replicas"):
                    deployment = client.update(new_deployment(foo), field_manager=AGENT_NAME)
                status = {"availableReplicas": (deployment.get("status") or {}).get("availableReplicas", 0)}
                if records is not None:
                    status = operator_status(foo, deployment)
                clients.samplecontroller_v1alpha1().foos(namespace).patch(
                    name, {"status": status}, "merge", "status", field_manager=AGENT_NAME)
            except errors.APIError as exc:  # AlreadyExists (the index is behind), Conflict, ...: retry
                raise kopf.TemporaryError(f"{exc}", delay=backoff(retry)) from None
            kopf.event(foo, type="Normal", reason=SUCCESS_SYNCED, message=MESSAGE_RESOURCE_SYNCED)
            if records is not None:
                records.register(f"{namespace}/{name}", foo["spec"].get("replicas") or 0)

    @kopf.on.resume(*FOOS, id="foo_changed", registry=registry)
    @kopf.on.create(*FOOS, id="foo_changed", registry=registry)
    @kopf.on.update(*FOOS, id="foo_changed", registry=registry)
    def foo_changed(body: kopf.Body, namespace: str, name: str, retry: int, deployments: kopf.Index,
                    **_: Any) -> None:
        sync_foo(namespace, name, lambda: dict(body), deployments, retry)  # the event's Foo is the newest

    if records is not None:
        @kopf.on.delete(*FOOS, id="foo_deleted", registry=registry)
        def foo_deleted(body: kopf.Body, namespace: str, name: str, **_: Any) -> None:
            """Clean up outside the cluster; kopf removes its finalizer once this returns."""
            with locks_lock:
                lock = locks[namespace, name]
            with lock:  # not while a sync of this Foo may register it again
                records.deregister(f"{namespace}/{name}")
            kopf.event(dict(body), type="Normal", reason="Finalized", message="external record removed")

    @kopf.on.event(*DEPLOYMENTS, id="deployment_event", registry=registry)
    def deployment_event(body: kopf.Body, namespace: str, foos: kopf.Index, deployments: kopf.Index,
                         **_: Any) -> None:
        owner = get_controller_of(dict(body))
        if owner is None or owner.get("kind") != KIND:
            return  # not a Foo's: not ours to look at
        def read_foo() -> dict[str, Any] | None:  # None: an orphan, its Foo is gone
            found = foos.get((namespace, owner["name"]))
            return next(iter(found), None) if found is not None else None

        try:
            sync_foo(namespace, owner["name"], read_foo, deployments)
        except kopf.TemporaryError as exc:  # no retries for event handlers: the next event brings it back
            log.info("%s/%s: %s", namespace, owner["name"], exc)

    return registry


class KopfFoo:
    """The kopf Foo controller in a background thread of this process."""

    def __init__(self, kubeconfig: str | os.PathLike[str], *, namespace: str = "", qps: float = 0.0,
                 burst: int = 0, external_dir: str | os.PathLike[str] | None = None) -> None:
        self.kubeconfig, self.namespace = os.fspath(kubeconfig), namespace
        self.registry = new_registry(self.kubeconfig, qps=qps, burst=burst, external_dir=external_dir)
        self.settings = new_settings()
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(operate(self.registry, self.settings, self.namespace, self._stop, self._ready))
        except BaseException as exc:  # noqa: BLE001 - kept for the caller, who asks `error`
            self.error = exc
            log.exception("kopf-foo failed")
        finally:  # kopf leaves the thread pool of its sync handlers to whoever made the settings
            self.settings.execution.executor.shutdown(wait=True, cancel_futures=True)

    def start(self, timeout: float = 60.0) -> "KopfFoo":
        """Start kopf and wait until it is ready (logged in, watching)."""
        if self._thread is not None:
            raise errors.UsageError("this KopfFoo was already started; make a new one")
        self._thread = threading.Thread(target=self._run, name="k8slab-kopf-foo", daemon=True)
        self._thread.start()
        while not self._ready.wait(0.1):
            if not self._thread.is_alive() or timeout <= 0:
                self.stop()
                raise errors.ConditionTimeout(f"kopf-foo did not become ready: {self.error or 'timed out'}")
            timeout -= 0.1
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        return f"<kopf-foo {'running' if self.running else 'stopped'} in {self.namespace or 'all namespaces'}>"


async def operate(registry: kopf.OperatorRegistry, settings: kopf.OperatorSettings, namespace: str,
                  stop_flag: Any = None, ready_flag: Any = None) -> None:
    scope: dict[str, Any] = {"namespaces": [namespace]} if namespace else {"clusterwide": True}
    await kopf.operator(registry=registry, settings=settings, standalone=True, stop_flag=stop_flag,
                        ready_flag=ready_flag, **scope)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m k8slab.operators.kopf_foo",
                                description="sample-controller's Foo behaviour, with kopf.")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    p.add_argument("--namespace", default="", help="watch only this namespace (default: all)")
    p.add_argument("--kube-api-qps", type=float, default=0.0, help="the controller's own writes (0: 5 per group version)")
    p.add_argument("--kube-api-burst", type=int, default=0)
    p.add_argument("--external-dir", default="",
                   help="the operator's patterns: a record per Foo here, removed by an on.delete handler (kopf's finalizer), conditions")
    p.add_argument("-v", "--verbose", action="count", default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if not args.verbose else logging.INFO if args.verbose == 1 else logging.DEBUG,
                        stream=sys.stderr, format="%(asctime)s %(levelname).1s %(name)s] %(message)s")
    if not args.kubeconfig:
        print("error: --kubeconfig (or $KUBECONFIG) is required", file=sys.stderr)
        return 2
    registry = new_registry(args.kubeconfig, qps=args.kube_api_qps, burst=args.kube_api_burst,
                            external_dir=args.external_dir or None)
    asyncio.run(operate(registry, new_settings(), args.namespace))  # kopf stops on SIGTERM / SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
