"""The Reflector against FakeSource: resource-version rules, paging, watch repair, backoff.

Scenarios from client-go v0.32 tools/cache/reflector_test.go, told as behaviour.
Every wait is bounded; time-based behaviour runs on a FakeClock.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any, Callable

import pytest

from k8slab import errors
from k8slab._clock import FakeClock
from k8slab.cache._wait import ExponentialBackoff
from k8slab.cache.reflector import Reflector
from k8slab.cache.store import new_store
from k8slab.cache.testing import FakeSource, config_map
from tests.unit._polling import WAIT, eventually, step_until


class RecordingStore:
    """A store that counts the calls a reflector makes."""

    def __init__(self) -> None:
        self.inner = new_store()
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def record(*args: Any) -> Any:
            self.calls.append(name)
            return method(*args)

        return record


class Harness:
    """A reflector over a FakeSource, run in a thread, stopped at teardown."""

    def __init__(
        self, source: FakeSource, store: Any = None, resync: float = 0.0, **kwargs: Any
    ) -> None:
        self.source = source
        self.clock = FakeClock()
        self.store = store if store is not None else new_store()
        kwargs.setdefault("rand", lambda: 0.0)  # no jitter: exact delays, timeout 300 s
        kwargs.setdefault("use_watch_list", False)  # these tests are about the LIST path; streaming has its own
        self.reflector = Reflector(
            source, "configmaps", self.store, resync, clock=self.clock, **kwargs
        )
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, method: str = "run") -> "Harness":
        target = getattr(self.reflector, method)
        self.thread = threading.Thread(target=target, args=(self.stop,), daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(WAIT)
            assert not self.thread.is_alive(), "reflector did not stop"

    def keys(self) -> list[str]:
        return sorted(self.store.list_keys())

    def source_keys(self) -> list[str]:
        return sorted(key_of(o) for o in self.source.objects())

    def step_until(self, condition: Callable[[], bool], step: float = 0.5) -> None:
        """Move the fake clock forward in steps until `condition` holds (for backoff waits)."""
        step_until(self.clock, condition, step)


@pytest.fixture
def harnesses():
    made: list[Harness] = []

    def make(source: FakeSource, **kwargs: Any) -> Harness:
        h = Harness(source, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def key_of(o: dict) -> str:
    return f'{o["metadata"]["namespace"]}/{o["metadata"]["name"]}'


def watching(source: FakeSource) -> None:
    """Wait until the reflector's one watch is open, not only called.

    The fake records a watch call before the watch is registered, and a fault
    (a reset, a 410, a dropped event, a bookmark) reaches open watches only: one
    sent in between would miss it, and a dropped change would be replayed.
    """
    eventually(lambda: len(source.watch_calls) == 1 and source.open_watches == 1)


def source_with(n: int) -> FakeSource:
    source = FakeSource()
    for i in range(n):
        source.add(config_map(f"cm{i:05d}"))
    return source


def test_first_list_uses_rv_zero_and_pages_of_500(harnesses):
    source = source_with(1200)
    h = harnesses(source).start("list_and_watch")
    watching(source)
    assert len(h.keys()) == 1200
    assert [c.get("resource_version") for c in source.list_calls] == ["0", "", ""]
    assert [c.get("limit") for c in source.list_calls] == [500, 500, 500]
    assert "continue_" not in source.list_calls[0]
    assert all("continue_" in c for c in source.list_calls[1:])
    assert h.reflector.last_sync_resource_version() == "1200"


def test_watch_starts_at_the_listed_rv_with_bookmarks_and_a_5_to_10_minute_timeout(harnesses):
    source = source_with(3)
    harnesses(source, rand=random.random).start("list_and_watch")
    watching(source)
    options = source.watch_calls[0]
    assert options["resource_version"] == "3"
    assert options["allow_watch_bookmarks"] is True
    assert 300 <= options["timeout_seconds"] < 600


def test_watch_events_reach_the_store_and_move_the_rv(harnesses):
    source = source_with(2)
    h = harnesses(source).start("list_and_watch")
    watching(source)
    source.add(config_map("new"))
    source.modify(config_map("cm00000", data={"k": "v"}))
    source.delete("default/cm00001")
    eventually(lambda: h.reflector.last_sync_resource_version() == "5")
    assert h.keys() == ["default/cm00000", "default/new"]
    assert h.store.get_by_key("default/cm00000")["data"] == {"k": "v"}


def test_a_bookmark_advances_the_rv_and_reaches_the_store_as_a_bookmark_only(harnesses):
    source = source_with(2)
    store = RecordingStore()
    h = harnesses(source, store=store).start("list_and_watch")
    watching(source)
    source.advance_resource_version(40)  # other resources changed meanwhile
    source.send_bookmark()
    eventually(lambda: h.reflector.last_sync_resource_version() == "42")
    eventually(lambda: store.calls == ["replace", "bookmark"])  # the list; no add, update or delete
    assert store.inner.last_store_sync_resource_version() == "42"  # v0.37.2: the store knows it too


def test_an_event_the_store_refuses_is_logged_and_still_moves_the_rv(harnesses, caplog):
    source = source_with(2)
    store = new_store()

    def refuse(obj: Any) -> None:
        raise RuntimeError("the store refuses this update")

    store.update = refuse  # type: ignore[method-assign]
    h = harnesses(source, store=store).start("list_and_watch")
    watching(source)
    with caplog.at_level(logging.ERROR, logger="k8slab.cache.reflector"):
        source.modify(config_map("cm00000", data={"k": "v"}))  # RV 3: refused
        eventually(lambda: h.reflector.last_sync_resource_version() == "3")
        source.add(config_map("new"))  # RV 4: the same watch goes on
        eventually(lambda: h.reflector.last_sync_resource_version() == "4")
    assert h.keys() == ["default/cm00000", "default/cm00001", "default/new"]
    assert h.store.get_by_key("default/cm00000")["data"] == {}
    assert len(source.watch_calls) == 1 and len(source.list_calls) == 1
    assert any("unable to apply a MODIFIED watch event" in m for m in caplog.messages)


def test_a_dropped_watch_is_reopened_from_the_last_rv_without_relisting(harnesses):
    source = source_with(2)
    h = harnesses(source).start("list_and_watch")
    watching(source)
    source.add(config_map("seen"))  # the watch delivered something, so it was a healthy one
    eventually(lambda: h.reflector.last_sync_resource_version() == "3")
    source.reset_watches()
    eventually(lambda: len(source.watch_calls) == 2)
    assert source.watch_calls[1]["resource_version"] == "3"
    assert len(source.list_calls) == 1
    source.add(config_map("after"))
    eventually(lambda: "default/after" in h.keys())


def test_a_watch_closed_at_once_with_no_event_counts_as_an_error_and_relists(harnesses):
    source = source_with(2)
    h = harnesses(source).start()
    watching(source)
    source.reset_watches()  # within the first (fake) second, no event: "very short watch"
    h.step_until(lambda: len(source.list_calls) == 2)
    assert source.list_calls[1] == {"resource_version": "2"}  # at the last RV, not paginated


def test_410_relists_at_the_last_rv_and_converges(harnesses):
    source = source_with(3)
    h = harnesses(source).start()
    watching(source)
    source.drop_next_event()
    source.delete("default/cm00001")  # lost: the cache still has it
    source.add(config_map("late"))
    eventually(lambda: "default/late" in h.keys())
    assert h.keys() != h.source_keys()
    source.expire_watches()  # the watch gets an ERROR event with a 410 Status
    h.step_until(lambda: len(source.list_calls) == 2)
    eventually(lambda: h.keys() == h.source_keys())
    assert source.list_calls[1] == {"resource_version": "5"}
    eventually(lambda: len(source.watch_calls) == 2)
    assert source.watch_calls[1]["resource_version"] == "5"


def test_an_expired_last_rv_makes_the_relist_use_rv_empty_at_once(harnesses):
    source = source_with(2)
    h = harnesses(source).start()
    watching(source)
    source.drop_next_event(2)
    source.delete("default/cm00000")
    source.add(config_map("new"))
    source.compact()  # the reflector's RV "2" is now too old
    source.expire_watches()
    h.step_until(lambda: len(source.list_calls) == 3)
    assert source.list_calls[1:] == [{"resource_version": "2"}, {"resource_version": ""}]
    eventually(lambda: h.keys() == ["default/cm00001", "default/new"])
    assert h.reflector.last_sync_resource_version() == "4"


def test_a_dropped_event_is_not_repaired_by_rewatching(harnesses):
    source = source_with(2)
    h = harnesses(source).start()
    watching(source)
    source.drop_next_event()
    source.modify(config_map("cm00000", data={"lost": "yes"}))
    source.add(config_map("x"))
    eventually(lambda: h.reflector.last_sync_resource_version() == "4")
    source.reset_watches()
    eventually(lambda: len(source.watch_calls) == 2)
    source.add(config_map("y"))
    eventually(lambda: "default/y" in h.keys())
    # The re-watch started after the lost change: the cache keeps the old data, silently.
    assert h.store.get_by_key("default/cm00000")["data"] == {}
    assert len(source.list_calls) == 1


def test_a_gone_error_from_the_watch_call_relists(harnesses):
    source = source_with(1)
    h = harnesses(source).start()
    watching(source)
    source.add(config_map("x"))
    eventually(lambda: h.reflector.last_sync_resource_version() == "2")
    source.fail_next_watch(errors.Gone("too old", code=410, reason="Expired"))
    source.reset_watches()
    h.step_until(lambda: len(source.list_calls) == 2)
    assert source.list_calls[1] == {"resource_version": "2"}


def test_an_expired_continue_token_falls_back_to_one_full_list(harnesses):
    source = source_with(5)
    real_list = source.list

    def list_then_compact(options):
        result = real_list(options)
        if len(source.list_calls) == 1:  # between the first and second page
            source.add(config_map("between"))
            source.compact()
        return result

    source.list = list_then_compact  # type: ignore[method-assign]
    h = harnesses(source, watch_list_page_size=2).start("list_and_watch")
    watching(source)
    assert source.list_calls[2] == {"resource_version": "0"}  # no limit, no continue token
    assert len(h.keys()) == 6


def test_too_large_resource_version_falls_back_to_rv_empty(harnesses):
    source = source_with(2)
    real_list = source.list
    seen = []

    def list_too_large_once(options):
        seen.append(dict(options))
        if len(seen) == 1:
            causes = [{"reason": "ResourceVersionTooLarge"}]
            status = {"code": 504, "reason": "Timeout", "details": {"causes": causes}}
            raise errors.APIError.from_status(504, status)
        return real_list(options)

    source.list = list_too_large_once  # type: ignore[method-assign]
    h = harnesses(source).start("list_and_watch")
    watching(source)
    assert [o["resource_version"] for o in seen] == ["0", ""]
    assert len(h.keys()) == 2


def test_a_paginated_rv_zero_list_keeps_paging_relists(harnesses):
    source = source_with(600)
    h = harnesses(source).start()
    watching(source)
    source.expire_watches()
    h.step_until(lambda: len(source.list_calls) == 4)
    assert source.list_calls[2] == {"resource_version": "600", "limit": 500}


def test_resync_calls_store_resync_and_never_lists(harnesses):
    source = source_with(2)
    store = RecordingStore()
    h = harnesses(source, store=store, resync=30.0).start("list_and_watch")
    watching(source)
    assert h.clock.block_until(1)
    assert h.clock.deadlines() == [30.0]  # the resync timer, from the start of the watch
    h.clock.step(29)
    assert h.clock.deadlines() == [30.0]  # not due: still waiting, not woken
    assert "resync" not in store.calls
    h.clock.step(1)
    eventually(lambda: store.calls.count("resync") == 1)
    eventually(lambda: h.clock.deadlines() == [60.0])
    h.clock.step(30)
    eventually(lambda: store.calls.count("resync") == 2)
    assert len(source.list_calls) == 1 and len(source.watch_calls) == 1


def test_should_resync_can_veto_a_resync(harnesses):
    source = source_with(1)
    store = RecordingStore()
    asked = []
    h = harnesses(source, store=store, resync=5.0, should_resync=lambda: asked.append(1) or False)
    h.start("list_and_watch")
    watching(source)
    h.clock.step(5)
    eventually(lambda: len(asked) == 1)
    assert "resync" not in store.calls


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(errors.ServerUnreachable("connection refused", connection_refused=True),
                     id="connection refused"),
        pytest.param(errors.TooManyRequests("slow down", code=429), id="429 too many requests"),
    ],
)
def test_watch_failures_back_off_exponentially_without_relisting(harnesses, error):
    source = source_with(1)
    for _ in range(3):
        source.fail_next_watch(error)
    h = harnesses(source)
    times: list[float] = []
    real_watch = source.watch

    def timed_watch(options):
        times.append(h.clock.now())
        return real_watch(options)

    source.watch = timed_watch  # type: ignore[method-assign]
    h.start("list_and_watch")
    eventually(lambda: len(times) == 1)
    for delay in (0.8, 1.6, 3.2):
        calls = len(times)
        assert h.clock.block_until(1)  # the failed call's backoff sleep has begun
        assert h.clock.deadlines() == [pytest.approx(times[-1] + delay)]
        h.clock.step(delay - 0.05)
        assert h.clock.deadlines() == [pytest.approx(times[-1] + delay)]  # not a moment early
        assert len(times) == calls
        h.clock.step(0.05 + 1e-9)
        eventually(lambda: len(times) == calls + 1)
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:])]
    assert gaps == [0.8, 1.6, 3.2]
    assert len(source.list_calls) == 1


def test_a_429_on_an_open_watch_backs_off_and_rewatches(harnesses):
    source = source_with(1)
    h = harnesses(source).start("list_and_watch")
    watching(source)
    source.send_error(429, "TooManyRequests", "slow down")
    h.step_until(lambda: len(source.watch_calls) == 2)
    assert len(source.list_calls) == 1


@pytest.mark.parametrize(
    "jitter_draw, expected",
    [
        pytest.param(
            0.0, [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0], id="no jitter: doubling, 30 s cap"
        ),
        pytest.param(
            1.0, [1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 60.0, 60.0], id="full jitter: up to twice that"
        ),
    ],
)
def test_backoff_sequence(jitter_draw, expected):
    clock = FakeClock()
    backoff = ExponentialBackoff(0.8, 30.0, 120.0, 2.0, 1.0, clock, rand=lambda: jitter_draw)
    assert [round(backoff.next_delay(), 6) for _ in expected] == expected


def test_backoff_resets_every_two_minutes_from_the_last_reset():
    """v0.37.2's DelayWithReset: a fixed period, however often it backed off meanwhile."""
    clock = FakeClock()
    backoff = ExponentialBackoff(0.8, 30.0, 120.0, 2.0, 1.0, clock, rand=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(3)] == [0.8, 1.6, 3.2]
    clock.step(60)
    assert backoff.next_delay() == 6.4
    clock.step(60)
    assert backoff.next_delay() == 12.8  # exactly two minutes since the start is not yet "more than"
    clock.step(0.1)
    assert backoff.next_delay() == 0.8  # 120.1 s since the start, though it backed off 0.1 s ago
    clock.step(119)
    assert backoff.next_delay() == 1.6  # the next reset is counted from this one, 120.1 s


