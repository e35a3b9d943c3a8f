"""The kubelet gate's checks and its one repair, without a lab."""

from __future__ import annotations

import asyncio
import json

import pytest

from k8slab.lab.kubelet_gate import ALLOWED_COMMANDS, Gate, exit_status, refused, relay_exec_replies

EXEC = "/exec/ns/web/web?output=1&error=1"


def cmd(*argv: str) -> str:
    return EXEC + "".join(f"&command={a}" for a in argv)


@pytest.mark.parametrize("method, target, code, reason", [
    pytest.param("GET", "/containerLogs/ns/web/web?tailLines=1", 0, "", id="logs pass"),
    pytest.param("POST", "/portForward/ns/web", 0, "", id="port-forward passes"),
    pytest.param("GET", "/healthz", 0, "", id="healthz passes"),
    pytest.param("POST", cmd("echo", "hi"), 0, "", id="an allowed command passes"),
    pytest.param("POST", cmd("ls", "-l", "sub/dir"), 0, "", id="a relative path passes"),
    pytest.param("POST", cmd("sh", "-c", "id"), 403, "not 'sh'", id="a shell is refused"),
    pytest.param("POST", cmd("%2Fbin%2Fecho"), 403, "not '/bin/echo'", id="an absolute command is refused"),
    pytest.param("POST", cmd("cat", "%2Fetc%2Fpasswd"), 403, "'/etc/passwd' names a path outside", id="absolute arg"),
    pytest.param("POST", cmd("cat", "a%2F..%2F..%2Fb"), 403, "'a/../../b' names a path", id="a .. segment"),
    pytest.param("POST", cmd("ls", "--x=%2Froot"), 403, "'--x=/root' names a path", id="a path after ="),
    pytest.param("POST", cmd("ls", "~"), 403, "'~' names a path", id="home"),
    pytest.param("POST", EXEC, 403, "exec without a command", id="no command"),
    pytest.param("POST", cmd("cat") + "&input=1", 403, "without stdin and tty", id="stdin"),
    pytest.param("POST", cmd("ls") + "&tty=true", 403, "without stdin and tty", id="a tty"),
    pytest.param("GET", "/run/ns/web/web?cmd=ls", 403, "/run is not served here", id="run"),
    pytest.param("GET", "/attach/ns/web/web", 403, "/attach is not served here", id="attach"),
    pytest.param("GET", "/pods", 403, "/pods is not served here", id="pods"),
    pytest.param("GET", "/exec/../pods", 403, "not a plain kubelet path", id="dot-dot in the path"),
    pytest.param("GET", "/exec%2Fns", 403, "not a plain kubelet path", id="encoded slash"),
    pytest.param("GET", "//exec/ns/web/web", 403, "not a plain kubelet path", id="double slash"),
    pytest.param("POST", "/containerLogs/ns/web/web", 403, "only GET", id="logs by POST"),
    pytest.param("GET", "/containerLogs/ns/web/c?previous=true", 400,
                 'previous terminated container "c" in pod "web" not found', id="previous logs"),
])
def test_what_the_gate_lets_through(method, target, code, reason):
    got_code, why = refused(method, target)
    assert got_code == code
    assert reason in why
    assert bool(why) == bool(code)


def test_the_allow_list_names_only_commands_that_end_by_themselves():
    assert set(ALLOWED_COMMANDS).isdisjoint({"sh", "bash", "env", "sleep", "tail", "date", "hostname", "rm"})
    assert refused("POST", cmd("echo"), commands=("true",)) == (
        403, "the lab's Pods run no containers, so exec runs on this machine, and only these commands: true "
             "(not 'echo')")


def _internal_error(text: str) -> bytes:
    return json.dumps({"metadata": {}, "status": "Failure", "message": text, "reason": "InternalError",
                       "details": {"causes": [{"message": text}]}, "code": 500}).encode()


def test_kwoks_internal_error_for_an_exit_becomes_the_kubelets_exit_code_status():
    status = json.loads(exit_status(_internal_error(
        "error executing command in container: cmd wait: ls nope: exit status 2")))
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]


