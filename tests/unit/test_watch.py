"""StreamWatcher's reading of a watch stream, on a stand-in HTTP response (no server).

Mirrors the decode-error paths of apimachinery's `pkg/watch/streamwatcher.go`:
a line that is not a watch event is reported once as an ERROR event and ends
the watch; a stream that stops inside a line, or breaks, ends the watch quietly.
"""

from __future__ import annotations

import json

import pytest

from k8slab import errors
from k8slab.watch import ERROR, StreamWatcher, decode_event, status_error


class Response:
    """Just what StreamWatcher uses of a urllib3 HTTPResponse; `broken` ends the stream with an error."""

    def __init__(self, *chunks: bytes, broken: Exception | None = None) -> None:
        self.chunks = chunks
        self.broken = broken
        self.closed = False

    def stream(self, amt=None, decode_content=True):
        yield from self.chunks
        if self.broken is not None:
            raise self.broken

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
    w = StreamWatcher(Response(a[:7], a[7:] + b"\n" + b[:3], b[3:]))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in w] == [("ADDED", "a"), ("MODIFIED", "b")]


def test_a_line_that_is_not_an_event_is_reported_once_and_ends_the_watch():
    response = Response(event("ADDED", "a") + b"\n" + b"not json\n" + event("ADDED", "b") + b"\n")
    got = list(StreamWatcher(response))
    assert [e["type"] for e in got] == ["ADDED", "ERROR"]
    status = got[1]["object"]
    assert (status["code"], status["reason"]) == (500, "InternalError")
    assert status["message"].startswith("unable to decode an event from the watch stream")
    assert response.closed


def test_a_stream_cut_inside_its_last_line_just_ends():
    whole = event("ADDED", "a")
    got = list(StreamWatcher(Response(whole + b"\n" + event("ADDED", "b")[:10])))
    assert [e["object"]["metadata"]["name"] for e in got] == ["a"]


def test_a_broken_connection_ends_the_watch_quietly_and_stops_it():
    response = Response(event("ADDED", "a") + b"\n", broken=ConnectionResetError("reset by peer"))
    w = StreamWatcher(response)
    assert [e["type"] for e in w] == ["ADDED"]  # no ERROR event: a probable EOF, as in Go
    assert w.stopped and response.closed


@pytest.mark.parametrize(
    "line, why",
    [
        pytest.param(b"<html>s3cr3t</html>", "Expecting value at char 0", id="not JSON: a kind and a position"),
        pytest.param(b"[1, 2]", "the line is JSON but not an object", id="JSON but not an object"),
        pytest.param(b'{"type": "CHANGED", "object": {}}', "got invalid watch event type", id="an unknown type"),
        pytest.param(b'{"type": "ADDED"}', "the ADDED event has no object", id="no object"),
        pytest.param(b"\xff\xfe\x00", "invalid", id="not text"),
    ],
)
def test_decode_event_says_why_a_line_is_not_an_event_without_quoting_it(line, why):
    with pytest.raises(ValueError, match=why) as caught:
        decode_event(line)
    assert "s3cr3t" not in str(caught.value)


def test_stop_before_iterating_closes_the_response():
    class Unread:
        closed = released = False

        def close(self):
            self.closed = True

        def release_conn(self):
            self.released = True

    response = Unread()
    w = StreamWatcher(response)
    w.stop()
    w.stop()  # twice is fine
    assert response.closed and response.released
    assert list(w) == []


def test_status_error_gives_the_error_an_error_event_stands_for():
    gone = {"type": ERROR, "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}
    err = status_error(gone, "watch of pods")
    assert isinstance(err, errors.Gone) and str(err).startswith("watch of pods: too old")
    assert type(status_error({"type": ERROR, "object": {}})) is errors.InternalError  # no code: a 500


# -- the chain's typed view over it -----------------------------------------------------------


def test_an_object_that_does_not_decode_into_the_model_raises_and_stops_the_typed_watch():
    from k8slab.chain import RESTClient
    from k8slab.chain.testing import mock_api_client

    body = json.dumps({"type": "ADDED", "object": {"metadata": {"name": 5}, "spec": 7}}).encode() + b"\n"
    watcher = RESTClient(mock_api_client(lambda req: (200, body))).get().resource("pods").watch(into="V1Pod")
    with pytest.raises(errors.UsageError, match="does not decode into V1Pod"):
        next(iter(watcher))
    assert watcher.stopped


def test_decoded_events_share_their_dict_keys():
    """orjson's key cache: two events' objects hold the same key strings, as objects of one LIST do."""
    from k8slab.watch import decode_event

    a = decode_event(b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}}')
    b = decode_event(b'{"type":"ADDED","object":{"metadata":{"name":"b","resourceVersion":"2"}}}')
    (ka, kb) = (next(k for k in e["object"]["metadata"] if k == "resourceVersion") for e in (a, b))
    assert ka is kb


def test_what_orjson_refuses_and_json_reads_is_still_read():
    from k8slab.watch import decode_event

    event = decode_event(b'{"type":"MODIFIED","object":{"metadata":{},"x":NaN}}')
    assert event["type"] == "MODIFIED" and event["object"]["x"] != event["object"]["x"]  # NaN
