"""The `k8slab` command: the lab from a shell.

    k8slab up [--profile cluster|minimal] [--nodes N] [--port P] [--bin-dir DIR] [--audit]
    k8slab down | status | kubeconfig | env
    k8slab logs COMPONENT [--tail N]
    k8slab user NAME [--group G ...]
    k8slab build [--profile P]          build (or find) the binaries, start nothing
    k8slab setup                        the binaries built, JupyterLab quiet (Binder's postBuild)
    k8slab course [--headless]          the lab plus JupyterLab serving the course
    k8slab test [PYTEST ARGS]           every test and notebook, as CI runs them (options go to pytest)

Every command takes `--lab NAME` (default: $K8SLAB_LAB, else "default"), so
several labs can run side by side. Errors print one clear line (no traceback)
and exit 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .errors import K8sLabError, LabNotRunning, UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error becomes a k8slab UsageError with a hint."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # "argument --nodes: --nodes must be ..." -> "--nodes must be ..."
        head, _, rest = message.partition(": ")
        if head.startswith("argument ") and rest.startswith(head[len("argument "):].split("/")[0]):
            message = rest
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _positive_int(what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be at least 1, not {value}")
        return value

    return parse


def _port(text: str, lowest: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be a TCP port number, not {text!r}") from None
    if not lowest <= value < 65536:
        raise argparse.ArgumentTypeError(f"--port must be between {lowest} and 65535, not {value}")
    return value


def _jupyter_port(text: str) -> int:
    return _port(text, lowest=0)


def _parser() -> _Parser:
    p = _Parser(prog="k8slab", description="A real Kubernetes control plane on 127.0.0.1, and a course on client-go.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help: str) -> _Parser:
        cmd = sub.add_parser(name, help=help, description=help)
        cmd.add_argument("--lab", default=os.environ.get("K8SLAB_LAB", "default"), help="which lab (default: %(default)s)")
        return cmd

    up = add("up", "start the lab (or say it is running), print its kubeconfig")
    up.add_argument("--profile", default="cluster", help="cluster (default: etcd, apiserver, controller-manager, scheduler, kwok nodes) or minimal (etcd and apiserver)")
    up.add_argument("--nodes", type=_positive_int("--nodes"), default=3, help="fake nodes in the cluster profile (default 3)")
    up.add_argument("--port", type=_port, default=None, help="kube-apiserver's port (default: a free one)")
    up.add_argument("--bin-dir", default=None, help="use the binaries in this directory instead of building them")
    up.add_argument("--timeout", type=_positive_int("--timeout"), default=120, help="seconds each component may take to become ready")
    up.add_argument("--audit", action="store_true", help="record the API server's audit log (request metadata) in the lab's state directory")
    add("down", "stop the lab and delete its state")
    add("status", "components, pids, ports, uptime, memory")
    add("kubeconfig", "print the admin kubeconfig's path")
    add("env", "print the export KUBECONFIG=... line")
    logs = add("logs", "print a component's log")
    logs.add_argument("component")
    logs.add_argument("--tail", type=_positive_int("--tail"), default=None)
    user = add("user", "write a kubeconfig for another user (client certificate), print its path")
    user.add_argument("name")
    user.add_argument("--group", action="append", default=[], help="a group (certificate O); repeat for more")
    add("setup", "everything the course needs before it opens: the binaries built, JupyterLab's news prompt off")
    build = add("build", "build or find the lab's binaries; start nothing")
    build.add_argument("--profile", default="cluster")
    build.add_argument("--bin-dir", default=None)
    build.add_argument("--only", default=None, help="a comma-separated list of binaries (default: the profile's and kubectl)")
    course = add("course", "start the lab, then serve the course in JupyterLab")
    course.add_argument("--headless", action="store_true", help="run every notebook instead, print a summary")
    course.add_argument("--port", type=_jupyter_port, default=None,
                        help="JupyterLab's port (default: 8888 or the next free one; 0: any free port)")
    add("test", "run every test and notebook (what CI runs); other options go to pytest")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["test"]:  # everything but --lab goes to pytest as it is
            return _test(argv[1:])
        parser = _parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            where = f"k8slab {args.command}"
            raise UsageError(f"unknown option {' '.join(extra)} for `{where}` (see `{where} --help`)")
        return _run(args)
    except UsageError as exc:
        print(f"k8slab: error: {exc}", file=sys.stderr)
        return 2
    except K8sLabError as exc:
        print(f"k8slab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("k8slab: interrupted", file=sys.stderr)
        return 130


def _test(argv: list[str]) -> int:
    from .course import run_tests

    lab, rest, i = os.environ.get("K8SLAB_LAB", "default"), [], 0
    while i < len(argv):
        if argv[i] == "--lab" and i + 1 < len(argv):
            lab, i = argv[i + 1], i + 2
        elif argv[i].startswith("--lab="):
            lab, i = argv[i].split("=", 1)[1], i + 1
        elif argv[i] in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            rest.append(argv[i])
            i += 1
    return run_tests(rest, lab_name=lab)


def _run(args: argparse.Namespace) -> int:
    from .lab import Lab

    cmd = args.command
    if cmd == "up":
        lab = Lab(args.lab, profile=args.profile, nodes=args.nodes, apiserver_port=args.port,
                  bin_dir=args.bin_dir, start_timeout=float(args.timeout), audit=args.audit)
        lab.up()
        return 0
    if cmd == "setup":  # Binder's postBuild, a dev container's postCreateCommand
        from .course import quiet_jupyterlab
        from .lab.build import resolve_binaries
        from .lab.components import binaries_for

        resolve_binaries(binaries_for("cluster", kubectl=True))
        quiet_jupyterlab()
        print("k8slab: set up: the lab's binaries are built and JupyterLab will not ask about news")
        return 0
    if cmd == "build":
        from .lab.build import resolve_binaries
        from .lab.components import binaries_for

        names = args.only.split(",") if args.only else binaries_for(args.profile, kubectl=True)
        for name, path in resolve_binaries(names, bin_dir=args.bin_dir).items():
            print(f"{name}: {path}")
        return 0
    if cmd == "course":
        from .course import run_course

        return run_course(lab_name=args.lab, headless=args.headless, port=args.port)
    lab = Lab(args.lab, progress=print)
    if cmd == "down":
        lab.down()
        return 0
    if cmd in ("status", "kubeconfig", "env") and not lab.running:
        if lab.dir.joinpath("state.json").exists():
            raise LabNotRunning(
                f"lab {args.lab!r} is not running (its state in {lab.dir} is stale); "
                "`k8slab up` cleans it up and starts afresh"
            )
        raise LabNotRunning(f"no lab named {args.lab!r} is running; start one with `k8slab up`")
    if cmd == "status":
        _print_status(lab)
    elif cmd == "kubeconfig":
        print(lab.kubeconfig)
    elif cmd == "env":
        print(lab.export_line())
    elif cmd == "logs":
        print(lab.logs(args.component, tail=args.tail))
    elif cmd == "user":
        path = lab.user(args.name, groups=args.group)
        print(path)
    return 0


def _print_status(lab) -> None:
    rows = lab.status()
    print(f"lab {lab.name!r} ({lab.profile}), server {lab.server}, kubeconfig {lab.kubeconfig}")
    headers = ["component", "running", "pid", "ports", "uptime_s", "rss_mb"]
    table = [headers] + [["" if r[h] is None else str(r[h]) for h in headers] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    total = sum(r["rss_mb"] or 0 for r in rows)
    print(f"total RSS: {total:.0f} MB")
