"""Listers and label selectors (client-go v0.32 tools/cache/listers.go, apimachinery labels)."""

from __future__ import annotations

import pytest

from k8slab import errors
from k8slab.cache.index import NAMESPACE_INDEX, meta_namespace_index_func
from k8slab.cache.listers import Lister, parse_selector
from k8slab.cache.store import new_indexer


def cm(name: str, namespace: str = "default", **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


@pytest.fixture
def lister() -> Lister:
    indexer = new_indexer(indexers={NAMESPACE_INDEX: meta_namespace_index_func})
    for o in [
        cm("web", app="x", tier="front"),
        cm("db", app="x", tier="back"),
        cm("other", app="y"),
        cm("web", "prod", app="x", tier="front"),
    ]:
        indexer.add(o)
    return Lister(indexer, "configmaps")


ALL = ["default/db", "default/other", "default/web", "prod/web"]


def names(objects) -> list[str]:
    return sorted(f'{o["metadata"]["namespace"]}/{o["metadata"]["name"]}' for o in objects)


@pytest.mark.parametrize(
    "selector, expected",
    [
        pytest.param(None, ALL, id="no selector matches everything"),
        pytest.param("", ALL, id="an empty selector matches everything"),
        pytest.param("app=x", ["default/db", "default/web", "prod/web"], id="equality"),
        pytest.param("app==x,tier!=front", ["default/db"], id="double equals and inequality"),
        pytest.param("tier", ["default/db", "default/web", "prod/web"], id="key exists"),
        pytest.param("!tier", ["default/other"], id="key does not exist"),
        pytest.param("tier in (back, middle)", ["default/db"], id="set membership"),
        pytest.param(
            "app=x,tier notin (back)", ["default/web", "prod/web"], id="set exclusion and equality"
        ),
        pytest.param({"app": "x", "tier": "back"}, ["default/db"], id="a matchLabels dict"),
    ],
)
def test_list_with_selector(lister, selector, expected):
    assert names(lister.list(selector)) == expected


def test_inequality_matches_objects_without_the_label():
    assert parse_selector("tier!=front")({}) is True


def test_bad_selector_is_a_usage_error():
    with pytest.raises(errors.UsageError, match="label selector"):
        parse_selector("app=(x")


def test_namespace_lister_lists_one_namespace(lister):
    assert names(lister.namespace("prod").list()) == ["prod/web"]
    assert names(lister.namespace("default").list("tier=front")) == ["default/web"]


def test_namespace_all_lists_every_namespace(lister):
    assert len(lister.namespace("").list()) == 4


def test_namespace_lister_get(lister):
    assert lister.namespace("prod").get("web")["metadata"]["namespace"] == "prod"


def test_get_of_a_missing_object_raises_not_found_like_the_api(lister):
    with pytest.raises(errors.NotFound) as caught:
        lister.namespace("default").get("missing")
    err = caught.value
    assert str(err) == 'configmaps "missing" not found'
    assert err.code == 404 and err.reason == "NotFound"
    assert err.status["details"] == {"name": "missing", "kind": "configmaps"}


def test_cluster_scoped_get():
    indexer = new_indexer()
    indexer.add({"metadata": {"name": "node-1"}})
    nodes = Lister(indexer, "nodes")
    assert nodes.get("node-1")["metadata"]["name"] == "node-1"
    with pytest.raises(errors.NotFound, match='nodes "node-2" not found'):
        nodes.get("node-2")


def test_namespace_lister_works_without_a_namespace_index():
    indexer = new_indexer()
    indexer.add(cm("a", "ns1"))
    indexer.add(cm("b", "ns2"))
    assert names(Lister(indexer, "configmaps").namespace("ns2").list()) == ["ns2/b"]
