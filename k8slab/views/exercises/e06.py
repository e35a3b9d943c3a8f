"""Notebook 06's checked exercises: watching (apimachinery `pkg/watch`, the API server's watch).

    06.1  predict the first events of watches from three resource versions, over a
          history of five changes
    06.2  write resume(lister_watcher, resource_version, on_event) -> str: one watch from a
          resource version with bookmarks allowed, its ADDED/MODIFIED/DELETED events handed
          on, the resource version to resume from returned (a bookmark's counts); an ERROR
          event raises the error its Status stands for

Both run against `k8slab.cache.testing.FakeSource`, the in-memory API server
the next notebook's reflector also runs against, so they need no lab. Its
watches start as the API server's do: from "0" an ADDED per object that
exists, from a resource version the changes after it, from a compacted one
an ERROR event with a 410 Status. The expected events are read from it.
"""

from __future__ import annotations

from typing import Any, Callable

from k8slab import errors
from k8slab.cache.testing import FakeSource, config_map
from k8slab.views.exercises.framework import Mismatch, Run, define, expect, raised

__all__: list[str] = []

Script = Callable[[FakeSource], Any]


# -- 06.1 ----------------------------------------------------------------------------------


def history() -> FakeSource:
    """rv 1: add a, 2: add b, 3: modify a, 4: delete b, 5: add c (the story of exercise 06.1)."""
    source = FakeSource()
    source.add(config_map("a", data={"colour": "red"}))
    source.add(config_map("b", data={"colour": "red"}))
    source.modify(config_map("a", data={"colour": "blue"}))
    source.delete("default/b")
    source.add(config_map("c", data={"colour": "green"}))
    return source


def _first_events(source: FakeSource, rv: str) -> list[tuple[str, str]]:
    w = source.watch({"resource_version": rv})
    try:
        return [(e["type"], e["object"]["metadata"]["name"]) for e in w.drain()]
    finally:
        w.stop()


def _pairs(answer: Any, rv: str) -> list[tuple[str, str]]:
    shape = 'a dict like {"0": [("ADDED", "a"), ...], "2": [...], "5": [...]}'
    if not isinstance(answer, dict):
        raise Mismatch(shape, f"{type(answer).__name__} {answer!r:.60}")
    if rv not in answer:
        raise Mismatch(f"{shape}, with the key {rv!r}", f"the keys {sorted(map(str, answer))}")
    events = answer[rv]
    if isinstance(events, (str, bytes)) or not all(
        isinstance(e, (tuple, list)) and len(e) == 2 and all(isinstance(x, str) for x in e) for e in events
    ):
        raise Mismatch(f'a list of (type, name) pairs under {rv!r}, e.g. [("ADDED", "a")]', repr(events))
    return [(t.strip().upper(), n.strip()) for t, n in events]


replay = define("06.1", "the first events of watches from three resource versions",
                answer='a dict {"0": [(type, name), ...], "2": [...], "5": [...]}', callable_answer=False)


@replay.scenario('a watch from "0" starts with an ADDED for every object that exists now (in any order)')
def _from_zero(answer: Any, run: Run) -> None:
    expect('the first events from "0", sorted', sorted(_pairs(answer, "0")), sorted(_first_events(history(), "0")),
           hint="not the history: the state now, each object as a synthetic ADDED (b was deleted at 4)")


@replay.scenario('a watch from "2" replays every change after 2, in the order etcd committed them')
def _from_two(answer: Any, run: Run) -> None:
    expect('the first events from "2"', _pairs(answer, "2"), _first_events(history(), "2"),
           hint="the changes after rv 2 (3, 4, 5), not the one at 2; a deletion is a DELETED event")


@replay.scenario('a watch from "5", the newest resource version, sends nothing until something changes')
def _from_five(answer: Any, run: Run) -> None:
    expect('the first events from "5"', _pairs(answer, "5"), _first_events(history(), "5"),
           hint="nothing happened after 5: a watch from a resource version sends only what comes after it")


# -- 06.2 ----------------------------------------------------------------------------------


class _Scripted:
    """A ListerWatcher over a FakeSource whose watches end on their own.

    When the k-th watch is opened, the k-th script runs (changes, a bookmark),
    then the connection ends: the events sent so far can still be read, as
    when a server closes a stream at its timeout. Every watch call is recorded.
    """

    def __init__(self, source: FakeSource, *scripts: Script | None) -> None:
        self.source = source
        self.scripts = list(scripts)
        self.calls: list[dict[str, Any]] = []

    def list(self, options: dict[str, Any]) -> dict[str, Any]:
        return self.source.list(options)

    def watch(self, options: dict[str, Any]) -> Any:
        self.calls.append(dict(options))
        w = self.source.watch(options)
        script = self.scripts.pop(0) if self.scripts else None
        if script is not None:
            script(self.source)
        self.source.reset_watches()
        return w


def _bookmark_after_other_writes(source: FakeSource) -> None:
    source.advance_resource_version(3)  # other resources changed: the cluster's RV moved on
    source.send_bookmark()


