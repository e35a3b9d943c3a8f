"""client-go's tools/cache, small: Reflector -> RealFIFO -> Indexer -> informer -> handlers.

One module per client-go file; every one mirrors client-go v0.37.2, the
release the lab is built from, and the classic pipeline's (DeltaFIFO,
v0.32) name both releases:

    features.py           features/known_features.go   which pipeline: today's (v0.37.2) or the classic (v0.32)
    index.py              index.go               named index functions
    thread_safe_store.py  thread_safe_store.go   the locked map with indices and its resourceVersion
    store.py              store.go               Store / Indexer, key functions, transactions, deep_copy
    real_fifo.py          the_real_fifo.go       today's queue: every delta in arrival order, relists atomic
    delta_fifo.py         delta_fifo.go          the classic queue of per-object deltas (v0.32)
    listwatch_types.py    listwatch.go           the ListerWatcher protocol (the HTTP seam)
    pager.py              tools/pager            listing page by page
    reflector.py          reflector.go           stream or list, then watch, with client-go's RV rules
    reflector_watch.py    reflector.go           reading one watch; which errors relist
    controller.py         controller.go          the pop loop, process_deltas (and batches), handler types
    shared_informer.py    shared_informer.go     one cache, many handlers
    processor.py          shared_informer.go     a buffered listener and thread per handler
    listers.py            listers.go             namespace-aware reads, label selectors
    factory.py            informers/factory.go   one informer per resource
    _wait.py              apimachinery wait      the reflector's exponential backoff
    testing/              testing/               FakeSource, an in-memory list/watch source

The cache knows no HTTP: the reflector calls a `ListerWatcher` (listwatch_types.py)
and reads a `k8slab.watch.Watch`; `k8slab.chain.listwatch.ListWatch.for_resource(lab,
"pods")` is the one that talks to a server, `testing.FakeSource` one in memory.
Objects are plain dicts shared by everyone reading the cache: deep-copy
before changing one.
"""

from k8slab.cache.controller import (
    Config, Controller, FilteringResourceEventHandler, ResourceEventHandler,
    ResourceEventHandlerFuncs, new_informer, new_queue_fifo, process_deltas, process_deltas_in_batch,
)
from k8slab.cache.delta_fifo import (
    Delta, DeletedFinalStateUnknown, DeltaFIFO, Deltas, DeltaType, FIFOClosed, Requeue,
)
from k8slab.cache.factory import SharedInformerFactory
from k8slab.cache.features import CLASSIC, TODAY, FeatureGates
from k8slab.cache.index import NAMESPACE_INDEX, Indexers, meta_namespace_index_func
from k8slab.cache.listers import Lister, NamespaceLister, parse_selector
from k8slab.cache.listwatch_types import ListerWatcher, Watch
from k8slab.cache.real_fifo import BookmarkInfo, RealFIFO, ReplacedAllInfo, SyncAllInfo
from k8slab.cache.reflector import Reflector
from k8slab.cache.shared_informer import (
    ResourceEventHandlerRegistration, SharedIndexInformer, wait_for_cache_sync,
)
from k8slab.cache.store import (
    Indexer, Store, deep_copy, deletion_handling_meta_namespace_key_func, meta_namespace_key_func,
    new_indexer, new_store, split_meta_namespace_key,
)

__all__ = [
    "BookmarkInfo", "CLASSIC", "Config", "Controller", "DeletedFinalStateUnknown", "Delta", "DeltaFIFO",
    "DeltaType", "Deltas", "FIFOClosed", "FeatureGates", "FilteringResourceEventHandler", "Indexer",
    "Indexers", "Lister", "ListerWatcher", "NAMESPACE_INDEX", "NamespaceLister", "RealFIFO", "Reflector",
    "ReplacedAllInfo", "Requeue", "ResourceEventHandler", "ResourceEventHandlerFuncs",
    "ResourceEventHandlerRegistration", "SharedIndexInformer", "SharedInformerFactory", "Store",
    "SyncAllInfo", "TODAY", "Watch", "deep_copy", "deletion_handling_meta_namespace_key_func",
    "meta_namespace_index_func", "meta_namespace_key_func", "new_indexer", "new_informer",
    "new_queue_fifo", "new_store", "parse_selector", "process_deltas", "process_deltas_in_batch",
    "split_meta_namespace_key", "wait_for_cache_sync",
]
