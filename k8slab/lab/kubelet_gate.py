"""The kubelet gate: what kube-apiserver reaches when it wants a Pod's logs, exec or port-forward.

    python kubelet_gate.py --port P --kwok-port K --cert C --key K --ca CA --commands echo,ls,...

For `kubectl logs`, `exec` and `port-forward` the API server does not touch
the Pod: it opens a connection to the Pod's node, to the kubelet's port
(`status.daemonEndpoints.kubeletEndpoint.Port` at the node's InternalIP), and
relays the stream. A real kubelet serves `/containerLogs/...`, `/exec/...`
and `/portForward/...` there over TLS, and authenticates the API server by
its client certificate (`--kubelet-client-certificate` on the API server's
side). kwok, which plays every node's kubelet, serves the same paths, but
checks no certificate and runs an exec's command on this machine. This gate
stands in front of it on the nodes' kubelet port:

- TLS with a serving certificate from the lab's CA (the API server verifies it
  with `--kubelet-certificate-authority`), and a client certificate required:
  signed by the lab's CA, with CN `kube-apiserver-kubelet-client`;
- only four paths: `/containerLogs/`, `/portForward/`, `/exec/` and `/healthz`;
  anything else (`/run/`, `/attach/`, `/pods`, ... also through `nodes/proxy`)
  is refused, as is any path with `%`, `..` or `//` in it;
- an exec's command must be one of the allow-listed names (bare, no path), no
  argument may name a path outside the Pod's working directory (one that
  starts with `/` or `~`, or contains a `..` segment, also after an `=`), and
  there is no stdin and no tty (see `refused`);
- then it relays the request to kwok's own port, and kwok's answer back; only
  once kwok has answered `101 Switching Protocols` do bytes flow both ways (the
  SPDY or WebSocket stream of one exec or port-forward). Any other request
  goes once, as GET or HEAD with `Connection: close`, so that no second,
  unchecked request can ride on a kept-alive or a refused connection;
- one repair on the way back: kwok v0.8.0 wraps a command's exit error before
  handing it to the streaming library (`pkg/utils/exec/exec.go`), whose type
  assertion (`k8s.io/cri-streaming` `remotecommand/exec.go`) then misses it,
  so a command that exits 2 comes back as an `InternalError` Status instead of
  the kubelet's `NonZeroExitCode` one, which is what gives `kubectl exec` its
  exit code and the Python client its `returncode`. The gate rewrites that one
  Status: on the exec's SPDY connection it is the DATA on stream 1 (client-go's
  `remotecommand` creates the error stream first), so no header is decoded.

Kept from the kubelet: TLS, client-certificate authentication, the paths.
Left out: authorization (a kubelet asks the API server with a
SubjectAccessReview; the gate accepts one identity), `/run`, `/attach`,
`/metrics`, `/stats`.

Only the standard library: the lab runs this file as a script, so it starts
in a few hundredths of a second without importing k8slab.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import sys
import time
import urllib.parse

API_SERVER_CN = "kube-apiserver-kubelet-client"

# Commands without side effects whatever their arguments (no shell, nothing
# that runs another program, writes a file or sets the clock), so that a
# lesson's `kubectl exec` cannot harm the machine it really runs on, and that
# end by themselves (no `sleep`, no `tail -f`): kwok does not stop a command
# when its client goes away.
ALLOWED_COMMANDS = ("cat", "echo", "false", "head", "ls", "printenv", "pwd", "true", "uname")

ROUTES = ("containerLogs", "exec", "healthz", "portForward")

_LEAVES_DIR = re.compile(r"(^|=)[/~]|(^|[/=])\.\.(/|$)")


def refused(method: str, target: str, commands: tuple[str, ...] = ALLOWED_COMMANDS) -> tuple[int, str]:
    """The HTTP code and reason with which the gate refuses this request line ((0, '') to let it through)."""
    path, _, raw_query = target.partition("?")
    query = urllib.parse.parse_qs(raw_query)
    if "%" in path or ".." in path or "//" in path or not path.startswith("/"):
        return 403, f"path {path!r} is not a plain kubelet path"
    route = path[1:].split("/", 1)[0]
    if route not in ROUTES:
        return 403, f"/{route} is not served here; the lab's nodes serve only {', '.join('/' + r for r in ROUTES)}"
    if route == "exec":
        if {"1", "true"} & set(query.get("input", []) + query.get("tty", [])):
            return 403, ("exec without stdin and tty only: kwok v0.8.0 never closes a command's standard input, "
                         "so a command that reads it would never end")
        why = refused_command(query.get("command", []), commands)
        return (403, why) if why else (0, "")
    if route in ("containerLogs", "healthz") and method not in ("GET", "HEAD"):
        return 403, f"{method} {path}: only GET"
    if route == "containerLogs" and {"1", "true"} & set(query.get("previous", [])):
        pod, container = (path.split("/") + ["", "", "", ""])[3:5]
        return 400, (f'previous terminated container "{container}" in pod "{pod}" not found '
                     "(a lab Pod's containers never restart)")
    return 0, ""


def refused_command(argv: list[str], commands: tuple[str, ...] = ALLOWED_COMMANDS) -> str:
    """Why the gate refuses to exec `argv` ('' if it may run)."""
    if not argv:
        return "exec without a command"
    if argv[0] not in commands:
        return (f"the lab's Pods run no containers, so exec runs on this machine, and only these commands: "
                f"{', '.join(commands)} (not {argv[0]!r})")
    for arg in argv[1:]:
        if _LEAVES_DIR.search(arg):
            return f"argument {arg!r} names a path outside the Pod's working directory"
    return ""


def exit_status(payload: bytes) -> bytes:
    """kwok's InternalError for a command that exited N, as the kubelet's NonZeroExitCode Status."""
    try:
        status = json.loads(payload)
    except ValueError:
        return payload
    found = re.search(r"exit status (\d+)", str(status.get("message", ""))) if (
        isinstance(status, dict) and status.get("reason") == "InternalError") else None
    if not found:
        return payload
    code = found.group(1)
    return json.dumps({
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "details": {"causes": [{"reason": "ExitCode", "message": code}]},
    }, separators=(",", ":")).encode()


async def relay_exec_replies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """kwok -> API server once an exec is upgraded: SPDY frames, stream 1's data repaired.

    A SPDY frame is 8 bytes of header and `length` bytes of data; the header's
    first 4 bytes are a data frame's stream id (a control frame sets the top bit).
    """
    while True:
        header = b""
        try:
            header = await reader.readexactly(8)
            data = await reader.readexactly(int.from_bytes(header[5:8], "big"))
        except asyncio.IncompleteReadError as end:
            writer.write(header + end.partial)
            return
        if int.from_bytes(header[:4], "big") == 1:
            data = exit_status(data)
            header = header[:5] + len(data).to_bytes(3, "big")
        writer.write(header + data)
        await writer.drain()


def _headers(head: bytes) -> tuple[str, str, dict[str, str], list[str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
    fields = [line for line in lines[1:] if line]
    headers = {}
    for line in fields:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers, fields


def _answer(code: int, reason: str, text: str) -> bytes:
    body = (text + "\n").encode()
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def _log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


class Gate:
    def __init__(self, kwok_port: int, commands: tuple[str, ...]) -> None:
        self.kwok_port = kwok_port
        self.commands = commands

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subject = dict(pair[0] for pair in (writer.get_extra_info("peercert") or {}).get("subject", ()))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        method, target, headers, fields = _headers(head[:-4])
        who = subject.get("commonName", "")
        code, why = (0, "") if who == API_SERVER_CN else (403, f"client certificate CN={who!r} is not {API_SERVER_CN!r}")
        code, why = (code, why) if code else refused(method, target, self.commands)
        upgrade = headers.get("upgrade", "") if "upgrade" in headers.get("connection", "").lower() else ""
        if not code and not upgrade and method not in ("GET", "HEAD"):
            code, why = 403, f"{method} without an upgrade: only GET and HEAD are relayed"
        _log(f"{'refused' if why else 'relayed'} {method} {target}{f' ({upgrade})' if upgrade else ''}"
             f"{': ' + why if why else ''}")
        if code:
            writer.write(_answer(code, {400: "Bad Request", 403: "Forbidden"}[code], why))
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.kwok_port)
        try:
            if not upgrade:  # one request per connection: nothing unchecked rides along
                fields = [f for f in fields if f.split(":")[0].strip().lower() not in ("connection", "keep-alive")]
                fields.append("Connection: close")
            request = f"{method} {target} HTTP/1.1\r\n" + "".join(f + "\r\n" for f in fields) + "\r\n"
            up_writer.write(request.encode("latin-1"))
            await up_writer.drain()
            reply = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), timeout=60)
            writer.write(reply)
            if not (upgrade and reply.startswith(b"HTTP/1.1 101")):
                await _pump(up_reader, writer)  # an answer, and the connection ends: no bytes go back up
                return
            exec_spdy = upgrade.lower().startswith("spdy/") and target.startswith("/exec/")
            relays = [asyncio.ensure_future((relay_exec_replies if exec_spdy else _pump)(up_reader, writer)),
                      asyncio.ensure_future(_pump(reader, up_writer))]
            done, pending = await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            up_writer.close()


async def serve(args: argparse.Namespace) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["http/1.1"])
    commands = tuple(c for c in args.commands.split(",") if c)
    gate = Gate(args.kwok_port, commands)
    server = await asyncio.start_server(gate.handle, "127.0.0.1", args.port, ssl=ctx)
    _log(f"kubelet gate on 127.0.0.1:{args.port} -> kwok on 127.0.0.1:{args.kwok_port}; exec allows: {', '.join(commands)}")
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--kwok-port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--commands", default=",".join(ALLOWED_COMMANDS))
    args = p.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
