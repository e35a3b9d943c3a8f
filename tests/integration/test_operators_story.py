"""The Foo story through every Foo controller: the same Deployments, owners and statuses, and their Events.

Each controller runs as a process, as its own least-privilege user, in a
namespace of its own (the Go sample-controller watches every namespace: its
main.go has no flag for one). The story and the snapshot each step must reach
are k8slab/operators/story.py's, taken from the Go sample-controller's
controller.go; the Events each framework writes differ, and are asserted
controller by controller.
"""

from __future__ import annotations

import time

import pytest

from k8slab.operators import kubeconfig_for, run
from k8slab.operators.story import STEPS, events, reached, uids
from k8slab.samplecontroller import DictClientset, install_crd

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.slow]

CONTROLLERS = ["k8slab", "k8slab-one-bucket", "sample-controller", "controller-runtime", "kopf"]
LEADER_ELECTION = {"k8slab", "controller-runtime"}  # the story runs these as elected leaders
STEP_TIMEOUT = 180.0  # a loaded 2-core machine; the foreign Deployment's retry backs off

# Who writes the Foo events (reportingController, else source.component), and the Events each
# framework writes besides Synced and ErrResourceExists, as (kind, type, reason).
AGENTS = {"k8slab": "sample-controller", "k8slab-one-bucket": "sample-controller",
          "sample-controller": "sample-controller", "controller-runtime": "controller-runtime-foo", "kopf": "kopf-foo"}
FRAMEWORK_EVENTS = {
    "k8slab": {("Lease", "Normal", "LeaderElection")},  # leader election's, on the Lease
    "k8slab-one-bucket": set(),
    "sample-controller": set(),
    "controller-runtime": {("Lease", "Normal", "LeaderElection")},
    "kopf": set(),  # kopf 1.45 posts none of its own (settings.posting.loggers is off)
}

_CRD_INSTALLED: set[str] = set()


@pytest.fixture
def admin(lab, api_client):
    cs = DictClientset(api_client)
    if lab.name not in _CRD_INSTALLED:
        install_crd(cs)
        _CRD_INSTALLED.add(lab.name)
    return cs


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_the_foo_story(controller, lab, admin, namespace, tmp_path):
    elected = controller in LEADER_ELECTION
    kubeconfig = kubeconfig_for(lab, admin, controller, namespace=namespace,
                                leader_election_namespace=namespace if elected else "")
    with run(controller, kubeconfig, namespace=namespace, leader_elect=elected, log_dir=tmp_path) as foo:
        for step in STEPS:
            before = uids(admin, namespace)
            step.act(admin, namespace)
            deadline = time.monotonic() + STEP_TIMEOUT
            while True:
                done, seen = reached(admin, namespace, step, before)
                if done:
                    break
                assert foo.running, f"{controller} exited ({foo.returncode}) during {step.name!r}:\n{foo.logs()}"
                assert time.monotonic() < deadline, (
                    f"{controller}, step {step.name!r}: not reached in {STEP_TIMEOUT:.0f} s\n"
                    f"expected {step.expected}\nseen     {seen}\nlog:\n{foo.logs()}")
                time.sleep(0.2)
        # Events are written in the background, behind the client's limiter: wait for them.
        required = {("story", "Normal", "Synced"), ("squatter", "Normal", "Synced"),
                    ("squatter", "Warning", "ErrResourceExists")}
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            written = events(admin, namespace)
            if required <= {(e["object"], e["type"], e["reason"]) for e in written}:
                break
            assert time.monotonic() < deadline, f"{controller}: events {required} not all written: {written}"
            time.sleep(0.5)

    ours = {(e["kind"], e["type"], e["reason"]) for e in written if e["kind"] in ("Foo", "Lease")}
    on_foos = [e for e in written if e["kind"] == "Foo"]
    print(f"\n{controller}: {sorted(ours)}; on Foos {len(on_foos)} Event objects, "
          f"counting {sum(e['count'] for e in on_foos)} occurrences")
    refused = [e for e in on_foos if (e["object"], e["reason"]) == ("squatter", "ErrResourceExists")]
    assert {e["message"] for e in refused} == {'Resource "taken" already exists and is not managed by Foo'}
    assert {e["type"] for e in refused} == {"Warning"}
    assert {e["by"] for e in on_foos} == {AGENTS[controller]}
    assert ours - {("Foo", "Normal", "Synced"), ("Foo", "Warning", "ErrResourceExists")} == FRAMEWORK_EVENTS[controller]