def test_watch_list_streams_the_initial_state_then_keeps_the_same_watch(harnesses):
    source = source_with(3)
    h = harnesses(source, use_watch_list=True).start("list_and_watch")
    eventually(lambda: h.reflector.last_sync_resource_version() == "3")
    assert source.list_calls == []
    options = source.watch_calls[0]
    assert options["send_initial_events"] is True
    assert options["resource_version_match"] == "NotOlderThan"
    assert options["resource_version"] == ""
    assert len(h.keys()) == 3
    source.add(config_map("live"))
    eventually(lambda: "default/live" in h.keys())
    assert len(source.watch_calls) == 1


def test_watch_list_falls_back_to_list_on_error(harnesses):
    source = source_with(2)
    source.fail_next_watch(errors.BadRequest("sendInitialEvents unsupported", code=400))
    h = harnesses(source, use_watch_list=True).start("list_and_watch")
    eventually(lambda: len(source.watch_calls) == 2)
    assert source.list_calls == [{"resource_version": "0", "limit": 500}]
    assert len(h.keys()) == 2


def test_stop_ends_run_promptly_even_mid_watch(harnesses):
    source = source_with(1)
    h = harnesses(source).start()
    watching(source)
    h.stop.set()
    h.thread.join(WAIT)
    assert not h.thread.is_alive()
    assert source.open_watches == 0  # the open watch was stopped


