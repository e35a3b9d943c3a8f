"""k8slab's sample-controller with client-go's limiter topology: main.go's two clientsets.

    app = new_app(kubeconfig, namespace="demo")              # qps 0: a 5/10 bucket per group version
    python -m k8slab.operators.k8slab_foo --kubeconfig PATH --namespace demo

`python -m k8slab.samplecontroller` builds one DictClientset and hands it to
the controller twice, so Deployment writes, Foo status writes and Events
take their tokens from one bucket (QPS 20 / burst 30 by default). Go's
main.go builds two clientsets from a config whose QPS is 0 (`kubernetes.
NewForConfig` and the generated `versioned.NewForConfig`), and each of their
group versions then has a bucket of its own (clients.py). This module builds
the controller as main.go does, through the App's public hook
(`new_controller_func`), changing nothing in k8slab.samplecontroller: the
proposed default, runnable beside today's so the benchmark can compare them.

Kept: the App (informers, leader election, shutdown) as it is.
Left out: the informers' place in the topology: they and the Lease still
share the App's own client (a list and a watch per informer at start); in
client-go they share their group version's bucket with its writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from k8slab.operators.clients import new_clientset
from k8slab.samplecontroller import CONTROLLER_AGENT_NAME, App, LeaderElectionOptions, new_controller
from k8slab.samplecontroller.__main__ import setup_signal_handler

__all__ = ["main", "new_app"]


def new_app(kubeconfig: str | os.PathLike[str], *, namespace: str = "", qps: float = 0.0, burst: int = 0,
            workers: int = 2, leader_election: LeaderElectionOptions | None = None) -> App:
    """An App whose controller writes through main.go's two clientsets (qps 0: client-go's per-group-version buckets)."""
    agent = f"{CONTROLLER_AGENT_NAME}/k8slab"
    kubeclientset = new_clientset(kubeconfig, qps=qps, burst=burst, user_agent=agent)
    sampleclientset = new_clientset(kubeconfig, qps=qps, burst=burst, user_agent=agent)

    def new_controller_func(_kube: Any, _sample: Any, deployment_informer: Any, foo_informer: Any, **kw: Any) -> Any:
        return new_controller(kubeclientset, sampleclientset, deployment_informer, foo_informer, **kw)

    return App(kubeconfig, namespace=namespace, workers=workers, qps=qps, burst=burst,
               leader_election=leader_election, new_controller_func=new_controller_func)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m k8slab.operators.k8slab_foo",
                                description="k8slab's sample-controller with client-go's limiter topology.")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    p.add_argument("--namespace", default="")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--kube-api-qps", type=float, default=0.0, help="0: a 5/10 bucket per group version")
    p.add_argument("--kube-api-burst", type=int, default=0)
    p.add_argument("--leader-elect", action="store_true")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname).1s %(name)s] %(message)s")
    logging.getLogger("k8slab.samplecontroller").setLevel(logging.INFO)
    if not args.kubeconfig:
        print("error: --kubeconfig (or $KUBECONFIG) is required", file=sys.stderr)
        return 2
    stop = setup_signal_handler()
    election = (LeaderElectionOptions(resource_namespace=args.leader_elect_resource_namespace)
                if args.leader_elect else None)
    app = new_app(args.kubeconfig, namespace=args.namespace, qps=args.kube_api_qps, burst=args.kube_api_burst,
                  workers=args.workers, leader_election=election)
    try:
        return app.run(stop)
    finally:
        app.api_client.close()


if __name__ == "__main__":
    sys.exit(main())
