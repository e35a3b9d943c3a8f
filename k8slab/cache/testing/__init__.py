"""Test doubles for k8slab.cache, public so notebooks can use them too."""

from k8slab.cache.testing.fake_source import FakeSource, FakeWatch, config_map

__all__ = ["FakeSource", "FakeWatch", "config_map"]
