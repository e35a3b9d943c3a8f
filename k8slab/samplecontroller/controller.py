"""sample-controller in Python: for every Foo, a Deployment with Foo's replicas.

Mirrors k8s.io/sample-controller `controller.go` (Kubernetes 1.37), name for
name, so the Go and the Python read side by side:

    NewController        new_controller       handlers, queue, recorder
    Run                  run(workers, stop)   wait for caches, start workers, wait
    runWorker            run_worker           loop over process_next_work_item
    processNextWorkItem  process_next_work_item   get, sync, forget / requeue, done
    syncHandler          sync_handler(key)    the reconcile: compare, converge, report
    updateFooStatus      update_foo_status    status from a deep copy
    enqueueFoo           enqueue_foo          Foo -> "namespace/name" -> queue
    handleObject         handle_object        Deployment -> its owning Foo -> queue
    newDeployment        new_deployment(foo)  pure: the Deployment a Foo wants

The flow: informers (k8slab.cache) watch Foos and Deployments into local
caches and call the handlers; handlers only enqueue keys; workers take keys
off a rate-limited queue (k8slab.workqueue) and call `sync_handler`, which
reads from the caches through listers and writes through the clientset. A
failed sync is retried with per-key exponential backoff (5 ms doubling to
1000 s), and all retries together are held to sample-controller's bucket of
50 per second, burst 300.

Kept: the constants (agent name, reasons, messages, field manager), every
branch of syncHandler and what it does with errors, the resync filter in the
Deployment update handler, tombstone unwrapping, Events through an
EventRecorder (`k8slab.record`), `wait.Until`'s restart of a crashed worker.
Differences: objects are dicts and the clientsets are `DictClientset`s
(the dynamic client in the typed shape); Go's two `fmt.Errorf`s are classes
(`CacheNotSynced`, `ResourceNotOwned`); queue keys are "namespace/name"
strings (today's sample-controller queues a `cache.ObjectName` struct; older
releases used these strings); `run` takes a threading.Event for the context
and, once it is set, shuts the queue down and waits for the workers to finish
the item each holds; a few counters and `recent_errors` replace klog and
utilruntime.HandleError, so notebooks can show what happened.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable

from k8slab import errors
from k8slab.cache import (
    DeletedFinalStateUnknown,
    Lister,
    ResourceEventHandlerFuncs,
    SharedIndexInformer,
    deep_copy,
    meta_namespace_key_func,
    split_meta_namespace_key,
    wait_for_cache_sync,
)
from k8slab.meta import get_controller_of, is_controlled_by, new_controller_ref
from k8slab.record import NORMAL, WARNING, EventRecorder, new_recorder
from k8slab.samplecontroller.crd import API_VERSION, KIND
from k8slab.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    new_rate_limiting_queue,
)

__all__ = ["CONTROLLER_AGENT_NAME", "CacheNotSynced", "Controller", "ERR_RESOURCE_EXISTS", "FIELD_MANAGER",
           "MESSAGE_RESOURCE_EXISTS", "MESSAGE_RESOURCE_SYNCED", "ResourceNotOwned", "SUCCESS_SYNCED",
           "new_controller", "new_deployment"]

log = logging.getLogger(__name__)

CONTROLLER_AGENT_NAME = "sample-controller"
# SUCCESS_SYNCED is the Event reason when a Foo is synced.
SUCCESS_SYNCED = "Synced"
# ERR_RESOURCE_EXISTS is the Event reason when a Foo fails to sync because a
# Deployment of the same name already exists and belongs to someone else.
ERR_RESOURCE_EXISTS = "ErrResourceExists"
MESSAGE_RESOURCE_EXISTS = 'Resource "%s" already exists and is not managed by Foo'
MESSAGE_RESOURCE_SYNCED = "Foo synced successfully"
# FIELD_MANAGER names this controller in managedFields of what it writes.
FIELD_MANAGER = CONTROLLER_AGENT_NAME


CacheNotSynced = errors.CacheNotSynced  # `run` stopped before the informers' caches synced: no worker started
ResourceNotOwned = errors.ResourceNotOwned  # the Deployment a Foo names is controlled by someone else


class Controller:
    """The controller for Foo resources. Build it with `new_controller`."""

    def __init__(
        self,
        kubeclientset: Any,
        sampleclientset: Any,
        deployments_lister: Lister,
        deployments_synced: Callable[[], bool],
        foos_lister: Lister,
        foos_synced: Callable[[], bool],
        workqueue: RateLimitingQueue[str],
        recorder: EventRecorder,
    ) -> None:
        # kubeclientset talks to the built-in APIs (Deployments, Events);
        # sampleclientset to our own API group (Foos).
        self.kubeclientset = kubeclientset
        self.sampleclientset = sampleclientset
        self.deployments_lister = deployments_lister
        self.deployments_synced = deployments_synced
        self.foos_lister = foos_lister
        self.foos_synced = foos_synced
        # A rate-limited queue of "namespace/name" keys: work is queued, not done
        # in the handlers, so we process a bounded amount at a time and never
        # the same Foo in two workers at once.
        self.workqueue = workqueue
        self.recorder = recorder
        # What klog would have shown, kept for notebooks and dashboards.
        self.syncs = 0
        self.sync_errors = 0
        self._stats_lock = threading.Lock()
        self.recent_errors: collections.deque[str] = collections.deque(maxlen=50)

    # -- running -------------------------------------------------------------------

    def run(self, workers: int, stop: threading.Event) -> None:
        """Wait for the caches, run `workers` workers until `stop`, then shut down.

        Raises CacheNotSynced if `stop` comes before the caches sync. When
        it returns, the queue is shut down and every worker has finished.
        """
        threads: list[threading.Thread] = []
        try:
            log.info("Starting Foo controller")
            log.info("Waiting for informer caches to sync")
            if not wait_for_cache_sync(stop, self.deployments_synced, self.foos_synced):
                raise CacheNotSynced("failed to wait for caches to sync")
            log.info("Starting workers (count %d)", workers)
            for i in range(workers):
                thread = threading.Thread(
                    target=_until, args=(self.run_worker, 1.0, stop), name=f"k8slab-foo-worker-{i}", daemon=True
                )
                thread.start()
                threads.append(thread)
            log.info("Started workers")
            stop.wait()
            log.info("Shutting down workers")
        finally:
            self.workqueue.shut_down()
            for thread in threads:
                thread.join()

    def run_worker(self, stop: threading.Event) -> None:
        """Process items until the queue shuts down (or `stop`, after the current item)."""
        while not stop.is_set() and self.process_next_work_item():
            pass

    def process_next_work_item(self) -> bool:
        """Take one key off the queue and sync it; False once the queue has shut down."""
        key, shutdown = self.workqueue.get()
        if shutdown:
            return False
        # We call done at the end of this function so the queue knows we have
        # finished with this key (and may hand it out again). We must also call
        # forget when we do NOT want it retried: after a transient error we
        # skip forget and put it back with add_rate_limited instead.
        try:
            try:
                self.sync_handler(key)
            except Exception as exc:
                # Requeue, after a per-key backoff: it will probably still fail
                # right away, and a broken controller must calm down rather
                # than starve useful work.
                self.handle_error(f"error syncing {key!r}: {exc}; requeuing")
                with self._stats_lock:
                    self.sync_errors += 1
                self.workqueue.add_rate_limited(key)
                return True
            # No error: forget the key's failures so its next change starts
            # with no backoff.
            self.workqueue.forget(key)
            with self._stats_lock:
                self.syncs += 1
            log.info("Successfully synced %s", key)
            return True
        finally:
            self.workqueue.done(key)

    # -- the reconcile --------------------------------------------------------------

    def sync_handler(self, key: str) -> None:
        """Converge the Foo named by `key` and its Deployment; raise to have it retried."""
        namespace, name = split_meta_namespace_key(key)

        try:
            foo = self.foos_lister.namespace(namespace).get(name)
        except errors.NotFound:
            # The Foo may no longer exist, in which case we stop processing.
            # No requeue: its Deployment goes with it by garbage collection.
            self.handle_error(f"foo {key!r} in work queue no longer exists")
            return

        deployment_name = foo["spec"].get("deploymentName")
        if not deployment_name:
            # We absorb this error (no requeue: retrying cannot help); the
            # next update of the Foo queues it again.
            self.handle_error(f"{key}: deployment name must be specified")
            return

        # Get the Deployment named in Foo.spec from the cache; create it if missing.
        deployments = self.kubeclientset.apps_v1().deployments(namespace)
        try:
            deployment = self.deployments_lister.namespace(namespace).get(deployment_name)
        except errors.NotFound:
            # An error here (a network failure, a 403, AlreadyExists because our
            # cache is behind) propagates: the key is requeued and retried.
            deployment = deployments.create(new_deployment(foo), field_manager=FIELD_MANAGER)

        # A Deployment of that name that this Foo does not control: warn, and
        # fail (requeue), so we notice once someone deletes it.
        if not is_controlled_by(deployment, foo):
            message = MESSAGE_RESOURCE_EXISTS % deployment["metadata"]["name"]
            self.recorder.event(foo, WARNING, ERR_RESOURCE_EXISTS, message)
            raise ResourceNotOwned(message)

        # Replicas asked for and different from the Deployment's: update it.
        # An error propagates (requeue).
        replicas = foo["spec"].get("replicas")
        if replicas is not None and replicas != deployment["spec"].get("replicas"):
            log.debug("update deployment %s/%s: replicas %s -> %s", namespace, deployment_name,
                      deployment["spec"].get("replicas"), replicas)
            deployment = deployments.update(new_deployment(foo), field_manager=FIELD_MANAGER)

        # Finally, report the world's state in the Foo's status. An error
        # (e.g. Conflict: our cached Foo is stale) propagates (requeue).
        self.update_foo_status(foo, deployment)
        self.recorder.event(foo, NORMAL, SUCCESS_SYNCED, MESSAGE_RESOURCE_SYNCED)

    def update_foo_status(self, foo: dict[str, Any], deployment: dict[str, Any]) -> None:
        # NEVER modify objects from the store: it is a read-only, local cache
        # shared by every reader. Deep-copy, then change the copy.
        foo_copy = deep_copy(foo)
        status = foo_copy.setdefault("status", {})
        status["availableReplicas"] = (deployment.get("status") or {}).get("availableReplicas", 0)
        # update_status writes only the status subresource: the API server
        # ignores any spec change in foo_copy, so nothing but status can move.
        namespace = foo["metadata"]["namespace"]
        foos = self.sampleclientset.samplecontroller_v1alpha1().foos(namespace)
        foos.update_status(foo_copy, field_manager=FIELD_MANAGER)

    # -- handlers: they only enqueue -------------------------------------------------

    def enqueue_foo(self, obj: Any) -> None:
        """Queue a Foo's "namespace/name" key. Give it Foos only."""
        try:
            key = meta_namespace_key_func(obj)
        except errors.UsageError as exc:
            self.handle_error(str(exc))
            return
        self.workqueue.add(key)

    def handle_object(self, obj: Any) -> None:
        """Queue the Foo that controls `obj` (a Deployment), if any.

        This is how a change to a Deployment (scaled by hand, deleted, its
        Pods becoming available) brings its Foo back to `sync_handler`.
        """
        tombstone = isinstance(obj, DeletedFinalStateUnknown)
        if tombstone:
            # Deleted while we were not watching: the tombstone carries the
            # last state we knew, enough to find the owner.
            obj = obj.obj
        if not isinstance(obj, dict) or "metadata" not in obj:
            self.handle_error(f"error decoding object, invalid type {type(obj).__name__}")
            return
        if tombstone:
            log.debug("recovered deleted object %s", obj["metadata"].get("name"))
        owner_ref = get_controller_of(obj)
        if owner_ref is None:
            return
        # Not owned by a Foo: not ours to look at.
        if owner_ref.get("kind") != KIND:
            return
        try:
            foo = self.foos_lister.namespace(obj["metadata"].get("namespace", "")).get(owner_ref["name"])
        except errors.NotFound:
            log.debug("ignore orphaned object %s of foo %s", obj["metadata"].get("name"), owner_ref["name"])
            return
        self.enqueue_foo(foo)

    def handle_error(self, message: str) -> None:
        """utilruntime.HandleError: log it (and keep it for notebooks); never raise."""
        log.warning("%s", message)
        self.recent_errors.append(message)

    def __repr__(self) -> str:
        return (f"<sample-controller: queue {self.workqueue.len()}, syncs {self.syncs}, "
                f"errors {self.sync_errors}>")


