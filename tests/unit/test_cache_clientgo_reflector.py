"""client-go v0.37.2's reflector scenarios, ported: reflector_test.go and reflector_watchlist_test.go.

Each test names the Go test it ports. `ScriptedListerWatcher` is the Go tests'
`fakeListWatcher`: its watch is an unbuffered `ScriptedWatch` (an event is
handed over only when the reflector reads it, as on Go's unbuffered channel),
and a driver thread plays the events, then "cancels" (sets stop) or stops and
recreates the watch after a given event. Backoffs run on a FakeClock that the
test steps; nothing waits on real time to prove that something did not happen.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.cache.reflector import Reflector
from k8slab.cache.reflector_watch import StopRequested, handle_any_watch, is_watch_error_retriable
from k8slab.cache.store import new_store
from k8slab.cache.testing import FakeSource, config_map
from k8slab.watch import ADDED, BOOKMARK, DELETED, ERROR, INITIAL_EVENTS_END, MODIFIED
from tests.unit._polling import WAIT, eventually, step_until


def pod(name: str, rv: str, **spec: Any) -> dict[str, Any]:
    """client-go's makePod: name, RV, uid."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "resourceVersion": rv, "uid": name},
            "spec": dict(spec)}


def bookmark(rv: str, end: str | None = "true") -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": rv}
    if end is not None:
        metadata["annotations"] = {INITIAL_EVENTS_END: end}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


class ScriptedWatch:
    """An unbuffered watch: `action` returns once the reader took the event; `stop` ends it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: deque[dict[str, Any]] = deque()
        self._sent = self._taken = 0
        self.stopped = False
        self.stops = 0

    def action(self, kind: str, obj: Any) -> None:
        with self._cond:
            if self.stopped:
                return
            self._pending.append({"type": kind, "object": obj})
            self._sent += 1
            target = self._sent
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._taken >= target or self.stopped, WAIT)

    def __iter__(self) -> "ScriptedWatch":
        return self

    def __next__(self) -> dict[str, Any]:
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self.stopped)
            if self.stopped:
                raise StopIteration  # a closed channel: what was not read is gone
            self._taken += 1
            self._cond.notify_all()
            return self._pending.popleft()

    def stop(self) -> None:
        with self._cond:
            self.stops += 1
            self.stopped = True
            self._cond.notify_all()


class ScriptedListerWatcher:
    """client-go's fakeListWatcher (reflector_watchlist_test.go)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop_event = stop
        self.lock = threading.Lock()
        self.watcher = ScriptedWatch()
        self.list_counter = self.watch_counter = 0
        self.close_after_watch_requests = self.close_after_list_requests = 0
        self.request_options: list[dict[str, Any]] = []
        self.custom_list_response: dict[str, Any] | None = None
        self.watch_options_predicate: Callable[[dict[str, Any]], None] | None = None

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        self.list_counter += 1
        self.request_options.append(dict(options))
        if self.list_counter == self.close_after_list_requests:
            self.stop_event.set()
        if self.custom_list_response is not None:
            return self.custom_list_response
        raise errors.UsageError("not implemented")

    def watch(self, options: dict[str, Any]) -> ScriptedWatch:
        self.watch_counter += 1
        self.request_options.append(dict(options))
        if self.watch_counter == self.close_after_watch_requests:
            self.stop_event.set()
        if self.watch_options_predicate is not None:
            self.watch_options_predicate(options)
        with self.lock:
            return self.watcher

    def stop_and_recreate_watch(self) -> None:
        with self.lock:
            self.watcher.stop()
            self.watcher = ScriptedWatch()

    def current(self) -> ScriptedWatch:
        with self.lock:
            return self.watcher


def normalized(options: dict[str, Any]) -> dict[str, Any]:
    """A request's options as Go's ListOptions compare: unset ("") fields absent, the timeout only present."""
    out = {k: v for k, v in options.items() if v not in ("", None, False)}
    if "timeout_seconds" in out:
        out["timeout_seconds"] = "set"
    return out


STREAM = {"send_initial_events": True, "allow_watch_bookmarks": True, "resource_version_match": "NotOlderThan",
          "timeout_seconds": "set"}


def watch_from(rv: str) -> dict[str, Any]:
    return {"allow_watch_bookmarks": True, "resource_version": rv, "timeout_seconds": "set"}


