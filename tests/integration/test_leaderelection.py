"""Leader election on a real Lease: two sample-controller processes, one leader.

Failover after a crash (SIGKILL) can only be as fast as the standby's
expiry rule allows: it takes over once it has seen the Lease unchanged for
`lease_duration` on its own clock, and it looks every retry period jittered
by up to 1.2x (so up to 2.2 retry periods apart). It may notice the last
renewal one such gap late and try again one gap after expiry: the bound
checked is lease_duration + 2 x 2.2 retry periods from the kill. A graceful stop (SIGTERM) releases the Lease: the standby
takes over at its next try, well within one lease duration.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from k8slab import errors
from k8slab.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaseLock, new_leader_elector
from k8slab.samplecontroller import DictClientset, install_crd, new_foo
from k8slab.samplecontroller.rbac import install_rbac

pytestmark = pytest.mark.lab

USER = "sample-controller"
LEASE = "sample-controller"
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 4, 3, 1


@pytest.fixture
def setup(lab, api_client, namespace):
    admin = DictClientset(api_client)
    install_crd(admin)
    install_rbac(admin, USER, leader_election_namespace=namespace)
    return admin, lab.user(USER)


def _holder(admin, namespace):
    try:
        return admin.coordination_v1().leases(namespace).get(LEASE)["spec"].get("holderIdentity") or ""
    except errors.NotFound:
        return None


def _wait(what, condition, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout} s")
        time.sleep(interval)


class _Replica:
    """A sample-controller process with leader election; its log read as it comes (`saw`)."""

    def __init__(self, kubeconfig, namespace, identity):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "k8slab.samplecontroller", "--kubeconfig", str(kubeconfig), "-v",
             "--namespace", namespace, "--leader-elect", "--id", identity,
             "--leader-elect-resource-namespace", namespace, "--leader-elect-resource-name", LEASE,
             "--leader-elect-lease-duration", str(LEASE_DURATION),
             "--leader-elect-renew-deadline", str(RENEW_DEADLINE),
             "--leader-elect-retry-period", str(RETRY_PERIOD)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def saw(self, text):
        return any(text in line for line in list(self.lines))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(10)
        return code


def test_the_leader_fails_over_within_the_lease_duration(setup, namespace):
    admin, kubeconfig = setup
    a = _Replica(kubeconfig, namespace, "replica-a")
    b = None
    try:
        _wait("a leads", lambda: _holder(admin, namespace) == "replica-a", 60)
        b = _Replica(kubeconfig, namespace, "replica-b")
        foos = admin.samplecontroller_v1alpha1().foos(namespace)
        foos.create(new_foo("led", namespace, replicas=1))
        _wait("the leader syncs", lambda: (foos.get("led").get("status") or {}).get("availableReplicas") == 1, 60)
        _wait("b has seen a lead", lambda: b.saw("new leader: replica-a"), 60)

        # A crash: no release. b must wait out the lease, and no longer than that: the bound,
        # plus 2 s for a loaded machine to schedule the processes and answer the requests.
        killed = time.monotonic()
        a.stop(signal.SIGKILL, 10)
        bound = LEASE_DURATION + 2 * 2.2 * RETRY_PERIOD
        _wait("b takes over", lambda: _holder(admin, namespace) == "replica-b", bound + 10)
        took = time.monotonic() - killed
        assert LEASE_DURATION - 2 * RETRY_PERIOD < took <= bound + 2.0
        lease = admin.coordination_v1().leases(namespace).get(LEASE)["spec"]
        assert lease["leaseTransitions"] == 1

        # The new leader does the work: a Foo created now converges.
        foos.create(new_foo("after", namespace, replicas=1))
        _wait("b syncs", lambda: (foos.get("after").get("status") or {}).get("availableReplicas") == 1, 60)

        # A graceful stop releases: a fresh candidate takes over at its next try.
        a = _Replica(kubeconfig, namespace, "replica-a")
        _wait("the new a has seen b lead", lambda: a.saw("new leader: replica-b"), 60)
        stopped = time.monotonic()
        assert b.stop() == 0
        _wait("a takes over", lambda: _holder(admin, namespace) == "replica-a", LEASE_DURATION)
        assert time.monotonic() - stopped < LEASE_DURATION
        assert admin.coordination_v1().leases(namespace).get(LEASE)["spec"]["leaseTransitions"] == 2
    finally:
        for replica in (a, b):
            if replica is not None:
                replica.stop()


def test_two_electors_on_one_lease_never_lead_at_once(api_client, namespace):
    """In-process electors on the real API: at every moment at most one believes it leads."""
    admin = DictClientset(api_client)
    leading: list[str] = []
    overlap = threading.Event()
    lock = threading.Lock()
    stops = {name: threading.Event() for name in ("x", "y")}

    def on_started(name):
        def run(leading_stop):
            with lock:
                if leading:
                    overlap.set()
                leading.append(name)
            leading_stop.wait()
            with lock:
                leading.remove(name)
        return run

    threads = []
    for name in stops:
        config = LeaderElectionConfig(
            lock=LeaseLock(namespace, "pair", admin.coordination_v1(), name),
            lease_duration=3, renew_deadline=2, retry_period=1,
            callbacks=LeaderCallbacks(on_started(name), lambda: None),
            release_on_cancel=True)
        t = threading.Thread(target=new_leader_elector(config).run, args=(stops[name],), name=f"elector {name}")
        t.start()
        threads.append(t)
    try:
        _wait("someone leads", lambda: len(leading) == 1, 15)
        first = leading[0]
        stops[first].set()
        other = "y" if first == "x" else "x"
        _wait("the other leads", lambda: leading == [other], 10)
        assert not overlap.is_set()
        spec = admin.coordination_v1().leases(namespace).get("pair")["spec"]
        assert spec["holderIdentity"] == other and spec["leaseTransitions"] == 1
    finally:
        for stop in stops.values():
            stop.set()
        for t in threads:
            t.join(15)
