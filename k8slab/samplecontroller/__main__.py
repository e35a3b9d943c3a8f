"""`python -m k8slab.samplecontroller --kubeconfig PATH [--leader-elect]`: the controller as a process.

Mirrors sample-controller's `main.go` (flags --kubeconfig and --master) and
`pkg/signals` (the first SIGTERM or SIGINT cancels the context, a second one
exits at once with status 1), with component-base's --leader-elect-* flags
and kube-controller-manager's --kube-api-qps/--kube-api-burst.

On SIGTERM it stops the informers, lets each worker finish the Foo it holds,
releases the Lease if it leads (so a standby takes over at once instead of
after the lease duration) and exits 0. Losing the lease exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from k8slab.samplecontroller.app import DEFAULT_BURST, DEFAULT_QPS, DEFAULT_RESYNC, App, LeaderElectionOptions


def setup_signal_handler() -> threading.Event:
    """pkg/signals: an event set by the first SIGTERM/SIGINT; the second exits with 1."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            os._exit(1)  # second signal: exit directly
        logging.getLogger("k8slab.samplecontroller").info("received %s, shutting down",
                                                          signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    le = LeaderElectionOptions(identity="")
    p = argparse.ArgumentParser(prog="python -m k8slab.samplecontroller",
                                description="sample-controller: a Deployment for every Foo.")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""),
                   help="path to a kubeconfig (default: $KUBECONFIG)")
    p.add_argument("--workers", type=int, default=2, help="concurrent syncs (default 2, as main.go)")
    p.add_argument("--namespace", default="", help="watch only this namespace (default: all)")
    p.add_argument("--resync", type=float, default=DEFAULT_RESYNC, help="informer resync period, s")
    p.add_argument("--kube-api-qps", type=float, default=DEFAULT_QPS,
                   help="0 (default, as main.go): a 5/10 bucket per group version; > 0: one bucket per clientset")
    p.add_argument("--kube-api-burst", type=int, default=DEFAULT_BURST)
    p.add_argument("--one-rate-limiter", action="store_true",
                   help="one --kube-api-qps/--kube-api-burst bucket shared by both clientsets (for comparisons)")
    p.add_argument("--leader-elect", action="store_true", help="run only while holding the Lease")
    p.add_argument("--leader-elect-lease-duration", type=float, default=le.lease_duration)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=le.renew_deadline)
    p.add_argument("--leader-elect-retry-period", type=float, default=le.retry_period)
    p.add_argument("--leader-elect-resource-namespace", default=le.resource_namespace)
    p.add_argument("--leader-elect-resource-name", default=le.resource_name)
    p.add_argument("--id", default="", help="this candidate's identity (default: hostname_uuid)")
    p.add_argument("--external-dir", default="",
                   help="run notebook 12's operator instead (operator.py): a finalizer that removes each Foo's "
                        "record in this directory, observedGeneration, an Available condition")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: info, -vv: debug")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname).1s %(name)s] %(message)s")
    logging.getLogger("k8slab.samplecontroller").setLevel(min(level, logging.INFO))
    logging.getLogger("k8slab.leaderelection").setLevel(min(level, logging.INFO))
    if not args.kubeconfig:
        print("error: --kubeconfig (or $KUBECONFIG) is required", file=sys.stderr)
        return 2
    stop = setup_signal_handler()
    leader_election = None
    if args.leader_elect:
        leader_election = LeaderElectionOptions(
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
            resource_namespace=args.leader_elect_resource_namespace,
            resource_name=args.leader_elect_resource_name,
        )
        if args.id:
            leader_election.identity = args.id
    limiter = None
    if args.one_rate_limiter:
        from k8slab.chain import new_token_bucket_rate_limiter

        limiter = new_token_bucket_rate_limiter(args.kube_api_qps or 5.0, args.kube_api_burst or 10)
    extra = {}
    if args.external_dir:
        import functools

        from k8slab.samplecontroller.operator import DirectoryRegistry, new_operator

        extra["new_controller_func"] = functools.partial(new_operator, registry=DirectoryRegistry(args.external_dir))
    app = App(args.kubeconfig, workers=args.workers, namespace=args.namespace, resync=args.resync,
              qps=args.kube_api_qps, burst=args.kube_api_burst, leader_election=leader_election,
              rate_limiter=limiter, **extra)
    try:
        code = app.run(stop)
    finally:
        app.close()
    logging.getLogger("k8slab.samplecontroller").info("exiting with status %d", code)
    return code


if __name__ == "__main__":
    sys.exit(main())