FIRST_LIST = {"resource_version": "0", "limit": 500}


def stateful(*outcomes: Exception | None) -> Callable[[dict[str, Any]], None]:
    """A watch predicate raising the given errors on successive calls (None: let it through)."""
    pending = deque(outcomes)

    def predicate(options: dict[str, Any]) -> None:
        outcome = pending.popleft() if pending else None
        if outcome is not None:
            raise outcome

    return predicate


def invalid_streaming(options: dict[str, Any]) -> None:
    if options.get("send_initial_events"):
        raise errors.APIError.from_status(422, errors.new_status(422, "Invalid", "streaming is not allowed"))


def dummy_streaming_error(options: dict[str, Any]) -> None:
    if options.get("send_initial_events"):
        raise errors.UsageError("dummy error")


POD_LIST = {"metadata": {"resourceVersion": "1"}, "items": [pod("p1", "1")]}

WATCH_LIST = [
    pytest.param(dict(events=[(ADDED, pod("p1", "1"))], close_after_events=1, watches=1, requests=[STREAM]),
                 id="the reflector won't be synced if the bookmark event has not been received"),
    pytest.param(dict(use_watch_list=False, close_after_watch_requests=1, pod_list=POD_LIST, watches=1, lists=1,
                      requests=[FIRST_LIST, watch_from("1")], store=[("p1", "1")]),
                 id="the reflector uses the old LIST/WATCH semantics if the UseWatchList is turned off"),
    pytest.param(dict(predicate=dummy_streaming_error, pod_list=POD_LIST, close_after_events=1,
                      events=[(ADDED, pod("p2", "2"))], watches=2, lists=1,
                      requests=[STREAM, FIRST_LIST, watch_from("1")], store=[("p1", "1"), ("p2", "2")]),
                 id="returning any other error than apierrors.NewInvalid forces fallback"),
    pytest.param(dict(predicate=invalid_streaming, pod_list=POD_LIST, close_after_events=1,
                      events=[(ADDED, pod("p2", "2"))], watches=2, lists=1,
                      requests=[STREAM, FIRST_LIST, watch_from("1")], store=[("p1", "1"), ("p2", "2")]),
                 id="the reflector can fall back to old LIST/WATCH semantics when a server doesn't support streaming"),
    pytest.param(dict(close_after_events=3, events=[(ADDED, pod("p1", "1")), (ADDED, pod("p2", "2")),
                                                     (BOOKMARK, bookmark("2"))],
                      watches=1, requests=[STREAM], store=[("p1", "1"), ("p2", "2")]),
                 id="prove that the reflector is synced after receiving a bookmark event"),
    pytest.param(dict(close_after_events=6, events=[
        (ADDED, pod("p1", "1")), (ADDED, pod("p2", "2")), (MODIFIED, pod("p1", "3", activeDeadlineSeconds=12)),
        (ADDED, pod("p3", "4")), (DELETED, pod("p3", "5")), (BOOKMARK, bookmark("5"))],
        watches=1, requests=[STREAM], store=[("p1", "3"), ("p2", "2")]),
        id="check if Updates and Deletes events are propagated during streaming (until the bookmark is received)"),
    pytest.param(dict(predicate=stateful(errors.new_too_many_requests("busy, check again later"),
                                         errors.new_too_many_requests("busy, check again later")),
                      close_after_events=2, events=[(ADDED, pod("p1", "1")), (BOOKMARK, bookmark("2"))],
                      watches=3, requests=[STREAM, STREAM, STREAM], store=[("p1", "1")]),
                 id="checks if the reflector retries 429"),
    pytest.param(dict(stop_after_events=1, close_after_events=3, events=[
        (ADDED, pod("p1", "1")), (ADDED, pod("p1", "1")), (BOOKMARK, bookmark("1"))],
        watches=2, requests=[STREAM, STREAM], store=[("p1", "1")]),
        id="check if stopping a watcher before sync results in creating a new watch-list request"),
    pytest.param(dict(stop_after_events=4, close_after_events=5, events=[
        (ADDED, pod("p1", "1")), (ADDED, pod("p2", "2")), (BOOKMARK, bookmark("2")), (ADDED, pod("p3", "3")),
        (ADDED, pod("p4", "4"))],
        watches=2, requests=[STREAM, watch_from("3")], store=[("p1", "1"), ("p2", "2"), ("p3", "3"), ("p4", "4")]),
        id="stopping a watcher after synchronization results in creating a new watch request"),
    pytest.param(dict(predicate=stateful(None, errors.new_resource_expired("rv already expired")),
                      stop_after_events=3, events=[(ADDED, pod("p1", "1")), (BOOKMARK, bookmark("2")),
                                                   (ADDED, pod("p3", "3"))],
                      watches=2, requests=[STREAM, watch_from("3")], store=[("p1", "1"), ("p3", "3")],
                      error="rv already expired"),
                 id="expiring an established watcher results in returning an error from the reflector"),
    pytest.param(dict(close_after_events=3, events=[(ADDED, pod("p1", "1")), (ADDED, pod("p2", "2")),
                                                     (BOOKMARK, bookmark("2", end="false"))],
                      watches=1, requests=[STREAM]),
                 id="prove that the reflector is checking the value of the initialEventsEnd annotation"),
]


