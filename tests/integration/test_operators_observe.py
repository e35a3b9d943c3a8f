"""A Foo controller seen from outside: its requests in the audit log, when its Deployments appear.

A minimal lab of its own with the audit log on (the session's lab keeps its
settings): no kube-controller-manager, so Deployments never become
available, but the controller's requests and the Deployments' appearance are
all there is to check here.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from k8slab.lab import Lab
from k8slab.operators import kubeconfig_for, run
from k8slab.operators.observe import Timeline, per_foo, requests
from k8slab.samplecontroller import DictClientset, install_crd, new_foo

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    lab = Lab("observe", profile="minimal", state_dir=tmp_path_factory.mktemp("labs") / "observe", progress=None,
              audit=True).up()
    lab.stop_with(os.getpid())  # gone with this run, even if it is killed
    yield lab
    lab.down()


def until(what, condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.1)
    return value


def test_a_controllers_requests_are_its_users_one_row_each_and_its_deployments_are_timed(audited, tmp_path):
    admin = DictClientset(audited.api_client())
    install_crd(admin)
    admin.core_v1().namespaces().create({"metadata": {"name": "watched"}})
    kubeconfig = kubeconfig_for(audited, admin, "k8slab", namespace="watched")
    timeline = Timeline(audited, "watched").start()
    since = dt.datetime.now()
    try:
        with run("k8slab", kubeconfig, namespace="watched", log_dir=tmp_path, progress=None):
            for name in ("a", "b"):
                timeline.created(name)
                admin.samplecontroller_v1alpha1().foos("watched").create(new_foo(name, "watched", replicas=1))
            until("both Deployments seen", lambda: len(timeline.to_deployment()) == 2)
            def both_logged():
                r = requests(audited, "k8slab", since=since)
                return [r] if len(r[r["what"] == "create deployments"]) == 2 else []

            reqs = until("both creates in the audit log", both_logged)[0]
    finally:
        timeline.stop()
    assert set(reqs["user"]) == {"foo-k8slab"}  # the admin's creates of Foos are not the controller's
    assert list(reqs.loc[reqs["what"] == "create deployments", "code"]) == [201, 201]
    assert reqs["audit_id"].is_unique  # a watch's two stages are one request
    assert (reqs["what"] == "watch foos").sum() == 1  # one request, though the audit log has two events for it
    assert (reqs["what"] == "list foos").sum() == 0  # k8slab's informers stream their initial list (WatchList)
    assert per_foo(reqs, 2)["create deployments"] == 1.0
    assert sorted(timeline.to_deployment()) == ["a", "b"] and all(t >= 0 for t in timeline.to_deployment().values())
    assert timeline.available() == []  # no controller-manager in a minimal lab: no Pods, nothing available
    elsewhere = requests(audited, "k8slab", since=since, namespace="other")
    assert "create deployments" not in set(elsewhere["what"]) and "watch foos" not in set(elsewhere["what"])