def new_controller(
    kubeclientset: Any,
    sampleclientset: Any,
    deployment_informer: SharedIndexInformer,
    foo_informer: SharedIndexInformer,
    *,
    recorder: EventRecorder | None = None,
    clock: Any = None,
    controller_class: type[Controller] = Controller,
) -> Controller:
    """A sample controller wired to its informers (not started: call `run`).

    `recorder` defaults to `new_recorder`'s, writing core/v1 Events as
    "sample-controller" through `kubeclientset`. `controller_class` lets a
    subclass (operator.py) reuse this wiring.
    """
    if recorder is None:
        recorder = new_recorder(kubeclientset, CONTROLLER_AGENT_NAME)
    # Per-key exponential backoff, 5 ms doubling to 1000 s, and an overall
    # bucket of 50 qps / burst 300: the larger delay wins.
    rate_limiter = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(qps=50.0, burst=300, clock=clock),
    )
    controller = controller_class(
        kubeclientset=kubeclientset,
        sampleclientset=sampleclientset,
        deployments_lister=Lister(deployment_informer.get_indexer(), "deployments.apps"),
        deployments_synced=deployment_informer.has_synced,
        foos_lister=Lister(foo_informer.get_indexer(), "foos.samplecontroller.k8s.io"),
        foos_synced=foo_informer.has_synced,
        workqueue=new_rate_limiting_queue(rate_limiter, name="Foos", clock=clock),
        recorder=recorder,
    )

    log.info("Setting up event handlers")
    # When a Foo changes, queue it.
    foo_informer.add_event_handler(
        ResourceEventHandlerFuncs(
            add_func=controller.enqueue_foo,
            update_func=lambda old, new: controller.enqueue_foo(new),
        )
    )

    # When a Deployment changes, queue the Foo that owns it (if any): the
    # controller needs no Deployment logic of its own.
    def update_deployment(old: dict[str, Any], new: dict[str, Any]) -> None:
        if new["metadata"].get("resourceVersion") == old["metadata"].get("resourceVersion"):
            # A periodic resync sends an update for every Deployment; two
            # different versions of a Deployment always differ in resourceVersion.
            return
        controller.handle_object(new)

    deployment_informer.add_event_handler(
        ResourceEventHandlerFuncs(
            add_func=controller.handle_object,
            update_func=update_deployment,
            delete_func=controller.handle_object,
        )
    )
    return controller


def new_deployment(foo: dict[str, Any]) -> dict[str, Any]:
    """The Deployment `foo` asks for, owned by it so `handle_object` can find its Foo. Pure."""
    labels = {"app": "nginx", "controller": foo["metadata"]["name"]}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(labels)},
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
        },
    }
    if foo["spec"].get("replicas") is not None:
        spec = {"replicas": foo["spec"]["replicas"], **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": foo["spec"]["deploymentName"],
            "namespace": foo["metadata"]["namespace"],
            "ownerReferences": [new_controller_ref(foo, API_VERSION, KIND)],
        },
        "spec": spec,
    }


def _until(f: Callable[[threading.Event], None], period: float, stop: threading.Event) -> None:
    """wait.Until: call f(stop) again `period` after it returns (or crashes), until `stop`."""
    while not stop.is_set():
        try:
            f(stop)
        except Exception:
            log.exception("worker crashed; restarting it in %s s", period)
        if stop.wait(period):
            return