@pytest.mark.parametrize("scenario", WATCH_LIST)
def test_watch_list(scenario):
    """TestWatchList: every scenario of reflector_watchlist_test.go."""
    stop = threading.Event()
    lw = ScriptedListerWatcher(stop)
    lw.watch_options_predicate = scenario.get("predicate")
    lw.close_after_watch_requests = scenario.get("close_after_watch_requests", 0)
    lw.custom_list_response = scenario.get("pod_list")
    store, clock = new_store(), FakeClock()
    reflector = Reflector(lw, "pods", store, clock=clock, use_watch_list=scenario.get("use_watch_list"),
                          rand=lambda: 0.0)

    def drive() -> None:
        for i, (kind, obj) in enumerate(scenario.get("events", []), start=1):
            lw.current().action(kind, obj)
            if i == scenario.get("stop_after_events"):
                lw.stop_and_recreate_watch()
                continue
            if i == scenario.get("close_after_events"):
                stop.set()

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            reflector.list_and_watch(stop)
            outcome.append(None)
        except Exception as err:
            outcome.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    step_until(clock, lambda: not worker.is_alive())  # through the backoffs (429), if any
    stop.set()
    driver.join(WAIT)
    (err,) = outcome
    if scenario.get("error"):
        assert err is not None and scenario["error"] in str(err)
    else:
        assert err is None
    assert lw.watch_counter == scenario.get("watches", 0)
    assert lw.list_counter == scenario.get("lists", 0)
    assert [normalized(o) for o in lw.request_options] == scenario["requests"]
    content = sorted((o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in store.list())
    assert content == sorted(scenario.get("store", []))


@pytest.mark.parametrize("events, expected_rv", [
    pytest.param([], "", id="empty resource version"),
    pytest.param([(ADDED, pod("p1", "1"))], "", id="empty resource version without bookmark event"),
    pytest.param([(ADDED, pod("p1", "1")), (BOOKMARK, bookmark("2"))], "2",
                 id="non empty resource version with bookmark event and initial events annotation"),
])
def test_watch_list_resource_version(events, expected_rv):
    """TestWatchListResourceVersion: while streaming, only an event other than ADDED sets the RV."""
    w, stop = ScriptedWatch(), threading.Event()
    current = {"rv": ""}

    def track(rv: str, besides_added: bool) -> None:
        if besides_added:
            current["rv"] = rv

    def drive() -> None:
        for kind, obj in events:
            w.action(kind, obj)
        if not events or events[-1][0] != BOOKMARK:
            stop.set()
            w.stop()  # what the reflector's supervisor does on stop

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        handle_any_watch(w, new_store(), stop, 0.0, "test", track, FakeClock(), exit_on_initial_events_end=True)
    except StopRequested:
        pass
    driver.join(WAIT)
    assert current["rv"] == expected_rv


class Supports:
    def list(self, options): ...
    def watch(self, options): ...

    def is_watch_list_semantics_unsupported(self) -> bool:
        return False


class DoesNotSupport(Supports):
    def is_watch_list_semantics_unsupported(self) -> bool:
        return True


class Silent:
    def list(self, options): ...
    def watch(self, options): ...


@pytest.mark.parametrize("gate, lw, expected", [
    pytest.param(False, Supports(), False, id="WatchListClient off, client supports WatchList semantics"),
    pytest.param(None, Supports(), True, id="WatchListClient on, client supports WatchList semantics"),
    pytest.param(None, DoesNotSupport(), False, id="WatchListClient on, client doesn't support the WatchList semantics"),
    pytest.param(None, Silent(), True, id="WatchListClient on, client doesn't expose IsWatchListSemanticsUnSupported"),
])
def test_new_reflector_with_disablement_watch_list(gate, lw, expected):
    """TestNewReflectorWithDisablementWatchList (None: the v0.37.2 default, the gate on)."""
    assert Reflector(lw, "pods", new_store(), use_watch_list=gate).use_watch_list is expected


# -- reflector_test.go ------------------------------------------------------------------------------


def test_reflector_list_and_watch_with_errors():
    """TestReflectorListAndWatchWithErrors: each cycle lists what the store has; errors end the cycle."""
    table = [
        dict(list=("1", []), events=[(ADDED, pod("foo", "2")), (ADDED, pod("bar", "3"))]),
        dict(list=("3", [pod("foo", "2"), pod("bar", "3")]), events=[(DELETED, pod("foo", "4")), (ADDED, pod("qux", "5"))]),
        dict(list_err=errors.UsageError("a list error")),
        dict(list=("5", [pod("bar", "3"), pod("qux", "5")]), watch_err=errors.new_internal_error("a watch error")),
        dict(list=("5", [pod("bar", "3"), pod("qux", "5")]), events=[(ADDED, pod("baz", "6"))]),
        dict(list=("6", [pod("bar", "3"), pod("qux", "5"), pod("baz", "6")])),
    ]
    store = new_store()
    for line, item in enumerate(table):
        if "list" in item:  # the list is what the store holds now
            current = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in store.list()}
            assert current == {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in item["list"][1]}, line
        stop = threading.Event()
        watch_err = item.get("watch_err")

        class LW:
            def list(self, options):
                if "list_err" in item:
                    raise item["list_err"]
                rv, items = item["list"]
                return {"metadata": {"resourceVersion": rv}, "items": [dict(o) for o in items]}

            def watch(self, options):
                nonlocal watch_err
                if watch_err is not None:
                    raise watch_err
                watch_err = errors.new_internal_error("second watch")
                w = ScriptedWatch()

                def play():
                    for kind, obj in item.get("events", []):
                        w.action(kind, obj)
                    stop.set()
                    w.stop()

                threading.Thread(target=play, daemon=True).start()
                return w

        reflector = Reflector(LW(), "pods", store, use_watch_list=False, clock=FakeClock())
        expected = item.get("list_err") or item.get("watch_err")
        if expected is not None:
            with pytest.raises(type(expected), match=str(expected).split(":")[-1].strip()):
                reflector.list_and_watch(stop)
        else:
            reflector.list_and_watch(stop)


