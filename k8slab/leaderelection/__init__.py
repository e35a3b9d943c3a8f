"""Leader election on a Lease: client-go's tools/leaderelection, small.

    resourcelock.py     resourcelock/interface.go, leaselock.go   the record and the Lease lock
    leaderelection.py   leaderelection.go                          the elector: acquire, renew, release
    testing.py          (fake clientset + reactors in its tests)   an in-memory Lease store

    lock = LeaseLock("kube-system", "sample-controller", clientset.coordination_v1(), "replica-a")
    elector = new_leader_elector(LeaderElectionConfig(
        lock=lock, lease_duration=15, renew_deadline=10, retry_period=2,
        callbacks=LeaderCallbacks(on_started_leading=run_controller,
                                  on_stopped_leading=lambda: None),
        release_on_cancel=True))
    elector.run(stop)          # blocks until stop is set or leadership is lost

k8slab mirrors client-go rather than wrapping the official Python client's
`kubernetes.leaderelection`: see leaderelection.py's docstring for why.
"""

import logging

from k8slab.leaderelection.leaderelection import (
    JITTER_FACTOR,
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    new_leader_elector,
    run_or_die,
)
from k8slab.leaderelection.resourcelock import (
    LeaderElectionRecord,
    LeaseLock,
    LeasesGetter,
    ResourceLock,
    leader_election_record_to_lease_spec,
    lease_spec_to_leader_election_record,
)

__all__ = [
    "JITTER_FACTOR",
    "LeaderCallbacks",
    "LeaderElectionConfig",
    "LeaderElectionRecord",
    "LeaderElector",
    "LeaseLock",
    "LeasesGetter",
    "ResourceLock",
    "leader_election_record_to_lease_spec",
    "lease_spec_to_leader_election_record",
    "new_leader_elector",
    "run_or_die",
]

# A library logs; the application decides where to: no "lastResort" output on stderr
# (in a notebook that would land in whichever cell runs). `python -m` configures handlers.
logging.getLogger("k8slab.leaderelection").addHandler(logging.NullHandler())
