"""Where a lab's parts are: the one thing a component gets to know about its lab.

A `Layout` is frozen and small: the state directory, the ports chosen at
start, the profile, the number of fake nodes and the start timeout, and what
follows from them (the API server's URL, a TLS context for a certificate in
`pki/`, a component's log). Components, their hooks and the cluster extras
take a Layout, never the `Lab`, so they cannot start, stop or re-read anything.

Ports are free loopback ports chosen when the lab starts (as envtest and
kwokctl choose them), so two labs never clash.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from pathlib import Path
from typing import Mapping

import psutil

from ..errors import LabNotRunning, PortInUse

__all__ = ["LOOPBACK", "Layout", "check_port_free", "free_port", "port_owner"]

LOOPBACK = "127.0.0.1"


@dataclasses.dataclass(frozen=True)
class Layout:
    """A lab's directory, ports and settings, as its components see them."""

    name: str
    dir: Path
    profile: str
    nodes: int
    ports: Mapping[str, Mapping[str, int]]  # component -> port name -> port
    timeout: float  # seconds a component, or the last waits of `up`, may take
    audit: bool = False  # kube-apiserver writes an audit log (audit.py)

    def port(self, component: str, which: str) -> int:
        try:
            return int(self.ports[component][which])
        except KeyError:
            raise LabNotRunning(f"lab {self.name!r} has no {component} {which} port; is it up?") from None

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.port('kube-apiserver', 'secure')}"

    @property
    def pki(self) -> Path:
        return self.dir / "pki"

    def log(self, component: str) -> Path:
        return self.dir / "logs" / f"{component}.log"

    def tls(self, identity: str = "admin") -> ssl.SSLContext:
        """Trusting the lab's CA and presenting `pki/<identity>.crt` (the admin's by default)."""
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / f"{identity}.crt"), str(self.pki / f"{identity}.key"))
        return ctx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_owner(port: int) -> str:
    """Describe who listens on a loopback port ('' if nobody does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
            return ""
        except OSError:
            pass
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                try:
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                except psutil.Error:
                    return f"pid {conn.pid}"
    except psutil.Error:
        pass
    return "another process"


def check_port_free(port: int, what: str) -> None:
    owner = port_owner(port)
    if owner:
        raise PortInUse(
            f"port {port} on {LOOPBACK}, asked for {what}, is already in use by {owner}; "
            "choose another port, or leave it out and the lab picks a free one"
        )