def test_reflector_replaces_store_on_unsafe_delete():
    """TestReflectorReplacesStoreOnUnsafeDelete: a 500 ERROR event (a corrupt object unsafe-deleted) relists."""
    pods = [pod("foo-1", "1"), pod("foo-2", "2"), pod("foo-3", "3")]
    lists = deque([("3", pods), ("5", pods)])
    corrupt = pod("foo", "4")
    status = errors.new_status(500, "StorageReadError",
                               "failed to prepare current and previous objects: corrupt object has been deleted")
    store, clock, stop = new_store(), FakeClock(), threading.Event()
    replaced: list[tuple[str, bool, bool]] = []  # (rv, corrupt in store before, after)
    real_replace = store.replace

    def replace(objects, rv):
        before = store.get(corrupt) is not None
        real_replace(objects, rv)
        replaced.append((rv, before, store.get(corrupt) is not None))

    store.replace = replace  # type: ignore[method-assign]
    played = threading.Event()

    class LW:
        def list(self, options):
            rv, items = lists.popleft() if lists else ("5", pods)
            return {"metadata": {"resourceVersion": rv}, "items": [dict(o) for o in items]}

        def watch(self, options):
            w = ScriptedWatch()
            if not played.is_set():
                played.set()
                threading.Thread(target=lambda: (w.action(ADDED, corrupt), w.action(ERROR, status)),
                                 daemon=True).start()
            return w

    reflector = Reflector(LW(), "pods", store, use_watch_list=False, clock=clock)
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        step_until(clock, lambda: reflector.last_sync_resource_version() == "5")
    finally:
        stop.set()
        thread.join(WAIT)
    assert replaced[1] == ("5", True, False)  # the relist removed the corrupt object
    assert sorted(store.list_keys()) == ["foo-1", "foo-2", "foo-3"]


