"""`python -m k8slab.operators NAME --kubeconfig PATH [--namespace NS] [...]`: one Foo controller, in the foreground.

    python -m k8slab.operators controller-runtime --kubeconfig "$(k8slab kubeconfig)" --namespace demo
    python -m k8slab.operators sample-controller --build      # build the Go program now, print its path
    python -m k8slab.operators --list                         # the controllers, and what each runs

The command is runner.py's; this process becomes it (exec), so SIGTERM and
Ctrl-C reach the controller itself.
"""

from __future__ import annotations

import argparse
import os
import sys

from k8slab import errors
from k8slab.lab.goprograms import go_program
from k8slab.operators.runner import CONTROLLERS, GO_PROGRAMS, command


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m k8slab.operators", description="Run one Foo controller.")
    p.add_argument("name", nargs="?", choices=CONTROLLERS)
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    p.add_argument("--namespace", default="")
    p.add_argument("--kube-api-qps", type=float, default=None)
    p.add_argument("--kube-api-burst", type=int, default=None)
    p.add_argument("--leader-elect", action="store_true")
    p.add_argument("--build", action="store_true", help="only build the Go program (if it is one); print its path")
    p.add_argument("--list", action="store_true", help="list the controllers and the commands they run")
    args = p.parse_args(argv)
    try:
        if args.list or not args.name:
            for name in CONTROLLERS:
                what = f"Go: {GO_PROGRAMS[name].name}" if name in GO_PROGRAMS else f"python -m {command(name, 'K')[2]}"
                print(f"{name:<20} {what}")
            return 0
        if args.build:
            if args.name in GO_PROGRAMS:
                print(go_program(GO_PROGRAMS[args.name]))
            return 0
        if not args.kubeconfig:
            print("error: --kubeconfig (or $KUBECONFIG) is required", file=sys.stderr)
            return 2
        cmd = command(args.name, args.kubeconfig, namespace=args.namespace, qps=args.kube_api_qps,
                      burst=args.kube_api_burst, leader_elect=args.leader_elect)
    except errors.K8sLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.execv(cmd[0], cmd)
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