def test_a_server_that_cannot_stream_gets_a_list_every_cycle(harnesses):
    """v0.37.2: a streaming list refused (422: WatchList off on the server) falls back to a LIST, each cycle anew."""
    source = source_with(2)
    source.refuse_watch_lists()
    h = harnesses(source, use_watch_list=None).start()
    eventually(lambda: source.open_watches == 1)
    assert [c.get("send_initial_events") for c in source.watch_calls] == [True, None]
    assert source.list_calls == [{"resource_version": "0", "limit": 500}]
    assert h.keys() == ["default/cm00000", "default/cm00001"]
    source.expire_watches()  # a relist: it tries to stream again first
    h.step_until(lambda: len(source.list_calls) == 2)
    assert [c.get("send_initial_events") for c in source.watch_calls][2] is True


def test_the_default_streams_unless_the_lister_watcher_cannot():
    """The Reflector's default is v0.37.2's: WatchListClient on, unless the lister-watcher says it cannot stream."""
    class CannotStream(FakeSource):
        def is_watch_list_semantics_unsupported(self) -> bool:
            return True

    assert Reflector(FakeSource(), "configmaps", new_store()).use_watch_list is True
    assert Reflector(CannotStream(), "configmaps", new_store()).use_watch_list is False
    assert Reflector(FakeSource(), "configmaps", new_store(), use_watch_list=False).use_watch_list is False
