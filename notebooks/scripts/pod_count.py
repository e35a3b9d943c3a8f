"""There are N pods in the cluster: the first client-go program most people write, in Python.

The Go original (client-go's examples/out-of-cluster-client-configuration)
reads a kubeconfig with clientcmd.BuildConfigFromFlags, builds a clientset
with kubernetes.NewForConfig, then lists Pods in every namespace every 10
seconds, forever. This is the same program through k8slab's chain, with one
change: `--times` bounds the loop (0 keeps the original's forever).

    k8slab up
    python notebooks/scripts/pod_count.py --kubeconfig "$(k8slab kubeconfig)" --times 3

Exit status 0 on success; 1 with a one-line k8slab error (no traceback)
when the kubeconfig or the server is not usable.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from k8slab.chain import build_config_from_flags, new_for_config
from k8slab.errors import K8sLabError


def main(argv: list[str] | None = None) -> int:
    home = os.environ.get("HOME", "")
    parser = argparse.ArgumentParser(description="Print how many Pods the cluster has, every few seconds.")
    parser.add_argument(
        "--kubeconfig",
        default=os.path.join(home, ".kube", "config") if home else "",
        help="(optional) absolute path to the kubeconfig file",
    )
    parser.add_argument("--master", default="", help="(optional) the API server's URL, overriding the kubeconfig's")
    parser.add_argument("--namespace", default="", help="count in one namespace only (default: all namespaces)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between counts (default 10)")
    parser.add_argument("--times", type=int, default=0, help="stop after this many counts (default 0: never)")
    args = parser.parse_args(argv)

    where = "in the cluster" if not args.namespace else f"in namespace {args.namespace}"
    try:
        config = build_config_from_flags(args.master, args.kubeconfig)  # clientcmd.BuildConfigFromFlags
        with new_for_config(config) as clientset:  # kubernetes.NewForConfig
            count = 0
            while True:
                pods = clientset.core_v1().pods(args.namespace).list()  # CoreV1().Pods("").List(...)
                print(f"There are {len(pods.items)} pods {where}", flush=True)
                count += 1
                if args.times and count >= args.times:
                    return 0
                time.sleep(args.interval)
    except K8sLabError as exc:
        print(f"pod_count: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