class _Events(list):
    """on_event for the answer: records (type, name) of every event it is handed."""

    def __call__(self, event: Any) -> None:
        obj = event.get("object") if isinstance(event, dict) else None
        metadata = obj.get("metadata", {}) if isinstance(obj, dict) else {}
        self.append((event.get("type") if isinstance(event, dict) else repr(event), metadata.get("name")))


def _resume(answer: Any, lw: _Scripted, rv: str, on_event: _Events) -> Any:
    try:
        return answer(lw, rv, on_event)
    except errors.Gone as err:
        raise Mismatch(f"resume({rv!r}) to return", f"it raised Gone: {err}",
                       "only an ERROR event should raise; this watch had none") from None


_NOT_A_CHANGE = "a BOOKMARK is not a change: it only moves the resource version on; hand on_event the other events"


resume = define("06.2", "resume a watch from the last resource version, bookmarks included",
                answer="a function resume(lister_watcher, resource_version, on_event) -> str")


@resume.scenario("the changes after the resource version reach on_event in order; the last one's rv is returned")
def _changes(answer: Any, run: Run) -> None:
    source = FakeSource()
    source.add(config_map("a"))
    source.add(config_map("b"))
    source.modify(config_map("a", data={"v": "2"}))  # rv 3, before the watch: replayed
    lw = _Scripted(source, lambda s: (s.delete("default/b"), s.add(config_map("c"))))  # rv 4, 5: live
    events = _Events()
    rv = _resume(answer, lw, "2", events)
    expect("the events handed to on_event", events, [("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "c")],
           hint="every event of the watch, as it came")
    expect("the resource version returned", rv, "5", hint="the metadata.resourceVersion of the last event (a str)")


@resume.scenario("the watch is asked for bookmarks, from the resource version given")
def _options(answer: Any, run: Run) -> None:
    source = FakeSource()
    source.add(config_map("a"))
    lw = _Scripted(source)
    _resume(answer, lw, "1", _Events())
    expect("the number of watch calls", len(lw.calls), 1, hint="one watch per call of resume")
    options = lw.calls[0]
    expect('options["resource_version"]', options.get("resource_version"), "1")
    expect('options["allow_watch_bookmarks"]', options.get("allow_watch_bookmarks"), True,
           hint="without it the server sends no BOOKMARK events at all")


@resume.scenario("a BOOKMARK moves the resource version on, and is not handed to on_event")
def _bookmark(answer: Any, run: Run) -> None:
    source = FakeSource()
    source.add(config_map("a"))
    lw = _Scripted(source, _bookmark_after_other_writes)
    events = _Events()
    rv = _resume(answer, lw, "1", events)
    expect("the events handed to on_event", events, [], hint=_NOT_A_CHANGE)
    expect("the resource version returned", rv, source.resource_version,
           hint="a bookmark's object carries the resourceVersion to resume from: keep it")


@resume.scenario("a watch that ends with no event returns the resource version it started from")
def _quiet(answer: Any, run: Run) -> None:
    source = FakeSource()
    source.add(config_map("a"))
    source.advance_resource_version(5)
    events = _Events()
    rv = _resume(answer, _Scripted(source), "1", events)
    expect("the events handed to on_event", events, [])
    expect("the resource version returned", rv, "1", hint="nothing came: resume where you started")


@resume.scenario("resuming from what it returns loses nothing and repeats nothing, across three watches")
def _three_watches(answer: Any, run: Run) -> None:
    source = FakeSource()
    source.add(config_map("a"))  # rv 1
    lw = _Scripted(source, lambda s: s.modify(config_map("a", data={"v": "2"})), _bookmark_after_other_writes, None)
    events = _Events()
    rv = _resume(answer, lw, "1", events)
    source.add(config_map("b"))  # while no watch is open: the next watch must replay these two
    source.modify(config_map("b", data={"v": "2"}))
    rv = _resume(answer, lw, rv, events)
    source.delete("default/a")
    rv = _resume(answer, lw, rv, events)
    expect("the events of the three watches", events,
           [("MODIFIED", "a"), ("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")],
           hint="each watch starts from the rv the previous one returned: a change is seen once, none is lost")
    expect("the resource version at the end", rv, source.resource_version)


@resume.scenario("an ERROR event raises the error its Status stands for (410: k8slab.errors.Gone)")
def _expired(answer: Any, run: Run) -> None:
    source = FakeSource()
    source.add(config_map("a"))
    source.add(config_map("b"))
    source.compact()  # history before rv 2 is gone: a watch from 1 gets ERROR 410
    events = _Events()
    try:
        got = answer(_Scripted(source), "1", events)
    except errors.Gone:
        expect("the events handed to on_event", events, [], hint="an ERROR event is not a change")
        return
    except Exception as exc:
        raise Mismatch("k8slab.errors.Gone to be raised", raised(exc),
                       "k8slab.watch.status_error(event) is the APIError an ERROR event's Status stands for") from None
    raise Mismatch("k8slab.errors.Gone to be raised", f"it returned {got!r} (on_event got {events})",
                   "an ERROR event ends the watch: raise k8slab.watch.status_error(event); the caller must relist")
