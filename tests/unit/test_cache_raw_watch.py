"""RawWatch's reading of a watch stream, on a stand-in HTTP response (no server).

Mirrors the decode-error paths of apimachinery's `pkg/watch/streamwatcher.go`:
a line that is not a watch event is reported once as an ERROR event and ends
the watch; a stream that stops inside a line ends the watch quietly.
"""

from __future__ import annotations

import json

from k8slab.cache.listwatch import RawWatch


class Response:
    """Just what RawWatch uses of a urllib3 HTTPResponse."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    def stream(self, amt=None, decode_content=True):
        yield from self.chunks

    def close(self):
        self.closed = True

    def release_conn(self):
        pass

    def shutdown(self):
        pass


def event(kind: str, name: str) -> bytes:
    return json.dumps({"type": kind, "object": {"metadata": {"name": name}}}).encode()


def test_events_split_across_chunks_arrive_whole_and_a_last_line_without_newline_counts():
    a, b = event("ADDED", "a"), event("MODIFIED", "b")
    w = RawWatch(Response(a[:7], a[7:] + b"\n" + b[:3], b[3:]))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in w] == [("ADDED", "a"), ("MODIFIED", "b")]


def test_a_line_that_is_not_an_event_is_reported_once_and_ends_the_watch():
    response = Response(event("ADDED", "a") + b"\n" + b"not json\n" + event("ADDED", "b") + b"\n")
    got = list(RawWatch(response))
    assert [e["type"] for e in got] == ["ADDED", "ERROR"]
    status = got[1]["object"]
    assert (status["code"], status["reason"]) == (500, "InternalError")
    assert status["message"].startswith("unable to decode an event from the watch stream")
    assert response.closed


def test_a_stream_cut_inside_its_last_line_just_ends():
    whole = event("ADDED", "a")
    got = list(RawWatch(Response(whole + b"\n" + event("ADDED", "b")[:10])))
    assert [e["object"]["metadata"]["name"] for e in got] == ["a"]
