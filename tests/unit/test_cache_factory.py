"""SharedInformerFactory (client-go v0.32 informers/factory.go), over FakeSources."""

from __future__ import annotations

import threading

import pytest

from k8slab._clock import FakeClock
from k8slab.cache.factory import SharedInformerFactory
from k8slab.cache.shared_informer import SharedIndexInformer
from k8slab.cache.testing import FakeSource, config_map

WAIT = 10.0
BOTH_SYNCED = {"configmaps": True, "secrets": True}


@pytest.fixture
def sources() -> dict[str, FakeSource]:
    configmaps = FakeSource()
    configmaps.add(config_map("a"))
    secrets = FakeSource(kind="Secret", resource="secrets")
    secrets.add({"metadata": {"name": "s", "namespace": "default"}})
    return {"configmaps": configmaps, "secrets": secrets}


@pytest.fixture
def factory(sources):
    built: list[str] = []

    def lister_watcher_for(resource: str) -> FakeSource:
        built.append(resource)
        return sources[resource]

    f = SharedInformerFactory(lister_watcher_for, custom_resync={"secrets": 60.0})
    f.built = built  # type: ignore[attr-defined]
    stop = threading.Event()
    f.stop = stop  # type: ignore[attr-defined]
    yield f
    stop.set()
    f.shutdown(timeout=WAIT)


def test_the_same_resource_gets_the_same_informer(factory):
    first = factory.informer_for("configmaps")
    assert factory.informer_for("configmaps") is first
    assert factory.built == ["configmaps"]


def test_new_func_gets_the_lister_watcher_and_the_resource_resync_period(factory, sources):
    seen = []

    def new_func(lister_watcher, resync):
        seen.append((lister_watcher, resync))
        return SharedIndexInformer(lister_watcher, "secrets", resync)

    factory.informer_for("secrets", new_func)
    assert seen == [(sources["secrets"], 60.0)]


def test_start_runs_informers_and_wait_reports_each_resource(factory):
    factory.informer_for("configmaps")
    factory.informer_for("secrets")
    factory.start(factory.stop)
    assert factory.wait_for_cache_sync(factory.stop, timeout=WAIT) == BOTH_SYNCED
    assert factory.lister_for("configmaps").namespace("default").get("a")["metadata"]["name"] == "a"


def test_informers_asked_for_after_start_need_another_start(factory):
    factory.informer_for("configmaps")
    factory.start(factory.stop)
    late = factory.informer_for("secrets")
    assert not late.has_started()
    assert list(factory.wait_for_cache_sync(factory.stop, timeout=WAIT)) == ["configmaps"]
    factory.start(factory.stop)
    assert factory.wait_for_cache_sync(factory.stop, timeout=WAIT) == BOTH_SYNCED


class NeverSynced:
    """Stands in for an informer whose list never completes."""

    def run(self, stop: threading.Event) -> None:
        stop.wait()

    def has_synced(self) -> bool:
        return False


def test_the_wait_timeout_bounds_the_whole_wait_not_each_informer(sources):
    clock, stop, result = FakeClock(), threading.Event(), []
    f = SharedInformerFactory(sources.__getitem__, clock=clock)
    sources["deployments"] = sources["pods"] = FakeSource()
    keys = ["configmaps", "secrets", "deployments", "pods"]
    for key in keys:
        f.informer_for(key, lambda lister_watcher, resync: NeverSynced())
    f.start(stop)
    waiter = threading.Thread(target=lambda: result.append(f.wait_for_cache_sync(stop, timeout=1.0)))
    waiter.start()
    try:
        assert clock.block_until(1)  # the first informer's first poll
        clock.step(1.0)  # one 1 s budget for all four, not 4 x 1 s
        waiter.join(WAIT)
        assert result == [dict.fromkeys(keys, False)]
    finally:
        stop.set()
        f.shutdown(timeout=WAIT)


def test_shutdown_waits_for_the_informers_and_blocks_new_starts(factory):
    informer = factory.informer_for("configmaps")
    factory.start(factory.stop)
    factory.wait_for_cache_sync(factory.stop, timeout=WAIT)
    factory.stop.set()
    factory.shutdown(timeout=WAIT)
    assert informer.is_stopped()
    factory.informer_for("secrets")
    factory.start(threading.Event())
    assert not factory.informer_for("secrets").has_started()


def test_the_factory_transform_applies_to_every_informer(sources):
    def mark(obj):
        obj["metadata"]["annotations"] = {"seen-by": "factory"}
        return obj

    f = SharedInformerFactory(sources.__getitem__, transform=mark)
    stop = threading.Event()
    try:
        informer = f.informer_for("configmaps")
        f.start(stop)
        assert f.wait_for_cache_sync(stop, timeout=WAIT) == {"configmaps": True}
        cached = informer.get_store().get_by_key("default/a")
        assert cached["metadata"]["annotations"] == {"seen-by": "factory"}
    finally:
        stop.set()
        f.shutdown(timeout=WAIT)


def test_the_factory_builds_informers_of_its_pipeline(sources):
    """client-go picks its pipeline with process-wide feature gates; k8slab's factory with `pipeline`."""
    from k8slab.cache.features import CLASSIC, TODAY

    today = SharedInformerFactory(sources.__getitem__)
    classic = SharedInformerFactory(sources.__getitem__, pipeline="classic")
    assert today.informer_for("configmaps").gates == TODAY
    assert classic.informer_for("configmaps").gates == CLASSIC


def test_an_unknown_pipeline_is_a_usage_error(sources):
    from k8slab import errors
    from k8slab.cache import SharedIndexInformer

    with pytest.raises(errors.UsageError, match="unknown informer pipeline 'v0.30'.*'today'.*'classic'"):
        SharedIndexInformer(sources["configmaps"], "configmaps", pipeline="v0.30")
