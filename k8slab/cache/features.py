"""Which informer pipeline to build: client-go's feature gates, as one frozen value.

Mirrors client-go v0.37.2 `features/known_features.go`, the gates that shape
tools/cache, with their v0.37.2 defaults (`TODAY`) and the v0.32 behaviour
every book and blog post describes (`CLASSIC`):

    gate                           v0.37.2 default                 effect
    InOrderInformers               GA since 1.36, locked on        informers queue through a RealFIFO, not a DeltaFIFO
    AtomicFIFO                     beta since 1.36, on             a relist is one ReplacedAll delta (and a resync one
                                                                   SyncAll); the FIFO keeps no known objects; bookmarks
                                                                   travel through the queue to the store
    UnlockWhileProcessingFIFO      beta since 1.36, on             the FIFO's lock is released while a popped item is
                                                                   processed (needs AtomicFIFO)
    InOrderInformersBatchProcess   beta since 1.35, on             up to 1,000 deltas of distinct objects popped and
                                                                   written to the store in one go
    WatchListClient                beta, on since 1.35             the reflector lists with a streaming watch
                                                                   (sendInitialEvents), falling back to a LIST
    InformerResourceVersion        GA since 1.35                   (always on here: `last_sync_resource_version()`)

    SharedIndexInformer(lw, "configmaps")                        # TODAY
    SharedIndexInformer(lw, "configmaps", pipeline="classic")    # v0.32: DeltaFIFO, paginated LIST
    SharedIndexInformer(lw, "configmaps", pipeline=replace(TODAY, atomic_fifo=False))   # 1.33-1.35

Kept: the five gates that change what an informer does, their defaults, and
the rule that UnlockWhileProcessingFIFO only applies with AtomicFIFO.
Left out: a mutable global gate registry (client-go's `FeatureGates()`; here
a pipeline is chosen per informer), the gates outside tools/cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from k8slab import errors

__all__ = ["CLASSIC", "FeatureGates", "Pipeline", "TODAY", "feature_gates"]


@dataclass(frozen=True)
class FeatureGates:
    """client-go's tools/cache feature gates; the defaults are v0.37.2's."""

    in_order_informers: bool = True
    atomic_fifo: bool = True
    unlock_while_processing_fifo: bool = True
    in_order_informers_batch_process: bool = True
    watch_list_client: bool = True


TODAY = FeatureGates()
CLASSIC = FeatureGates(False, False, False, False, False)  # v0.32: Reflector -> DeltaFIFO -> Indexer

Pipeline = Union[str, FeatureGates]
""""today" (v0.37.2), "classic" (v0.32), or a FeatureGates value."""


def feature_gates(pipeline: Pipeline) -> FeatureGates:
    """The gates a pipeline name stands for."""
    if isinstance(pipeline, FeatureGates):
        return pipeline
    if pipeline == "today":
        return TODAY
    if pipeline == "classic":
        return CLASSIC
    raise errors.UsageError(
        f"unknown informer pipeline {pipeline!r}: use 'today' (client-go v0.37.2), 'classic' (v0.32) "
        "or a k8slab.cache.FeatureGates(...)"
    )
