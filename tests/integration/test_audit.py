"""The API server's audit log on a real lab: every request, in order, and no Secret's data.

These tests start small labs of their own (minimal profile, state in a
temporary directory), so the session's lab keeps its settings.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
import uuid

import pytest
from kubernetes import client

from k8slab.errors import AuditLogOff
from k8slab.lab import Lab
from k8slab.lab.audit import log_files

pytestmark = pytest.mark.lab


def start(path, name: str, audit: bool) -> Lab:
    lab = Lab(name, profile="minimal", state_dir=path / name, progress=None, audit=audit).up()
    lab.stop_with(os.getpid())  # gone with this run, even if it is killed
    return lab


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    lab = start(tmp_path_factory.mktemp("labs"), "audit-on", audit=True)
    yield lab
    lab.down()


def agent_client(lab: Lab) -> tuple[client.ApiClient, str]:
    """An admin client whose requests carry a user agent no one else sends."""
    api = lab.api_client()
    api.user_agent = f"k8slab-audit-test/{uuid.uuid4().hex[:8]}"
    return api, api.user_agent


def logged(lab: Lab, user_agent: str, count: int, **kw):
    """The audit rows of `user_agent`, once there are `count` of them (the log is written as requests end)."""
    deadline = time.monotonic() + 60
    while True:
        rows = lab.audit_log(user_agent=user_agent, **kw)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_a_known_sequence_of_requests_is_logged_in_order_with_verbs_and_codes(audited):
    api, agent = agent_client(audited)
    core = client.CoreV1Api(api)
    ns = "default"
    core.create_namespaced_config_map(ns, {"metadata": {"name": "seq"}, "data": {"k": "1"}})
    core.read_namespaced_config_map("seq", ns)
    core.patch_namespaced_config_map("seq", ns, {"data": {"k": "2"}})
    with pytest.raises(client.ApiException):
        core.read_namespaced_config_map("missing", ns)
    with pytest.raises(client.ApiException):
        core.create_namespaced_config_map(ns, {"metadata": {"name": "seq"}})
    core.list_namespaced_config_map(ns)
    core.delete_namespaced_config_map("seq", ns)

    rows = logged(audited, agent, 7)
    assert list(rows["verb"]) == ["create", "get", "patch", "get", "create", "list", "delete"]
    assert list(rows["code"]) == [201, 200, 200, 404, 409, 200, 200]
    assert list(rows["name"].fillna("")) == ["seq", "seq", "seq", "missing", "seq", "", "seq"]
    assert set(rows["resource"]) == {"configmaps"} and set(rows["namespace"]) == {ns}
    assert set(rows["user"]) == {"admin"} and set(rows["user_agent"]) == {agent}
    assert (rows["latency_ms"] >= 0).all() and rows["received"].is_monotonic_increasing


def test_a_time_window_keeps_the_requests_received_in_it(audited):
    api, agent = agent_client(audited)
    core = client.CoreV1Api(api)
    core.list_namespaced_config_map("default")
    middle = dt.datetime.now(dt.timezone.utc)  # after the first answer came, before the second request left
    core.list_namespace()
    assert len(logged(audited, agent, 2)) == 2
    assert list(audited.audit_log(user_agent=agent, since=middle)["resource"]) == ["namespaces"]
    assert list(audited.audit_log(user_agent=agent, until=middle)["resource"]) == ["configmaps"]


def test_a_secrets_contents_never_reach_the_audit_log(audited):
    api, agent = agent_client(audited)
    core = client.CoreV1Api(api)
    password, token = f"pw-{uuid.uuid4().hex}", f"tok-{uuid.uuid4().hex}"
    name = f"s-{uuid.uuid4().hex[:8]}"
    encoded = base64.b64encode(token.encode()).decode()
    core.create_namespaced_secret("default", {"metadata": {"name": name}, "stringData": {"password": password},
                                              "data": {"token": encoded}})
    assert base64.b64decode(core.read_namespaced_secret(name, "default").data["password"]).decode() == password
    core.patch_namespaced_secret(name, "default", {"stringData": {"password": password + "-2"}})
    core.list_namespaced_secret("default")

    rows = logged(audited, agent, 4)
    assert list(rows["verb"]) == ["create", "get", "patch", "list"]
    text = b"".join(path.read_bytes() for path in log_files(audited.dir / "audit"))
    assert name.encode() in text  # the right file: the Secret's name is there...
    for secret in (password, token, encoded, base64.b64encode(password.encode()).decode()):
        assert secret.encode() not in text  # ...its data is not, in any form


def test_the_audit_log_is_private(audited):
    assert (audited.dir / "audit" / "audit.log").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_a_running_lab_without_audit_is_not_restarted_by_up_but_can_turn_it_on(tmp_path):
    lab = start(tmp_path, "audit-off", audit=False)
    try:
        with pytest.raises(AuditLogOff, match=r"runs without the audit log, and `up` does not restart a running lab"):
            Lab("audit-off", state_dir=lab.dir, progress=None, audit=True).up()
        with pytest.raises(AuditLogOff, match=r"records no audit log"):
            lab.audit_log()
        pid = next(r["pid"] for r in lab.status() if r["component"] == "kube-apiserver")
        lab.enable_audit()
        assert next(r["pid"] for r in lab.status() if r["component"] == "kube-apiserver") != pid
        assert Lab("audit-off", state_dir=lab.dir, progress=None, audit=True).up().layout.audit  # adopted now
        api, agent = agent_client(lab)
        client.CoreV1Api(api).list_namespace()
        assert list(logged(lab, agent, 1)["verb"]) == ["list"]
    finally:
        lab.down()
