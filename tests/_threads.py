"""The suite's leak check: threads a test leaves running behind it.

Every thread k8slab starts is named `k8slab-...` (and is a daemon, so a leak
would otherwise go unnoticed until the process exits). A test leaks if, after
a short grace for threads that are on their way out, one of those it started
is still alive: any `k8slab-` thread, daemon or not, and any non-daemon thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

PREFIX = "k8slab-"
GRACE = 5.0  # seconds of real time a thread may take to end once its test is over


def leaked_threads(before: Collection[threading.Thread], grace: float = GRACE) -> list[str]:
    """The names of the watched threads started since `before` that outlive `grace` seconds."""
    started = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and (t.name.startswith(PREFIX) or not t.daemon)
    ]
    deadline = time.monotonic() + grace
    for thread in started:
        thread.join(max(deadline - time.monotonic(), 0.0))
    return sorted(t.name for t in started if t.is_alive())
