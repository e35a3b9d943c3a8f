"""Store contract (run against every Store), key functions, deep_copy.

Ported from client-go v0.32 tools/cache/store_test.go (doTestStore run on each store).
"""

from __future__ import annotations

import copy

import pytest

from k8slab import errors
from k8slab.cache.delta_fifo import DeletedFinalStateUnknown
from k8slab.cache.index import NAMESPACE_INDEX, meta_namespace_index_func
from k8slab.cache.store import (
    deep_copy,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_key_func,
    new_indexer,
    new_store,
    split_meta_namespace_key,
)


def obj(name: str, value: str = "", namespace: str | None = "ns") -> dict:
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata, "data": {"v": value}}


STORES = [
    pytest.param(lambda: new_store(), id="a plain store"),
    pytest.param(
        lambda: new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func}),
        id="an indexer",
    ),
    pytest.param(
        lambda: new_indexer(deletion_handling_meta_namespace_key_func), id="an informer's indexer"
    ),
]


@pytest.fixture(params=STORES)
def store(request):
    return request.param()


def test_add_then_get_returns_the_same_object(store):
    o = obj("a", "1")
    store.add(o)
    assert store.get(obj("a")) is o  # shared, never copied
    assert store.get_by_key("ns/a") is o


def test_update_replaces_the_object(store):
    store.add(obj("a", "1"))
    store.update(obj("a", "2"))
    assert store.get_by_key("ns/a")["data"] == {"v": "2"}
    assert len(store.list()) == 1


def test_delete_removes_the_object(store):
    store.add(obj("a", "1"))
    store.delete(obj("a"))
    assert store.get_by_key("ns/a") is None
    assert store.list() == []


def test_delete_of_a_missing_object_is_harmless(store):
    store.delete(obj("never"))
    assert store.list_keys() == []


def test_list_and_list_keys(store):
    store.add(obj("a", "1"))
    store.add(obj("b", "2"))
    store.add(obj("c", "3", namespace=None))
    assert sorted(store.list_keys()) == ["c", "ns/a", "ns/b"]
    assert sorted(o["data"]["v"] for o in store.list()) == ["1", "2", "3"]


def test_replace_swaps_the_whole_content(store):
    store.add(obj("a", "1"))
    store.add(obj("b", "2"))
    store.replace([obj("b", "20"), obj("c", "30")], "7")
    assert sorted(store.list_keys()) == ["ns/b", "ns/c"]
    assert store.get_by_key("ns/b")["data"] == {"v": "20"}


def test_resync_changes_nothing(store):
    store.add(obj("a", "1"))
    store.resync()
    assert store.list_keys() == ["ns/a"]


@pytest.mark.parametrize(
    "given, key",
    [
        pytest.param({"metadata": {"name": "a", "namespace": "ns"}}, "ns/a", id="namespaced"),
        pytest.param({"metadata": {"name": "node-1"}}, "node-1", id="cluster-scoped object"),
        pytest.param({"metadata": {"name": "n", "namespace": ""}}, "n", id="empty namespace"),
    ],
)
def test_meta_namespace_key_func(given, key):
    assert meta_namespace_key_func(given) == key


def test_key_func_refuses_an_object_without_a_name():
    with pytest.raises(errors.UsageError, match="metadata.name"):
        meta_namespace_key_func({"metadata": {}})


def test_deletion_handling_key_func_unwraps_tombstones():
    tombstone = DeletedFinalStateUnknown("ns/x", None)
    assert deletion_handling_meta_namespace_key_func(tombstone) == "ns/x"
    assert deletion_handling_meta_namespace_key_func(obj("y")) == "ns/y"


def test_informer_store_can_delete_by_tombstone():
    store = new_indexer(deletion_handling_meta_namespace_key_func)
    store.add(obj("a"))
    store.delete(DeletedFinalStateUnknown("ns/a", obj("a")))
    assert store.list() == []


@pytest.mark.parametrize(
    "key, parts",
    [
        pytest.param("ns/name", ("ns", "name"), id="namespace and name"),
        pytest.param("name", ("", "name"), id="name only"),
    ],
)
def test_split_meta_namespace_key(key, parts):
    assert split_meta_namespace_key(key) == parts


def test_split_meta_namespace_key_rejects_extra_slashes():
    with pytest.raises(errors.UsageError):
        split_meta_namespace_key("a/b/c")


def test_deep_copy_matches_copy_deepcopy_and_shares_nothing_mutable():
    def make():
        return {"metadata": {"labels": {"x": "1"}}, "items": [{"n": 1}, [2]], "v": None, "f": 1.5}

    original = make()
    copied = deep_copy(original)
    assert copied == copy.deepcopy(original)
    copied["metadata"]["labels"]["x"] = "2"
    copied["items"][0]["n"] = 9
    copied["items"][1].append(4)
    assert original == make()
