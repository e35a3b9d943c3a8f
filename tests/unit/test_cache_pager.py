"""list_pages (client-go v0.32 tools/pager/pager.go) against FakeSource."""

from __future__ import annotations

import pytest

from k8slab import errors
from k8slab.cache.pager import is_resource_expired, list_pages
from k8slab.cache.testing import FakeSource, config_map


def source_with(n: int) -> FakeSource:
    source = FakeSource()
    for i in range(n):
        source.add(config_map(f"cm{i}"))
    return source


@pytest.mark.parametrize(
    "n, page_size, calls, paginated",
    [
        pytest.param(3, 500, 1, False, id="one page is returned as the server sent it"),
        pytest.param(5, 2, 3, True, id="five objects in pages of two take three calls"),
        pytest.param(5, 0, 1, False, id="page size zero sends no limit"),
    ],
)
def test_pages_are_joined_under_the_first_pages_rv(n, page_size, calls, paginated):
    source = source_with(n)
    result, was_paginated = list_pages(source.list, {"resource_version": "0"}, page_size)
    assert [o["metadata"]["name"] for o in result["items"]] == [f"cm{i}" for i in range(n)]
    assert result["metadata"]["resourceVersion"] == str(n)
    assert len(source.list_calls) == calls and was_paginated is paginated
    assert ("limit" in source.list_calls[0]) is bool(page_size)


def test_next_pages_send_the_token_and_no_resource_version():
    source = source_with(3)
    list_pages(source.list, {"resource_version": "0", "resource_version_match": "NotOlderThan"}, 2)
    second = source.list_calls[1]
    assert second["resource_version"] == "" and "resource_version_match" not in second
    assert second["continue_"]


def test_a_gone_first_page_is_not_retried():
    source = source_with(3)
    source.compact()
    with pytest.raises(errors.Gone):
        list_pages(source.list, {"resource_version": "1"}, 2)
    assert len(source.list_calls) == 1


def test_is_resource_expired():
    assert is_resource_expired(errors.Gone("x", code=410))
    assert is_resource_expired(errors.APIError("x", code=500, reason="Expired"))
    assert not is_resource_expired(errors.NotFound("x", code=404, reason="NotFound"))
    assert not is_resource_expired(ValueError("x"))
