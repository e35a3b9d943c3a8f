"""main.go as an object: build the clients, informers and controller from a kubeconfig, run them.

Mirrors sample-controller's `main.go` (BuildConfigFromFlags, two clientsets,
two informer factories with a 30 s resync, NewController, factories'
Start, `controller.Run(ctx, 2)`), plus the leader election every real
controller manager wraps around that (kube-controller-manager's
`leaderelection.RunOrDie` with OnStartedLeading = run the controllers).

    app = App(kubeconfig, namespace="demo")     # build nothing yet
    app.start()                                 # in a background thread (notebooks)
    app.controller                              # the running Controller (None until it runs)
    app.stop()                                  # stop, drain workers, release the lease
    App(kubeconfig).run(stop)                   # in this thread; returns an exit code

With leader election, everything (informers included) is built only once
this replica leads, as in kube-controller-manager: a standby caches nothing.
Losing the lease stops the controller and ends `run` with exit code 1, so a
process manager restarts the replica as a fresh candidate.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from typing import Any, Callable

from k8slab import errors
from k8slab.cache import SharedInformerFactory
from k8slab.chain.listwatch import lister_watcher_for
from k8slab.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaseLock, new_leader_elector
from k8slab.record import new_recorder
from k8slab.samplecontroller.clientset import new_for_kubeconfig
from k8slab.samplecontroller.controller import CONTROLLER_AGENT_NAME, CacheNotSynced, Controller, new_controller
from k8slab.samplecontroller.crd import DEPLOYMENTS_RESOURCE, FOOS_RESOURCE

__all__ = ["App", "LeaderElectionOptions", "default_identity"]

log = logging.getLogger(__name__)

# main.go leaves QPS and Burst unset: client-go's NewForConfig then gives every group version
# a 5 / 10 bucket of its own, so Deployment writes, Events and Foo status writes never queue
# behind one another (clientset.py). QPS > 0 makes each clientset share one bucket instead.
DEFAULT_QPS = 0.0
DEFAULT_BURST = 0
DEFAULT_RESYNC = 30.0  # main.go: NewSharedInformerFactory(client, time.Second*30)


def default_identity() -> str:
    """hostname_<uuid>, as controller managers name their candidates."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclasses.dataclass
class LeaderElectionOptions:
    """component-base's --leader-elect-* flags and their defaults."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_namespace: str = "kube-system"
    resource_name: str = "sample-controller"
    identity: str = dataclasses.field(default_factory=default_identity)


class App:
    """One replica of sample-controller, built from a kubeconfig."""

    def __init__(
        self,
        kubeconfig: str | os.PathLike[str],
        *,
        workers: int = 2,
        namespace: str = "",
        resync: float = DEFAULT_RESYNC,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        leader_election: LeaderElectionOptions | None = None,
        new_controller_func: Callable[..., Controller] = new_controller,
        rate_limiter: Any = None,
    ) -> None:
        self.kubeconfig = os.fspath(kubeconfig)
        self.workers, self.namespace, self.resync = workers, namespace, resync
        self.qps, self.burst = qps, burst
        self.leader_election = leader_election
        self.new_controller_func = new_controller_func  # operator.new_operator for notebook 12
        self.controller: Controller | None = None
        self.factory: SharedInformerFactory | None = None  # its informers, once running (for views)
        self.elector: Any = None
        self.exit_code: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # main.go's two clientsets (kubernetes.NewForConfig, versioned.NewForConfig), with
        # client-go's limits: see DEFAULT_QPS. A `rate_limiter` given is shared by both, as a
        # rest.Config's RateLimiter is (bench/controller.py compares that with the default).
        agent = f"{CONTROLLER_AGENT_NAME}/k8slab"
        self.kubeclientset = new_for_kubeconfig(self.kubeconfig, qps=qps, burst=burst, user_agent=agent,
                                                rate_limiter=rate_limiter)
        self.sampleclientset = new_for_kubeconfig(self.kubeconfig, qps=qps, burst=burst, user_agent=agent,
                                                  rate_limiter=rate_limiter)
        self.clientset = self.kubeclientset  # Deployments, Events, the Lease
        # The informers list and watch through the kube clientset's connection pool, unthrottled when
        # QPS is 0 (in client-go they take their group version's tokens: one list and one watch each).
        self.api_client = self.kubeclientset.api_client

    # -- in this thread ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> int:
        """Run until `stop` (exit code 0) or until the lease is lost (1)."""
        if self.leader_election is None:
            self._run_controller(stop)
            return 0
        opts = self.leader_election
        lock = LeaseLock(opts.resource_namespace, opts.resource_name, self.clientset.coordination_v1(),
                         opts.identity, event_recorder=new_recorder(self.clientset, CONTROLLER_AGENT_NAME))
        self.elector = new_leader_elector(LeaderElectionConfig(
            lock=lock,
            lease_duration=opts.lease_duration,
            renew_deadline=opts.renew_deadline,
            retry_period=opts.retry_period,
            callbacks=LeaderCallbacks(
                on_started_leading=self._run_controller,
                on_stopped_leading=lambda: log.info("%s: stopped leading", opts.identity),
                on_new_leader=lambda who: log.info("new leader: %s", who or "(none)"),
            ),
            release_on_cancel=True,
            name=opts.resource_name,
        ))
        self.elector.run(stop)
        if stop.is_set():
            return 0
        log.error("leaderelection lost")
        return 1

    def _run_controller(self, stop: threading.Event) -> None:
        factory = SharedInformerFactory(
            lister_watcher_for(self.api_client, namespace=self.namespace or None), self.resync
        )
        controller = self.new_controller_func(
            self.kubeclientset,
            self.sampleclientset,
            factory.informer_for(DEPLOYMENTS_RESOURCE),
            factory.informer_for(FOOS_RESOURCE),
        )
        self.factory, self.controller = factory, controller
        # Start is non-blocking: each informer runs in its own thread.
        factory.start(stop)
        try:
            controller.run(self.workers, stop)
        except CacheNotSynced:
            if not stop.is_set():
                raise
            log.info("stopped before the caches synced")  # asked to stop: not a failure
        finally:
            stop.set()  # ends the informers too, if run ended on its own
            factory.shutdown()

    # -- in a background thread (notebooks, tests) ------------------------------------

    def start(self) -> "App":
        """Run in a background thread; `stop()` ends it."""
        if self._thread is not None:
            raise errors.UsageError("this App was already started; make a new one")
        self._thread = threading.Thread(target=self._run_in_thread, name="k8slab-sample-controller", daemon=True)
        self._thread.start()
        return self

    def _run_in_thread(self) -> None:
        try:
            self.exit_code = self.run(self._stop)
        except Exception:
            log.exception("sample-controller failed")
            self.exit_code = 1

    def stop(self, timeout: float = 30.0) -> None:
        """Stop informers and workers, release the lease, wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise errors.ConditionTimeout(f"sample-controller did not stop within {timeout} s")
        self.close()

    def close(self) -> None:
        """Close both clientsets' connection pools."""
        self.kubeclientset.api_client.close()
        self.sampleclientset.api_client.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def leader(self) -> str:
        """The observed Lease holder ("" if none or no leader election)."""
        return self.elector.get_leader() if self.elector is not None else ""

    @property
    def is_leader(self) -> bool:
        return self.elector is not None and self.elector.is_leader() and self.running

    def __repr__(self) -> str:
        who = f", leader {self.leader!r}" if self.leader_election else ""
        return f"<sample-controller App {'running' if self.running else 'stopped'}{who}: {self.controller!r}>"
