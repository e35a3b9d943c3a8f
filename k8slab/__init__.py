"""k8slab: how a Kubernetes client and controller really work, run layer by layer.

The public names below load lazily, so `import k8slab` is cheap and
`python -m k8slab` can set up its own environment before anything heavy is
imported (see `_bootstrap.py`).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

# A library logs; the application decides where it goes. Without this, warnings
# from background threads would land on stderr in whichever notebook cell runs.
logging.getLogger("k8slab").addHandler(logging.NullHandler())

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    # the lab
    "Lab": "k8slab.lab",
    "connect": "k8slab.lab",
    # the client chain
    "RESTClient": "k8slab.chain",
    "RestConfig": "k8slab.chain",
    "build_config_from_flags": "k8slab.chain",
    "load_kubeconfig": "k8slab.chain",
    "new_for_config": "k8slab.chain",
    "trace": "k8slab.chain",
    # the notebooks' views: source beside its Go original, checkable exercises
    "exercises": "k8slab.views.exercises",
    "show_source": "k8slab.views",
    # the wings, as modules
    "cache": "k8slab.cache",
    "chain": "k8slab.chain",
    "errors": "k8slab.errors",
    "lab": "k8slab.lab",
    "views": "k8slab.views",
    "workqueue": "k8slab.workqueue",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'k8slab' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
