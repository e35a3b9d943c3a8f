"""Watch streams: the `Watch` interface, its events, and the one decoder of a watch response.

    w = StreamWatcher(response)           # an open watch response (urllib3), not yet read
    for event in w:                       # {"type": "ADDED", "object": {...}}, as the server sent it
        ...
    w.stop()                              # from any thread; a blocked read returns at once

Mirrors apimachinery v0.37.2 `pkg/watch`: `watch.go` (`Interface`, `EventType`,
`Event`) and `streamwatcher.go` (`StreamWatcher`), with the line framing of
client-go's `rest/watch/decoder.go`; and metav1's `InitialEventsAnnotationKey`.
Every watch k8slab reads goes through `StreamWatcher`: the chain's typed
`Watcher` (rest_client.py) is a view over it, and so is every `ListWatch`.

Kept:
- `Watch`, the interface a reflector consumes: iterate it for events, `stop()`
  it from any thread, more than once.
- Events exactly as the server sent them, one line parsed and nothing else
  (the hot path of every informer), by orjson: twice as fast as `json.loads`,
  and it keeps one copy of each dict key across events (its key cache). With
  `json.loads`, which shares keys only within one document, every object of a
  streamed list would carry its own ~30 key strings (+1.7 KiB per ConfigMap
  against the same objects from one LIST); with orjson a streamed list takes
  the memory of a parsed LIST. What orjson refuses and `json` reads (NaN,
  lone surrogates; no API server sends them) is read by `json`. Like Go's
  unstructured decoding, an integer beyond 64 bits becomes a float.
- StreamWatcher's endings. The server closing the stream ends the iteration; so
  does a connection that breaks (reset, EOF, timeout: Go's "probable EOF", which
  is all urllib3 reports mid-stream), quietly. A last line without its newline
  still counts; one cut short is an unexpected EOF and just ends. A line that is
  not a watch event (not JSON, no known type, no object) is reported once as an
  ERROR event carrying a 500 Status, then the watch stops. Ending stops the
  watch, as `receive`'s deferred `Stop` does.
- `stop()` once, under a lock: a read blocked in another thread is woken by
  shutting the socket down, and that thread closes the connection.
- `status_error(event)`: the `APIError` an ERROR event's Status stands for
  (apimachinery's `errors.FromObject`).
Left out: channels (iterate instead; a loop that breaks out early can iterate
again and resumes), the `Reporter` and `Decoder` seams, protobuf/CBOR framing,
`Broadcaster`, filters, `FakeWatcher` (`k8slab.cache.testing` plays the server).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import deque
from typing import Any, Iterator, Protocol, TypedDict

import orjson

from k8slab import errors

__all__ = [
    "ADDED", "BOOKMARK", "DELETED", "ERROR", "EVENT_TYPES", "INITIAL_EVENTS_END", "MODIFIED",
    "Event", "StreamWatcher", "Watch", "decode_event", "status_error",
]

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
EVENT_TYPES = frozenset((ADDED, MODIFIED, DELETED, BOOKMARK, ERROR))

# The annotation on the BOOKMARK that ends a streaming list's initial events
# (metav1.InitialEventsAnnotationKey; the value is "true").
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class Event(TypedDict):
    """One watch event: its type (`EVENT_TYPES`) and the object (for ERROR, a Status)."""

    type: str
    object: Any


class Watch(Protocol):
    """An open watch (apimachinery's `watch.Interface`): iterate it for events; `stop()` ends it.

    Iterating yields `Event` dicts in server order, where the object is the
    parsed object (for ERROR, a `Status` dict with its HTTP `code`).
    Iteration blocks until the next event and ends (StopIteration) when the
    server closes the stream, its timeout passes, or `stop()` is called.
    `stop()` must be safe to call from another thread, more than once, and
    must make a blocked iteration end promptly.
    """

    def __iter__(self) -> Iterator[Event]: ...
    def stop(self) -> None: ...


def decode_event(line: bytes) -> Event:
    """One line of a watch stream as its event; ValueError says why not.

    The reason names a kind and a position, never the line's text (it may hold secrets).
    """
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:  # what orjson refuses and json reads; or json's words for what is wrong
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{exc.msg} at char {exc.pos}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"invalid {exc.encoding} at byte {exc.start}") from None
    if type(event) is not dict:
        raise ValueError("the line is JSON but not an object")
    if event.get("type") not in EVENT_TYPES:
        raise ValueError("got invalid watch event type")
    if type(event.get("object")) is not dict:
        raise ValueError(f"the {event['type']} event has no object")
    return event  # type: ignore[return-value]


def status_error(event: Event, context: str = "watch") -> errors.APIError:
    """The `APIError` an ERROR event stands for (410 -> `Gone`, 429 -> `TooManyRequests`)."""
    status = event.get("object") or {}
    return errors.APIError.from_status(int(status.get("code") or 500), status, context)


class StreamWatcher(contextlib.AbstractContextManager["StreamWatcher"]):
    """The events of one watch response, decoded line by line as they arrive (a `Watch`).

    `response` is an open urllib3 `HTTPResponse` (`stream`, `shutdown`,
    `close`, `release_conn`); `what` names the watch in logs and reprs.
    """

    def __init__(self, response: Any, what: str = "watch") -> None:
        self._response = response
        self._what = what
        self._lock = threading.Lock()
        self._chunks: Iterator[bytes] | None = None
        self._lines: deque[bytes] = deque()  # complete lines not yet handed out
        self._rest = b""  # an incomplete line, waiting for the next chunk
        self._stopped = False
        self._in_read = False  # a thread is (maybe) blocked reading the socket
        self._closed = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def __iter__(self) -> "StreamWatcher":
        return self

    def __next__(self) -> Event:
        while self._stopped or not self._lines:
            if self._stopped or not self._read_chunk():
                self.stop()
                raise StopIteration
        try:
            return decode_event(self._lines.popleft())
        except ValueError as exc:  # as StreamWatcher: report it, then end the watch
            self.stop()
            return {"type": ERROR, "object": errors.undecodable_watch_status(str(exc))}

    def _read_chunk(self) -> bool:
        """Read one chunk into complete lines; False once the stream has ended."""
        with self._lock:
            if self._stopped:
                return False
            self._in_read = True
            if self._chunks is None:
                self._chunks = self._response.stream(amt=None, decode_content=True)
        try:
            chunk = next(self._chunks)
        except StopIteration:
            chunk = None
        except Exception as exc:  # reset, EOF mid-chunk, timeout, or the socket shut down by stop()
            if not self._stopped:
                log.debug("%s: the stream broke, ending the watch: %s", self._what, exc)
            chunk = None
        finally:
            with self._lock:
                self._in_read = False
        if chunk is None:
            self._end_of_stream()
            return bool(self._lines)
        lines = chunk.split(b"\n")
        if self._rest:
            lines[0] = self._rest + lines[0]
        self._rest = lines.pop()
        self._lines.extend(line for line in lines if line.strip())
        return True

    def _end_of_stream(self) -> None:
        """A last line without its newline still counts; one cut short is just the end."""
        rest, self._rest = self._rest, b""
        if not rest.strip() or self._stopped:
            return
        try:
            json.loads(rest)
        except ValueError:  # io.ErrUnexpectedEOF
            log.debug("%s: the stream ended inside an event, ending the watch", self._what)
            return
        self._lines.append(rest)

    def stop(self) -> None:
        """End the watch; safe from any thread, any number of times."""
        with self._lock:
            if self._stopped:
                in_read = False
            else:
                self._stopped = True
                in_read = self._in_read
        if in_read:
            try:  # wake the reader blocked in recv(); it closes the connection itself
                self._response.shutdown()
            except (AttributeError, OSError, RuntimeError, ValueError):
                pass  # already released or closed
        else:
            self._close()

    def _close(self) -> None:
        with self._lock:
            if self._closed or self._in_read:
                return
            self._closed = True
        for release in (self._response.close, self._response.release_conn):
            try:  # never back to the pool: the stream was cut mid-way
                release()
            except Exception:  # pragma: no cover - closing a broken socket
                pass

    def __exit__(self, *exc: object) -> None:  # `with` returns the watch itself
        self.stop()

    def __repr__(self) -> str:
        return f"<StreamWatcher {self._what} ({'stopped' if self._stopped else 'open'})>"
