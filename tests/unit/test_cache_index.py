"""Indices of the thread-safe store, ported from client-go v0.32
thread_safe_store_test.go, index_test.go and store_test.go (TestIndex)."""

from __future__ import annotations

import pytest

from k8slab import errors
from k8slab.cache.index import NAMESPACE_INDEX, meta_namespace_index_func
from k8slab.cache.store import new_indexer
from k8slab.cache.thread_safe_store import ThreadSafeStore


def pod(name: str, namespace: str = "ns", users: list[str] | None = None) -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "users": users or []}


def users_index(o: dict) -> list[str]:
    return list(o["users"])


def test_index_values_follow_add_update_delete():
    store = ThreadSafeStore({"by_user": users_index})
    store.add("a", pod("a", users=["ernie", "bert"]))
    store.add("b", pod("b", users=["bert"]))
    assert store.index_keys("by_user", "bert") == ["a", "b"]
    store.update("a", pod("a", users=["oscar"]))
    assert store.index_keys("by_user", "bert") == ["b"]
    assert store.index_keys("by_user", "oscar") == ["a"]
    store.delete("b")
    assert store.index_keys("by_user", "bert") == []


def test_delete_removes_empty_sets_from_the_index():
    store = ThreadSafeStore({"by_user": users_index})
    store.add("a", pod("a", users=["ernie"]))
    store.delete("a")
    assert store.list_index_func_values("by_user") == []
    assert store._indices["by_user"] == {}


def test_update_to_other_values_leaves_no_empty_set_behind():
    store = ThreadSafeStore({"by_user": users_index})
    store.add("a", pod("a", users=["ernie"]))
    store.update("a", pod("a", users=["bert"]))
    assert store.list_index_func_values("by_user") == ["bert"]


def test_non_empty_set_survives_a_delete():
    store = ThreadSafeStore({"by_user": users_index})
    store.add("a", pod("a", users=["ernie"]))
    store.add("b", pod("b", users=["ernie"]))
    store.delete("a")
    assert store.index_keys("by_user", "ernie") == ["b"]


def test_multiple_values_per_object():
    store = ThreadSafeStore({"by_user": users_index})
    store.add("a", pod("a", users=["ernie", "bert", "elmo"]))
    store.add("b", pod("b", users=["elmo"]))
    assert sorted(store.list_index_func_values("by_user")) == ["bert", "elmo", "ernie"]
    assert sorted(o["metadata"]["name"] for o in store.by_index("by_user", "elmo")) == ["a", "b"]
    # index(): everything sharing at least one value with the given object
    sharing = store.index("by_user", pod("q", users=["ernie", "elmo"]))
    assert sorted(o["metadata"]["name"] for o in sharing) == ["a", "b"]


def test_replace_rebuilds_every_index():
    store = ThreadSafeStore({"by_user": users_index})
    store.add("a", pod("a", users=["ernie"]))
    store.replace({"b": pod("b", users=["bert"])}, "5")
    assert store.list_index_func_values("by_user") == ["bert"]
    assert store.by_index("by_user", "ernie") == []


def test_add_indexers_back_fills_existing_items():
    indexer = new_indexer()
    indexer.add(pod("a", "ns1"))
    indexer.add(pod("b", "ns2"))
    indexer.add_indexers({NAMESPACE_INDEX: meta_namespace_index_func})
    assert indexer.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/a"]
    indexer.add(pod("c", "ns1"))
    assert indexer.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/a", "ns1/c"]


def test_add_indexers_refuses_a_name_in_use():
    indexer = new_indexer(indexers={NAMESPACE_INDEX: meta_namespace_index_func})
    with pytest.raises(errors.UsageError, match="conflict"):
        indexer.add_indexers({NAMESPACE_INDEX: users_index})
    assert indexer.get_indexers()[NAMESPACE_INDEX] is meta_namespace_index_func


def test_unknown_index_name_is_an_error():
    indexer = new_indexer()
    with pytest.raises(errors.UsageError, match="does not exist"):
        indexer.by_index("nope", "x")


def test_namespace_index_finds_objects_by_namespace():
    indexer = new_indexer(indexers={NAMESPACE_INDEX: meta_namespace_index_func})
    indexer.add(pod("a", "ns1"))
    indexer.add(pod("b", "ns2"))
    indexer.add({"metadata": {"name": "node"}})
    assert [o["metadata"]["name"] for o in indexer.by_index(NAMESPACE_INDEX, "ns2")] == ["b"]
    assert indexer.index_keys(NAMESPACE_INDEX, "") == ["node"]