def too_large(form: str) -> errors.APIError:
    if form == "cause":
        details = {"causes": [{"reason": "ResourceVersionTooLarge"}]}
        return errors.APIError.from_status(504, errors.new_status(504, "Timeout", "too large resource version", details))
    if form == "cause message":  # API servers 1.17.0-1.18.5
        details = {"causes": [{"message": "Too large resource version"}]}
        return errors.APIError.from_status(504, errors.new_status(504, "Timeout", "too large resource version", details))
    return errors.APIError.from_status(504, errors.new_status(504, "Timeout", "Too large resource version"))  # before 1.17


def test_reflector_full_list_if_too_large():
    """TestReflectorFullListIfTooLarge: all three forms of "too large RV" fall back to a list at RV ""."""
    version = 30
    calls: list[str] = []
    stop = threading.Event()

    class LW:
        def list(self, options):
            nonlocal version
            rv = options["resource_version"]
            calls.append(rv)
            if rv == "0":
                return {"metadata": {"resourceVersion": "20"}, "items": []}
            if rv in ("20", "30", "40"):
                raise too_large({"20": "cause", "30": "cause message", "40": "message"}[rv])
            if rv == "":
                listed, version = str(version), version + 10
                return {"metadata": {"resourceVersion": listed}, "items": []}
            raise AssertionError(f"unexpected list at {rv!r}")

        def watch(self, options):
            stop.set()  # only the lists matter
            return ScriptedWatch()

    reflector = Reflector(LW(), "pods", new_store(), use_watch_list=False, clock=FakeClock())
    for _ in range(4):
        stop.clear()
        reflector.list_and_watch(stop)
    assert calls == ["0", "20", "", "30", "", "40", ""]


@pytest.mark.parametrize("min_watch_timeout, low", [
    pytest.param(0.0, 300, id="no timeout"),
    pytest.param(1.0, 300, id="small timeout not honored"),
    pytest.param(1800.0, 1800, id="30m timeout"),
])
def test_watch_timeout(min_watch_timeout, low):
    """TestWatchTimeout: watch timeouts are drawn from [min, 2 min), the minimum at least 5 minutes."""
    got: list[int] = []
    stop = threading.Event()

    class LW:
        def list(self, options):
            return {"metadata": {"resourceVersion": "10"}, "items": []}

        def watch(self, options):
            got.append(options["timeout_seconds"])
            stop.set()
            return ScriptedWatch()

    for draw in (0.0, 0.999):
        stop.clear()
        Reflector(LW(), "pods", new_store(), use_watch_list=False, min_watch_timeout=min_watch_timeout,
                  rand=lambda: draw, clock=FakeClock()).list_and_watch(stop)
    assert got[0] == low and low <= got[1] < 2 * low


# -- the stop and close races (TestReflectorWatchStopped*, TestReflectorHandleWatch*) -----------------


class MockWatch:
    """client-go's watch.MockWatcher: records how it is used; `on_iter` runs as reading starts."""

    def __init__(self, on_iter: Callable[[], None] = lambda: None) -> None:
        self.calls: list[str] = []
        self._on_iter = on_iter

    def __iter__(self):
        self.calls.append("iterate")
        self._on_iter()
        return iter(())  # the stream closed: no event

    def stop(self) -> None:
        self.calls.append("stop")


def test_reflector_watch_stopped_before():
    """TestReflectorWatchStoppedBefore: stopped before it began, a cycle neither lists nor watches."""
    class LW:
        def list(self, options):
            raise AssertionError("list called unexpectedly")

        def watch(self, options):
            raise AssertionError("watch called unexpectedly")

    stop = threading.Event()
    stop.set()
    Reflector(LW(), "pods", new_store()).list_and_watch(stop)