@pytest.mark.parametrize("payload", [
    pytest.param(b"exit status 2\n", id="stdout text"),
    pytest.param(b'{"metadata":{},"status":"Success"}', id="success"),
    pytest.param(_internal_error("error executing command in container: signal: killed"), id="a signal"),
    pytest.param(b"[1, 2]", id="JSON that is not a Status"),
])
def test_everything_else_passes_unchanged(payload):
    assert exit_status(payload) == payload


class _Collect:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass


def _frame(stream_id: int, data: bytes, flags: int = 0) -> bytes:
    return stream_id.to_bytes(4, "big") + bytes([flags]) + len(data).to_bytes(3, "big") + data


def _relay(incoming: bytes) -> bytes:
    async def go() -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(incoming)
        reader.feed_eof()
        out = _Collect()
        await relay_exec_replies(reader, out)
        return out.data

    return asyncio.run(go())


def test_the_relay_rewrites_only_stream_ones_data_and_fixes_the_frame_length():
    control = bytes([0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03]) + b"abc"  # SYN_REPLY-shaped
    stdout = _frame(3, _internal_error("cmd wait: exit status 7"))  # looks like it, but on stdout's stream
    error = _frame(1, _internal_error("cmd wait: false : exit status 1"), flags=1)
    out = _relay(control + stdout + error)
    assert out.startswith(control + stdout)
    rest = out[len(control + stdout):]
    assert rest[:5] == error[:5]  # same stream id and flags
    length = int.from_bytes(rest[5:8], "big")
    assert length == len(rest) - 8
    assert json.loads(rest[8:])["details"]["causes"][0]["message"] == "1"


def test_the_relay_passes_a_cut_frame_through():
    cut = _frame(1, b"0123456789")[:12]
    assert _relay(cut) == cut


class _Peer(_Collect):
    """The gate's side of a client connection: what it writes, and the client's certificate."""

    def __init__(self, cn: str) -> None:
        super().__init__()
        self.cn = cn

    def get_extra_info(self, name: str):
        return {"subject": ((("commonName", self.cn),),)} if name == "peercert" else None

    def close(self) -> None:
        pass


def _through_gate(request: bytes, kwok_answer: bytes, cn: str = "kube-apiserver-kubelet-client") -> tuple[bytes, bytes]:
    """(what the client got, what kwok got), with a stand-in kwok on a loopback port."""

    async def go() -> tuple[bytes, bytes]:
        got = bytearray()
        done = asyncio.Event()

        async def kwok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            got.extend(await reader.readuntil(b"\r\n\r\n"))
            writer.write(kwok_answer)
            writer.write_eof()  # answered; now read whatever else the gate sends until it closes
            got.extend(await reader.read())
            writer.close()
            done.set()

        server = await asyncio.start_server(kwok, "127.0.0.1", 0)
        async with server:
            client = asyncio.StreamReader()
            client.feed_data(request)
            client.feed_eof()
            peer = _Peer(cn)
            await Gate(server.sockets[0].getsockname()[1], ALLOWED_COMMANDS).handle(client, peer)
            if got or b"403" not in peer.data:
                await asyncio.wait_for(done.wait(), timeout=10)
        return peer.data, bytes(got)

    return asyncio.run(go())


def test_after_a_refused_upgrade_nothing_more_reaches_kwok():
    upgrade = b"POST /exec/ns/web/web?command=ls&output=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n"
    smuggled = b"POST /exec/ns/web/web?command=rm HTTP/1.1\r\n\r\n"
    answer, kwok_got = _through_gate(upgrade + smuggled, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno")
    assert answer.endswith(b"\r\n\r\nno")
    assert kwok_got.startswith(b"POST /exec/ns/web/web?command=ls") and b"command=rm" not in kwok_got


def test_a_plain_request_goes_once_with_connection_close():
    request = b"GET /containerLogs/ns/web/web HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET /pods HTTP/1.1\r\n\r\n"
    answer, kwok_got = _through_gate(request, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert answer.endswith(b"ok")
    assert b"Connection: close" in kwok_got and b"keep-alive" not in kwok_got and b"/pods" not in kwok_got


def test_a_client_that_is_not_the_api_server_never_reaches_kwok():
    answer, kwok_got = _through_gate(b"GET /healthz HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", cn="admin")
    assert answer.startswith(b"HTTP/1.1 403 Forbidden") and b"CN='admin'" in answer
    assert kwok_got == b""