def test_reflector_watch_stopped_after():
    """TestReflectorWatchStoppedAfter: stop set while watching: the cycle ends and the watcher is stopped."""
    stop = threading.Event()
    watchers: list[ScriptedWatch] = []

    class LW:
        def list(self, options):
            return {"metadata": {"resourceVersion": "1"}, "items": []}

        def watch(self, options):
            w = ScriptedWatch()  # never sends an event
            watchers.append(w)
            threading.Thread(target=stop.set, daemon=True).start()  # the stop comes after watching began
            return w

    Reflector(LW(), "pods", new_store(), use_watch_list=False, clock=FakeClock()).list_and_watch(stop)
    assert len(watchers) == 1 and watchers[0].stopped


def test_reflector_handle_watch_stopped_before():
    """TestReflectorHandleWatchStoppedBefore: already stopped: StopRequested, the watch stopped once, never read."""
    stop = threading.Event()
    stop.set()
    w = MockWatch()
    with pytest.raises(StopRequested):
        handle_any_watch(w, new_store(), stop, 0.0, "test", lambda rv, b: None, FakeClock())
    assert w.calls == ["stop"]


def test_reflector_handle_watch_stopped_after():
    """TestReflectorHandleWatchStoppedAfter: stopped while reading: StopRequested (not a very short watch)."""
    stop = threading.Event()
    w = MockWatch(on_iter=stop.set)
    with pytest.raises(StopRequested):
        handle_any_watch(w, new_store(), stop, 0.0, "test", lambda rv, b: None, FakeClock())
    assert w.calls == ["iterate", "stop"]


@pytest.mark.parametrize("when", ["before", "after"])
def test_reflector_handle_watch_result_chan_closed(when):
    """TestReflectorHandleWatchResultChanClosedBefore/After: closed at once with no event: VeryShortWatch."""
    w = MockWatch()
    with pytest.raises(errors.VeryShortWatch, match="very short watch: test"):
        handle_any_watch(w, new_store(), threading.Event(), 0.0, "test", lambda rv, b: None, FakeClock())
    assert w.calls == ["iterate", "stop"]


# -- the watch-error rule (v0.37.2's isWatchErrorRetriable) -----------------------------------------


@pytest.mark.parametrize("error, retriable", [
    pytest.param(errors.ServerUnreachable("x: connection refused", connection_refused=True), True,
                 id="connection refused"),
    pytest.param(errors.new_too_many_requests("slow down"), True, id="429"),
    pytest.param(errors.ServerUnreachable("x: the TLS handshake failed"), False, id="TLS failure"),
    pytest.param(errors.ServerUnreachable("x: the host name does not resolve"), False, id="DNS failure"),
    pytest.param(errors.ServerUnreachable("x: no answer in time"), False, id="timeout"),
    pytest.param(errors.new_internal_error("boom"), False, id="500"),
    pytest.param(errors.new_resource_expired("too old"), False, id="410"),
])
def test_is_watch_error_retriable(error, retriable):
    assert is_watch_error_retriable(error) is retriable


@pytest.mark.parametrize("error", [
    pytest.param(errors.ServerUnreachable("x: the TLS handshake failed"), id="TLS failure"),
    pytest.param(errors.ServerUnreachable("x: the host name does not resolve"), id="DNS failure"),
    pytest.param(errors.ServerUnreachable("x: no answer in time"), id="timeout"),
])
def test_an_unreachable_server_other_than_refused_relists(error):
    """Only connection refused re-watches in place; any other failure to watch ends the cycle and relists."""
    source = FakeSource()
    source.add(config_map("a"))
    source.fail_next_watch(error)
    clock, stop = FakeClock(), threading.Event()
    reflector = Reflector(source, "configmaps", new_store(), use_watch_list=False, clock=clock, rand=lambda: 0.0)
    seen: list[Exception] = []
    reflector.watch_error_handler = lambda r, err: seen.append(err)
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        step_until(clock, lambda: len(source.watch_calls) == 2)
        eventually(lambda: source.open_watches == 1)
    finally:
        stop.set()
        thread.join(WAIT)
    assert seen == [error]  # handed to the watch error handler
    assert [c["resource_version"] for c in source.list_calls] == ["0", "1"]  # and relisted
